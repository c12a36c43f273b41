package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/yurt-edge/yurt/pkg/localstack"
)

// binFixture makes a bin directory holding the named binaries (empty scripts), with the
// Kubernetes ones under kube/.
func binFixture(t *testing.T, yurt, kube []string) string {
	t.Helper()
	bin := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bin, "kube"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path string) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range yurt {
		write(filepath.Join(bin, b))
	}
	for _, b := range kube {
		write(filepath.Join(bin, "kube", b))
	}
	return bin
}

func TestValidateControllers(t *testing.T) {
	allYurt := []string{"yurt-apiserver", "yurt-manager", "yurthub", "yurt-coordinator"}
	allKube := []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubemark"}
	without := func(list []string, drop string) []string {
		var out []string
		for _, b := range list {
			if b != drop {
				out = append(out, b)
			}
		}
		return out
	}
	tests := []struct {
		name        string
		yurt, kube  []string
		controllers bool
		hubs        bool
		hollow      int
		want        []string
	}{
		{"everything built", allYurt, allKube, true, true, 2, nil},
		{"kubemark missing", allYurt, without(allKube, "kubemark"), true, true, 2, []string{"kubemark is missing"}},
		{"kube-scheduler missing", allYurt, without(allKube, "kube-scheduler"), true, true, 2, []string{"kube-scheduler is missing"}},
		{"yurthub missing", without(allYurt, "yurthub"), allKube, true, true, 2, []string{"yurthub is missing"}},
		{"yurt-coordinator missing", without(allYurt, "yurt-coordinator"), allKube, true, true, 2, []string{"yurt-coordinator is missing"}},
		{"no hubs: yurthub and yurt-coordinator not needed", []string{"yurt-apiserver", "yurt-manager"}, allKube, true, false, 2, nil},
		{"no hollow nodes: kubemark and hubs not needed", []string{"yurt-apiserver", "yurt-manager"}, without(allKube, "kubemark"), true, true, 0, nil},
		{"controllers off", []string{"yurt-apiserver"}, []string{"kube-apiserver"}, false, true, 2, nil},
		{"negative", allYurt, allKube, true, true, -1, []string{"--hollow-nodes must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewUpOptions()
			o.Dir, o.BinDir, o.Apply = t.TempDir(), binFixture(t, tt.yurt, tt.kube), nil
			o.Controllers, o.Hubs, o.HollowNodes = tt.controllers, tt.hubs, tt.hollow
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

func TestValidateApply(t *testing.T) {
	bin := binFixture(t, []string{"yurt-apiserver"}, []string{"kube-apiserver"})
	file := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name  string
		apply []string
		want  []string
	}{
		{"none", nil, nil},
		{"a directory and a file", []string{t.TempDir(), file}, nil},
		{"one missing", []string{file, missing}, []string{"--apply " + missing}},
		{"the repository's defaults, from its root", prefix(filepath.Join("..", "..", ".."), DefaultApply()), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewUpOptions()
			o.Dir, o.BinDir, o.Controllers, o.Apply = t.TempDir(), bin, false, tt.apply
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

func prefix(dir string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Join(dir, p)
	}
	return out
}

func TestWaitNodeLeases(t *testing.T) {
	lease := func(name string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease}}
	}
	tests := []struct {
		name    string
		leases  []*coordinationv1.Lease
		wantErr string
	}{
		{"all there", []*coordinationv1.Lease{lease("n1"), lease("n2")}, ""},
		{"one missing", []*coordinationv1.Lease{lease("n1")}, "[n2] have no Lease"},
		{"in another namespace", []*coordinationv1.Lease{lease("n1"), {ObjectMeta: metav1.ObjectMeta{Name: "n2", Namespace: "default"}}}, "[n2] have no Lease"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset()
			for _, l := range tt.leases {
				if _, err := kube.CoordinationV1().Leases(l.Namespace).Create(context.Background(), l, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			err := waitNodeLeases(context.Background(), kube, []string{"n1", "n2"}, 500*time.Millisecond)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// A Lease that appears while waiting ends the wait.
func TestWaitNodeLeasesLate(t *testing.T) {
	kube := fake.NewClientset()
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(context.Background(),
			&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: corev1.NamespaceNodeLease}}, metav1.CreateOptions{})
	}()
	if err := waitNodeLeases(context.Background(), kube, []string{"n1"}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestPrintControllers checks the demo pool's instructions: each node's path through its hub
// (test/e2e/local reads the health URLs from these lines) and the cut command with the path
// of this yurtctl.
func TestPrintControllers(t *testing.T) {
	link, err := localstack.NewCloudLink("127.0.0.1:0", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	var out bytes.Buffer
	o := NewUpOptions()
	o.Out, o.Dir, o.BinDir, o.managerAddr = &out, "/d", "/b", "127.0.0.1:1"
	o.demoNodes = []demoNode{
		{Name: "pool-a-node-1", Link: link, Hub: &localstack.YurtHub{ProxyURL: "http://127.0.0.1:2", HealthURL: "http://127.0.0.1:3", Dir: "/d/hubs/pool-a-node-1"}},
		{Name: "pool-a-node-2"},
	}
	o.printControllers()
	for _, want := range []string{
		"pool-a-node-1  kubelet -> yurthub http://127.0.0.1:2 (health http://127.0.0.1:3, cache /d/hubs/pool-a-node-1/cache) -> cloud link " + link.Addr() + " -> kube-apiserver",
		"pool-a-node-2  kubelet -> kube-apiserver",
		"curl -s http://127.0.0.1:3/metrics",
		"/b/yurtctl local cut pool-a-node-1 --dir /d",
		"/b/yurtctl local heal pool-a-node-1 --dir /d",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
