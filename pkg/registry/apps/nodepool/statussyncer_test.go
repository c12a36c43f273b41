package nodepool

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/yurt-edge/yurt/pkg/apis/apps"
)

// TestStatusTransformerStartsFromStoredPool checks the transformer the syncer gives
// rest.DefaultUpdatedObjectInfo(nil, ...), which passes a nil new object and the stored one.
func TestStatusTransformerStartsFromStoredPool(t *testing.T) {
	stored := &apps.NodePool{}
	stored.Name = "p"
	stored.Spec.Type = apps.Edge
	info := rest.DefaultUpdatedObjectInfo(nil, statusTransformer(derivedStatus{nodes: []string{"a", "b"}, ready: 1, unready: 1}))
	obj, err := info.UpdatedObject(context.Background(), stored)
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*apps.NodePool)
	if got.Spec.Type != apps.Edge || !slices.Equal(got.Status.Nodes, []string{"a", "b"}) || got.Status.ReadyNodeNum != 1 || got.Status.UnreadyNodeNum != 1 {
		t.Errorf("updated pool %+v", got)
	}
	if len(stored.Status.Nodes) != 0 {
		t.Errorf("the stored pool was modified: %+v", stored.Status)
	}
}
