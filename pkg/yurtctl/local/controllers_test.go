package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateControllers(t *testing.T) {
	bin := t.TempDir()
	kube := filepath.Join(bin, "kube")
	if err := os.MkdirAll(kube, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(kube, "kube-apiserver"), filepath.Join(bin, "yurt-apiserver"), filepath.Join(kube, "kube-controller-manager"), filepath.Join(bin, "yurt-manager")} {
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name        string
		controllers bool
		hollow      int
		want        []string
	}{
		{"kubemark missing", true, 2, []string{"kubemark is missing"}},
		{"no hollow nodes: kubemark not needed", true, 0, nil},
		{"controllers off", false, 2, nil},
		{"negative", true, -1, []string{"--hollow-nodes must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewUpOptions()
			o.Dir, o.BinDir, o.Controllers, o.HollowNodes = t.TempDir(), bin, tt.controllers, tt.hollow
			if err := o.Complete(); err != nil {
				t.Fatal(err)
			}
			errs := o.Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %q", errs, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %q does not contain %q", errs[i], w)
				}
			}
		})
	}
}
