package responsefilter

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

func TestDropManagedFields(t *testing.T) {
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "spec": map[string]any{"clusterIP": "10.0.0.1"}}}
	svc.SetName("web")
	svc.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate}})
	tombstone := cache.DeletedFinalStateUnknown{Key: "default/web"}
	for _, tc := range []struct {
		name string
		in   any
	}{
		{"service", svc},
		{"tombstone passes through", tombstone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := dropManagedFields(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if u, ok := out.(*unstructured.Unstructured); ok {
				if u.GetManagedFields() != nil || u.GetName() != "web" || u.Object["spec"] == nil {
					t.Errorf("transformed: %v", u.Object)
				}
				return
			}
			if out != tc.in {
				t.Errorf("got %v, want the input unchanged", out)
			}
		})
	}
}
