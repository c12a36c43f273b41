package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeManifests(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    []string // kind/name
		wantErr string
	}{
		{"one", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", []string{"ConfigMap/a"}, ""},
		{"several with comments and empty documents",
			"# header\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b, namespace: x}\n",
			[]string{"ConfigMap/a", "Secret/b"}, ""},
		{"json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}`, []string{"ConfigMap/j"}, ""},
		{"empty file", "", nil, ""},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", nil, "f.yaml#0: an object needs apiVersion, kind and metadata.name"},
		{"no name, second document", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\n", nil, "f.yaml#1"},
		{"broken yaml", "apiVersion: v1\nkind: [\n", nil, "f.yaml#0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeManifests("f.yaml", []byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range got {
				names = append(names, m.Object.GetKind()+"/"+m.Object.GetName())
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Errorf("objects = %v, want %v", names, tt.want)
			}
		})
	}
}

// TestReadBuiltInFilters reads the manifests `make local-up` applies: every built-in filter
// of the design is there, as one ResponseFilter each.
func TestReadBuiltInFilters(t *testing.T) {
	objs, err := readManifests(filepath.Join("..", "..", "..", "artifacts", "filters"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range objs {
		if m.Object.GetKind() != "ResponseFilter" || m.Object.GetAPIVersion() != "apps.openyurt.io/v1alpha1" {
			t.Errorf("%s: %s %s, want only apps.openyurt.io/v1alpha1 ResponseFilters", m.Source, m.Object.GetAPIVersion(), m.Object.GetKind())
		}
		got[m.Object.GetName()] = true
	}
	for _, name := range []string{"servicetopology", "nodeportisolation", "masterservice", "discardcloudservice", "inclusterconfig", "forwardkubesvctraffic"} {
		if !got[name] {
			t.Errorf("built-in filter %s is missing from artifacts/filters", name)
		}
	}
}

func TestReadManifestsFile(t *testing.T) {
	objs, err := readManifests(filepath.Join("..", "..", "..", "artifacts", "deploy", "21-yurthub-rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Errorf("read %d objects from the hub RBAC, want 3", len(objs))
	}
}

func TestReadManifestsEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a manifest"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readManifests(dir); err == nil || !strings.Contains(err.Error(), "no *.yaml manifests") {
		t.Errorf("err = %v, want one saying there are no manifests", err)
	}
}
