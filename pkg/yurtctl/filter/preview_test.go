package filter

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func builtin(name string) string {
	return filepath.Join("..", "..", "..", "artifacts", "filters", name+".yaml")
}

func preview(t *testing.T, o *PreviewOptions) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o.Out, o.ErrOut = &out, &errOut
	if err := o.Complete(); err != nil {
		return "", "", err
	}
	if errs := o.Validate(); len(errs) > 0 {
		t.Fatalf("options: %v", errs)
	}
	err = o.Run(context.Background())
	return out.String(), errOut.String(), err
}

func TestPreviewServiceTopology(t *testing.T) {
	o := NewPreviewOptions()
	o.Filters = []string{builtin("servicetopology")}
	o.Object = "testdata/slice.yaml"
	o.Services = "testdata/services.yaml"
	o.Node = "edge-1"
	o.NodeLabels = map[string]string{"apps.openyurt.io/nodepool": "hangzhou"}
	o.NodePools = map[string]string{"edge-2": "hangzhou", "edge-3": "beijing"}
	o.UserAgent = "kube-proxy"
	stdout, stderr, err := preview(t, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var got map[string]any
	if err := yaml.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, stdout)
	}
	eps := got["endpoints"].([]any)
	var nodes []string
	for _, e := range eps {
		nodes = append(nodes, e.(map[string]any)["nodeName"].(string))
	}
	if strings.Join(nodes, ",") != "edge-1,edge-2" {
		t.Fatalf("endpoints on %v, want edge-1 and edge-2 (the hangzhou pool):\n%s", nodes, stdout)
	}
	if got["metadata"].(map[string]any)["name"] != "web-abcde" {
		t.Fatalf("output:\n%s", stdout)
	}

	// The default user agent is the filter's first; a component it does not match gets the
	// object unchanged, with a note.
	o2 := *o
	o2.UserAgent = "kubelet"
	stdout, stderr, err = preview(t, &o2)
	if err != nil || !strings.Contains(stderr, "no filter matches") || strings.Count(stdout, "nodeName") != 3 {
		t.Fatalf("kubelet: err %v\nstderr %s\nstdout %s", err, stderr, stdout)
	}
}

func TestPreviewDirectoryOnAList(t *testing.T) {
	o := NewPreviewOptions()
	o.Filters = []string{filepath.Join("..", "..", "..", "artifacts", "filters")}
	o.Object = "testdata/servicelist.yaml"
	o.Node = "edge-1"
	o.Pool = "hangzhou"
	o.UserAgent = "kube-proxy"
	o.Verb = "watch"
	o.Output = "json"
	stdout, stderr, err := preview(t, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"Service shop/public: dropped by filter nodeportisolation", "Service shop/cloud-lb: dropped by filter discardcloudservice"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, `"name": "plain"`) || strings.Contains(stdout, `"public"`) || strings.Contains(stdout, "cloud-lb") || !strings.Contains(stdout, `"kind": "List"`) {
		t.Fatalf("stdout:\n%s", stdout)
	}
	// In another pool the NodePort service is kept.
	o.Pool = "beijing"
	stdout, _, err = preview(t, o)
	if err != nil || !strings.Contains(stdout, `"public"`) {
		t.Fatalf("beijing: %v\n%s", err, stdout)
	}
}

func TestPreviewErrors(t *testing.T) {
	cases := []struct {
		name    string
		filters []string
		object  string
		want    string
	}{
		{"filter that does not compile", []string{"testdata/badcel.yaml"}, "testdata/servicelist.yaml", "testdata/badcel.yaml: ResponseFilter badcel does not compile: spec.keep"},
		{"runtime error under Fail", []string{"testdata/failing.yaml"}, "testdata/servicelist.yaml", "failurePolicy Fail"},
		{"missing filter file", []string{"testdata/nope.yaml"}, "testdata/servicelist.yaml", "testdata/nope.yaml"},
		{"a file that is not a filter", []string{"testdata/slice.yaml"}, "testdata/servicelist.yaml", "not a apps.openyurt.io/v1alpha1 ResponseFilter"},
		{"missing object", []string{builtin("masterservice")}, "testdata/none.yaml", "testdata/none.yaml"},
		{"name without a cluster", []string{"servicetopology"}, "testdata/slice.yaml", "servicetopology"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewPreviewOptions()
			o.Filters = tc.filters
			o.Object = tc.object
			o.Node = "edge-1"
			o.UserAgent = "kube-proxy"
			o.Kubeconfig = filepath.Join(t.TempDir(), "missing-kubeconfig")
			_, _, err := preview(t, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	o := NewPreviewOptions()
	o.Verb = "delete"
	o.Output = "table"
	if errs := o.Validate(); len(errs) != 5 {
		t.Fatalf("Validate = %v, want errors for --filter, --object, --node, --verb, --output", errs)
	}
}
