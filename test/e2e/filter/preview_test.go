package filter

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestPreviewNamedFilter runs the real yurtctl binary's `filter preview` with a filter named
// in the cluster (a custom one created with kubectl) and one from a file.
func TestPreviewNamedFilter(t *testing.T) {
	yurtctl := framework.RepoPath(t, "bin", "yurtctl")
	manifest := filterManifest("hide-edge-hidden", `  priority: 200
  keep: "!('edge.example.com/hidden' in object.metadata.?labels.orValue({}))"
`)
	if out, err := framework.KubectlStdin(t, manifest, "create", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = framework.Kubectl(t, "delete", "rf", "hide-edge-hidden", "--ignore-not-found") })

	list := `apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Service, metadata: {name: shown, namespace: ns}, spec: {type: ClusterIP}}
- {apiVersion: v1, kind: Service, metadata: {name: hidden, namespace: ns, labels: {edge.example.com/hidden: "yes"}}, spec: {type: ClusterIP}}
- apiVersion: v1
  kind: Service
  metadata: {name: lb, namespace: ns, annotations: {svc.openyurt.io/discard: "true"}}
  spec: {type: LoadBalancer}
`
	cmd := exec.CommandContext(context.Background(), yurtctl, "filter", "preview",
		"--kubeconfig", framework.Stack(t).AdminKubeconfig,
		"--filter", "hide-edge-hidden",
		"--filter", framework.RepoPath(t, "artifacts", "filters", "discardcloudservice.yaml"),
		"--object", "-", "--node", "edge-1", "--user-agent", "kube-proxy/v1.36.3")
	cmd.Stdin = strings.NewReader(list)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("yurtctl filter preview: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "name: shown") || strings.Contains(stdout.String(), "name: hidden") || strings.Contains(stdout.String(), "name: lb") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	for _, want := range []string{"ns/hidden: dropped by filter hide-edge-hidden", "ns/lb: dropped by filter discardcloudservice"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	// A name the cluster does not have is a clear error.
	out, err := exec.Command(yurtctl, "filter", "preview", "--kubeconfig", framework.Stack(t).AdminKubeconfig,
		"--filter", "no-such-filter", "--object", framework.RepoPath(t, "artifacts", "filters", "masterservice.yaml"), "--node", "n").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no-such-filter") || !strings.Contains(string(out), "not found") {
		t.Errorf("missing filter: %v\n%s", err, out)
	}
}
