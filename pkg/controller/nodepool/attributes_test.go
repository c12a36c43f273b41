package nodepool

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
)

func taint(key, value string, effect corev1.TaintEffect) corev1.Taint {
	return corev1.Taint{Key: key, Value: value, Effect: effect}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name          string
		node          corev1.Node
		prev, desired Attributes
		wantLabels    map[string]string
		wantAnnots    map[string]string // without previous-attributes
		wantTaints    []corev1.Taint
		wantPrev      string // previous-attributes after apply; "" = absent
		wantConflicts int
		wantEmpty     bool
	}{
		{
			name:       "join: everything added",
			node:       corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"own": "x"}}},
			desired:    Attributes{Labels: map[string]string{"a": "1"}, Annotations: map[string]string{"n": "v"}, Taints: []corev1.Taint{taint("t", "v", corev1.TaintEffectNoSchedule)}},
			wantLabels: map[string]string{"own": "x", "a": "1"},
			wantAnnots: map[string]string{"n": "v"},
			wantTaints: []corev1.Taint{taint("t", "v", corev1.TaintEffectNoSchedule)},
			wantPrev:   `{"labels":{"a":"1"},"annotations":{"n":"v"},"taints":[{"key":"t","value":"v","effect":"NoSchedule"}]}`,
		},
		{
			name: "keys that left the pool are removed, others kept",
			node: corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"own": "x", "a": "1", "b": "2"}, Annotations: map[string]string{"n": "v"}},
				Spec:       corev1.NodeSpec{Taints: []corev1.Taint{taint("t", "v", corev1.TaintEffectNoSchedule), taint("mine", "", corev1.TaintEffectNoExecute)}},
			},
			prev:       Attributes{Labels: map[string]string{"a": "1", "b": "2"}, Annotations: map[string]string{"n": "v"}, Taints: []corev1.Taint{taint("t", "v", corev1.TaintEffectNoSchedule)}},
			desired:    Attributes{Labels: map[string]string{"b": "3"}},
			wantLabels: map[string]string{"own": "x", "b": "3"},
			wantAnnots: nil,
			wantTaints: []corev1.Taint{taint("mine", "", corev1.TaintEffectNoExecute)},
			wantPrev:   `{"labels":{"b":"3"}}`,
		},
		{
			name:       "leave: all removed, annotation gone",
			node:       corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "1"}}},
			prev:       Attributes{Labels: map[string]string{"a": "1"}},
			wantLabels: nil,
		},
		{
			name:          "conflicting taint is not overwritten nor recorded",
			node:          corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{taint("t", "admin", corev1.TaintEffectNoSchedule)}}},
			desired:       Attributes{Taints: []corev1.Taint{taint("t", "pool", corev1.TaintEffectNoSchedule), taint("t", "pool", corev1.TaintEffectNoExecute)}},
			wantTaints:    []corev1.Taint{taint("t", "admin", corev1.TaintEffectNoSchedule), taint("t", "pool", corev1.TaintEffectNoExecute)},
			wantPrev:      `{"taints":[{"key":"t","value":"pool","effect":"NoExecute"}]}`,
			wantConflicts: 1,
		},
		{
			name:       "a taint the pool owns changes value",
			node:       corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{taint("t", "old", corev1.TaintEffectNoSchedule)}}},
			prev:       Attributes{Taints: []corev1.Taint{taint("t", "old", corev1.TaintEffectNoSchedule)}},
			desired:    Attributes{Taints: []corev1.Taint{taint("t", "new", corev1.TaintEffectNoSchedule)}},
			wantTaints: []corev1.Taint{taint("t", "new", corev1.TaintEffectNoSchedule)},
			wantPrev:   `{"taints":[{"key":"t","value":"new","effect":"NoSchedule"}]}`,
		},
		{
			name:       "already applied: no change",
			node:       corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "1"}}},
			prev:       Attributes{Labels: map[string]string{"a": "1"}},
			desired:    Attributes{Labels: map[string]string{"a": "1"}},
			wantLabels: map[string]string{"a": "1"},
			wantPrev:   `{"labels":{"a":"1"}}`,
			wantEmpty:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.node.DeepCopy()
			ch := apply(n, tt.prev, tt.desired)
			if len(ch.Conflicts) != tt.wantConflicts {
				t.Errorf("conflicts = %+v, want %d", ch.Conflicts, tt.wantConflicts)
			}
			if ch.empty() != tt.wantEmpty {
				t.Errorf("change %+v empty = %v, want %v", ch, ch.empty(), tt.wantEmpty)
			}
			if !reflect.DeepEqual(n.Labels, tt.wantLabels) {
				t.Errorf("labels = %v, want %v", n.Labels, tt.wantLabels)
			}
			annots := map[string]string{}
			for k, v := range n.Annotations {
				if k != apps.PreviousAttributesAnnotation {
					annots[k] = v
				}
			}
			if len(annots) == 0 {
				annots = nil
			}
			if !reflect.DeepEqual(annots, tt.wantAnnots) {
				t.Errorf("annotations = %v, want %v", annots, tt.wantAnnots)
			}
			if !reflect.DeepEqual(n.Spec.Taints, tt.wantTaints) {
				t.Errorf("taints = %v, want %v", n.Spec.Taints, tt.wantTaints)
			}
			if got := n.Annotations[apps.PreviousAttributesAnnotation]; got != tt.wantPrev {
				t.Errorf("previous attributes = %s, want %s", got, tt.wantPrev)
			}
		})
	}
}

func TestDesiredAttributesHostNetwork(t *testing.T) {
	pool := &appsv1beta2.NodePool{Spec: appsv1beta2.NodePoolSpec{HostNetwork: true, Labels: map[string]string{"a": "1"}}}
	got := desiredAttributes(pool)
	if got.Labels[apps.NodePoolHostNetworkLabel] != "true" || got.Labels["a"] != "1" {
		t.Errorf("labels = %v", got.Labels)
	}
	if pool.Spec.Labels[apps.NodePoolHostNetworkLabel] != "" {
		t.Error("desiredAttributes changed the pool's spec")
	}
	if !desiredAttributes(nil).empty() {
		t.Error("no pool should mean no attributes")
	}
}

func TestPreviousAttributesMalformed(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{apps.PreviousAttributesAnnotation: "{not json"}}}
	if _, err := previousAttributes(n); err == nil {
		t.Fatal("no error for a malformed annotation")
	}
}

// FuzzPreviousAttributes: any annotation value either parses or gives an error, and apply
// never panics on what parses.
func FuzzPreviousAttributes(f *testing.F) {
	f.Add(`{"labels":{"a":"1"},"taints":[{"key":"t","effect":"NoSchedule"}]}`)
	f.Add(`{}`)
	f.Add(`{"taints":null}`)
	f.Fuzz(func(t *testing.T, raw string) {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: map[string]string{apps.PreviousAttributesAnnotation: raw}}}
		prev, err := previousAttributes(n)
		if err != nil {
			return
		}
		apply(n, prev, Attributes{Labels: map[string]string{"x": "y"}})
		if n.Labels["x"] != "y" {
			t.Fatalf("desired label not applied after previous %q", raw)
		}
	})
}
