// Package apiserver_test benchmarks yurt-apiserver's NodePools against the same schema served
// by a CustomResourceDefinition (crd.openyurt.io, test/conformance/testdata/nodepool-crd.yaml)
// on the same real kube-apiserver (a local stack: embedded etcd, bin/kube/kube-apiserver,
// bin/yurt-apiserver behind its APIService). With 2,000 NodePools on each side it measures
// list as JSON, as protobuf (ours only: CRDs cannot serve protobuf), as a Table, the wall time
// of `kubectl get`, and a watch fan-out (200 watchers, 1,000 updates: the time until every
// watcher has seen every update). The report, with the ratios ours/CRD, goes to
// _output/bench/apiserver.md.
//
// TestMain starts the stack only when benchmarks were asked for (-test.bench), so
// `go test ./...` stays fast here.
package apiserver_test

import (
	"flag"
	"os"
	"testing"

	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	framework.Main(m)
}
