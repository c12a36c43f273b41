package coordinator

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestSnapshotSaveRestore saves a snapshot of an mTLS member with the CLI, restores it into a
// new data directory and starts a new member from it: every key is there.
func TestSnapshotSaveRestore(t *testing.T) {
	p := newPKI(t, "pool-a")
	ms := newMembers(t, 1, p)
	m := ms[0]
	m.start(t)
	m.waitReady(t, 60*time.Second)
	hc, hk := p.hubFiles(t, "backup")
	cli := client(t, []string{m.client}, p.caFile(), hc, hk)
	for i := 0; i < 100; i++ {
		if _, err := cli.Put(context.Background(), fmt.Sprintf("/snap/%03d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "pool-a.db")
	out, err := exec.Command(binary(t), "snapshot", "save", "--endpoints="+m.client, "--out="+file,
		"--cert-file="+hc, "--key-file="+hk, "--trusted-ca-file="+p.caFile()).CombinedOutput()
	if err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	m.kill()

	restored := newMembers(t, 1, p)[0]
	restored.name = m.name
	out, err = exec.Command(binary(t), "snapshot", "restore", file, "--data-dir="+restored.dataDir, "--name=m0",
		"--initial-cluster=m0="+restored.peer, "--initial-advertise-peer-urls="+restored.peer,
		"--initial-cluster-token=yurt-coordinator-pool-a").CombinedOutput()
	if err != nil {
		t.Fatalf("snapshot restore: %v\n%s", err, out)
	}
	restored.start(t)
	restored.waitReady(t, 60*time.Second)
	rc := client(t, []string{restored.client}, p.caFile(), hc, hk)
	r, err := rc.Get(context.Background(), "/snap/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || r.Count != 100 {
		t.Fatalf("restored member has %v keys (err %v), want 100", r, err)
	}

	// Restoring into an existing data dir is refused with a clear error.
	out, err = exec.Command(binary(t), "snapshot", "restore", file, "--data-dir="+restored.dataDir, "--name=m0",
		"--initial-advertise-peer-urls="+restored.peer).CombinedOutput()
	if err == nil || !strings.Contains(string(out), restored.dataDir) {
		t.Fatalf("restore over an existing data dir: err %v\n%s", err, out)
	}
}
