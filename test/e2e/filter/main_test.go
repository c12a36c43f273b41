// Package filter tests the ResponseFilter API against the real kube-apiserver and
// yurt-apiserver: the built-in filters in artifacts/filters pass a server-side dry run and can
// be created, yurt-apiserver compiles every expression and rejects bad ones with 422 Invalid
// naming the field and the CEL error, and the status it sets follows the spec's generation.
// Running filters on proxied responses is the hub's and is tested under test/e2e/hub.
package filter

import (
	"testing"

	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }
