package local

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yurt-edge/yurt/pkg/localstack"
)

func TestCutValidate(t *testing.T) {
	tests := []struct {
		node    string
		timeout time.Duration
		want    string
	}{
		{"pool-a-node-1", time.Second, ""},
		{"", time.Second, "name the node"},
		{"../x", time.Second, "not a node name"},
		{".hidden", time.Second, "not a node name"},
		{"n", 0, "--timeout must be positive"},
	}
	for _, tt := range tests {
		o := NewCutOptions(false)
		o.Node, o.Timeout = tt.node, tt.timeout
		errs := o.Validate()
		if tt.want == "" {
			if len(errs) > 0 {
				t.Errorf("%q: Validate() = %v", tt.node, errs)
			}
			continue
		}
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
			t.Errorf("%q: Validate() = %v, want one error containing %q", tt.node, errs, tt.want)
		}
	}
}

func TestCutWithNothingRunning(t *testing.T) {
	o := NewCutOptions(false)
	o.Dir, o.Node, o.Out = t.TempDir(), "pool-a-node-1", &bytes.Buffer{}
	err := o.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no local control plane is running") {
		t.Fatalf("Run() = %v, want an error saying nothing runs", err)
	}
	if _, statErr := os.Stat(filepath.Join(o.Dir, linksDirName, o.Node+linkCutFile)); !os.IsNotExist(statErr) {
		t.Errorf("a cut request was left behind with nothing running: %v", statErr)
	}
}

// TestLinkWatcher drives real links through the files `yurtctl local cut/heal` write.
func TestLinkWatcher(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	links := map[string]*localstack.CloudLink{}
	for _, n := range []string{"n1", "n2"} {
		l, err := localstack.NewCloudLink("127.0.0.1:0", target.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		links[n] = l
	}
	stackDir := t.TempDir()
	// A cut request and a state left by an earlier run are forgotten.
	old := filepath.Join(stackDir, linksDirName)
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"n1" + linkCutFile, "gone" + linkStateFile} {
		if err := os.WriteFile(filepath.Join(old, f), []byte(stateCut), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w, err := newLinkWatcher(stackDir, links)
	if err != nil {
		t.Fatal(err)
	}
	state := func(node string) string {
		b, err := os.ReadFile(filepath.Join(w.dir, node+linkStateFile))
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(string(b))
	}
	if got := linkedNodes(w.dir); strings.Join(got, ",") != "n1,n2" {
		t.Errorf("linked nodes = %v, want [n1 n2]", got)
	}
	ctx := context.Background()
	w.sync(ctx)
	if links["n1"].IsCut() || state("n1") != stateConnected {
		t.Fatalf("n1 is cut by an earlier run's request (state %q)", state("n1"))
	}

	if err := os.WriteFile(filepath.Join(w.dir, "n1"+linkCutFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w.sync(ctx)
	if !links["n1"].IsCut() || state("n1") != stateCut {
		t.Errorf("after the cut request: n1 cut %v, state %q", links["n1"].IsCut(), state("n1"))
	}
	if links["n2"].IsCut() || state("n2") != stateConnected {
		t.Errorf("n2 was cut too: cut %v, state %q", links["n2"].IsCut(), state("n2"))
	}

	if err := os.Remove(filepath.Join(w.dir, "n1"+linkCutFile)); err != nil {
		t.Fatal(err)
	}
	w.sync(ctx)
	if links["n1"].IsCut() || state("n1") != stateConnected {
		t.Errorf("after the heal: n1 cut %v, state %q", links["n1"].IsCut(), state("n1"))
	}
}
