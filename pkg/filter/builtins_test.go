package filter

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestBuiltinsCompile: every file in artifacts/filters is one ResponseFilter named after the
// file, and compiles with the environment for new expressions.
func TestBuiltinsCompile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "artifacts", "filters", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"discardcloudservice", "forwardkubesvctraffic", "inclusterconfig", "masterservice", "nodeportisolation", "servicetopology"}
	var got []string
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		got = append(got, name)
		rf := loadArtifact(t, name)
		if rf.Name != name || rf.Kind != "ResponseFilter" || rf.APIVersion != "apps.openyurt.io/v1alpha1" {
			t.Errorf("%s: %s %s named %q, want a apps.openyurt.io/v1alpha1 ResponseFilter named %q", file, rf.APIVersion, rf.Kind, rf.Name, name)
		}
		if rf.Spec.FailurePolicy == nil {
			t.Errorf("%s: failurePolicy is not set", file)
		}
		compileArtifact(t, name, fakeLookup{})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("artifacts/filters holds %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "artifacts", "filters")); err != nil {
		t.Fatal(err)
	}
}

func TestBuiltinsDependencies(t *testing.T) {
	for name, want := range map[string][2]bool{
		"servicetopology":       {true, true},
		"nodeportisolation":     {false, false},
		"masterservice":         {false, false},
		"discardcloudservice":   {false, false},
		"inclusterconfig":       {false, false},
		"forwardkubesvctraffic": {false, false},
	} {
		f := compileArtifact(t, name, fakeLookup{})
		if got := [2]bool{f.UsesService(), f.UsesNodePool()}; got != want {
			t.Errorf("%s: UsesService, UsesNodePool = %v, want %v", name, got, want)
		}
	}
}
