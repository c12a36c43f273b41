package apiserver

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestArtifactsDryRun applies every manifest under artifacts/, subdirectories included
// (artifacts/deploy/yurthub, artifacts/deploy/yurt-coordinator), with a server-side dry run
// against the real kube-apiserver (and, through the APIServices, yurt-apiserver), so the
// deploy manifests, RBAC, APIServices, examples and built-in filters all pass the servers'
// validation and admission.
func TestArtifactsDryRun(t *testing.T) {
	t.Parallel()
	root := framework.RepoPath(t, "artifacts")
	// The namespace must exist for the namespaced objects' dry run to get past admission;
	// creating it is harmless in the shared test cluster.
	kubectlOK(t, "apply", "-f", filepath.Join(root, "deploy", "00-namespace.yaml"))
	// Pods (the yurthub static-pod example) are admitted only with their ServiceAccount
	// present; the test cluster runs no controller that makes kube-system/default.
	if out, err := framework.KubectlStdin(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: kube-system}\n", "apply", "-f", "-"); err != nil {
		t.Fatalf("creating kube-system/default: %v: %s", err, out)
	}

	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == root {
			return err
		}
		rel, err := filepath.Rel(root, path)
		dirs = append(dirs, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deploy", filepath.Join("deploy", "yurthub"), filepath.Join("deploy", "yurt-coordinator"), "filters"} {
		if !slices.Contains(dirs, want) {
			t.Errorf("artifacts/%s is missing", want)
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no manifest directories under %s", root)
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Fatalf("no manifests in %s", filepath.Join(root, dir))
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for i, doc := range yamlDocuments(string(b)) {
					dryRun(t, fmt.Sprintf("%s#%d", f, i), doc)
				}
			}
		})
	}
}

// dryRun submits one object with a server-side dry run: a create, or, for an object the test
// cluster already has (the local stack's APIServices and Service), a full replace, so every
// object is validated and admitted as a whole rather than merged with what is there.
func dryRun(t *testing.T, what, doc string) {
	t.Helper()
	out, err := framework.KubectlStdin(t, doc, "create", "--dry-run=server", "--validate=strict", "-f", "-")
	if err != nil && strings.Contains(err.Error(), "AlreadyExists") {
		out, err = framework.KubectlStdin(t, doc, "replace", "--dry-run=server", "--validate=strict", "-f", "-")
	}
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !strings.Contains(out, "(server dry run)") {
		t.Errorf("%s: kubectl did not report a server dry run: %s", what, out)
	}
}

// yamlDocuments splits a multi-document YAML file into its non-empty documents.
func yamlDocuments(s string) []string {
	var docs []string
	for _, doc := range strings.Split("\n"+s, "\n---") {
		for _, line := range strings.Split(doc, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				docs = append(docs, doc)
				break
			}
		}
	}
	return docs
}
