// Package externaletcd checks that yurt-apiserver given --etcd-servers stores its objects in
// that etcd cluster instead of its embedded one, through the same storage code path.
package externaletcd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// yurt-apiserver starts in the test, once the stack's etcd endpoints are known.
func TestMain(m *testing.M) {
	framework.Main(m, func(o *localstack.Options) { o.SkipYurtAPIServer = true })
}

func TestExternalEtcd(t *testing.T) {
	s := framework.Stack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.SetYurtAPIServerArgs("--etcd-servers=" + strings.Join(s.EtcdEndpoints, ","))
	if err := s.StartYurtAPIServer(ctx); err != nil {
		t.Fatalf("starting yurt-apiserver on the external etcd: %v", err)
	}
	t.Cleanup(func() { _ = s.StopYurtAPIServer() })

	out, err := framework.KubectlStdin(t, "apiVersion: apps.openyurt.io/v1beta2\nkind: NodePool\nmetadata: {name: ext-pool}\nspec: {type: Edge}\n", "create", "-f", "-")
	if err != nil {
		t.Fatalf("create a pool: %v: %s", err, out)
	}

	// The pool is in the external etcd, under yurt-apiserver's prefix.
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.EtcdEndpoints, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "/registry/openyurt.io/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatalf("reading the external etcd: %v", err)
	}
	var found bool
	for _, kv := range resp.Kvs {
		if strings.HasSuffix(string(kv.Key), "/nodepools/ext-pool") {
			found = true
		}
	}
	if !found {
		t.Errorf("no key for NodePool ext-pool under /registry/openyurt.io/ in the external etcd (%d keys)", len(resp.Kvs))
	}
	// And no embedded etcd was started: its data directory has no etcd.
	if _, err := os.Stat(filepath.Join(s.Dir, "yurt-apiserver", "data", "etcd")); !os.IsNotExist(err) {
		t.Errorf("an embedded etcd member exists although --etcd-servers was given: %v", err)
	}

	// The pool survives a restart of the server.
	if err := s.StopYurtAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartYurtAPIServer(ctx); err != nil {
		t.Fatalf("restarting yurt-apiserver: %v", err)
	}
	if out, err := framework.Kubectl(t, "get", "np", "ext-pool", "-o", "jsonpath={.spec.type}"); err != nil || out != "Edge" {
		t.Errorf("after a restart, kubectl get np ext-pool: %q, %v", out, err)
	}
}
