package nodepool

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
)

// Attributes are what a pool puts on its nodes. Stored as JSON in the node annotation
// nodepool.openyurt.io/previous-attributes, in OpenYurt's format, so keys the pool drops
// later are removed from the node.
type Attributes struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Taints      []corev1.Taint    `json:"taints,omitempty"`
}

func (a Attributes) empty() bool {
	return len(a.Labels) == 0 && len(a.Annotations) == 0 && len(a.Taints) == 0
}

// desiredAttributes are the attributes pool asks for; nil pool means none. A hostNetwork
// pool also labels its nodes nodepool.openyurt.io/hostnetwork=true (validation keeps that key
// out of spec.labels, so the two never disagree).
func desiredAttributes(pool *appsv1beta2.NodePool) Attributes {
	if pool == nil {
		return Attributes{}
	}
	a := Attributes{
		Labels:      maps.Clone(pool.Spec.Labels),
		Annotations: maps.Clone(pool.Spec.Annotations),
		Taints:      slices.Clone(pool.Spec.Taints),
	}
	if pool.Spec.HostNetwork {
		if a.Labels == nil {
			a.Labels = map[string]string{}
		}
		a.Labels[apps.NodePoolHostNetworkLabel] = "true"
	}
	return a
}

// previousAttributes reads what was applied last; a malformed annotation is reported and
// treated as nothing applied (keys it named then stay on the node).
func previousAttributes(node *corev1.Node) (Attributes, error) {
	raw, ok := node.Annotations[apps.PreviousAttributesAnnotation]
	if !ok || raw == "" {
		return Attributes{}, nil
	}
	var a Attributes
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return Attributes{}, fmt.Errorf("annotation %s of node %s is not valid JSON: %w", apps.PreviousAttributesAnnotation, node.Name, err)
	}
	return a, nil
}

// TaintConflict is a pool taint not applied because the node already has a taint with the
// same key and effect but another value, which the pool did not put there.
type TaintConflict struct {
	Wanted, Existing corev1.Taint
}

// Change describes what apply did, for events and logs.
type Change struct {
	SetLabels, RemovedLabels           []string
	SetAnnotations, RemovedAnnotations []string
	AddedTaints, RemovedTaints         []string
	Conflicts                          []TaintConflict
}

func (c Change) empty() bool {
	return len(c.SetLabels)+len(c.RemovedLabels)+len(c.SetAnnotations)+len(c.RemovedAnnotations)+len(c.AddedTaints)+len(c.RemovedTaints) == 0
}

// apply changes node (a copy owned by the caller) from prev to desired: keys that left the
// pool are removed, the pool's keys are set (overwriting, as OpenYurt does), taints are
// matched by key and effect. A taint clashing with one the pool does not own is left alone
// and reported. The previous-attributes annotation is set to what was really applied.
func apply(node *corev1.Node, prev, desired Attributes) Change {
	var ch Change
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	if node.Annotations == nil {
		node.Annotations = map[string]string{}
	}
	ch.RemovedLabels, ch.SetLabels = applyMap(node.Labels, prev.Labels, desired.Labels)
	ch.RemovedAnnotations, ch.SetAnnotations = applyMap(node.Annotations, prev.Annotations, desired.Annotations)

	applied := desired
	applied.Taints = nil
	owned := func(t corev1.Taint) bool { return slices.ContainsFunc(prev.Taints, sameTaint(t)) }
	// Drop taints the pool owned and no longer wants.
	node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, func(t corev1.Taint) bool {
		if owned(t) && !slices.ContainsFunc(desired.Taints, sameTaint(t)) {
			ch.RemovedTaints = append(ch.RemovedTaints, taintString(t))
			return true
		}
		return false
	})
	for _, want := range desired.Taints {
		i := slices.IndexFunc(node.Spec.Taints, sameTaint(want))
		switch {
		case i < 0:
			node.Spec.Taints = append(node.Spec.Taints, want)
			ch.AddedTaints = append(ch.AddedTaints, taintString(want))
		case node.Spec.Taints[i].Value == want.Value:
			// Already there (ours or identical); nothing to do.
		case owned(node.Spec.Taints[i]):
			node.Spec.Taints[i].Value = want.Value
			ch.AddedTaints = append(ch.AddedTaints, taintString(want))
		default:
			ch.Conflicts = append(ch.Conflicts, TaintConflict{Wanted: want, Existing: node.Spec.Taints[i]})
			continue
		}
		applied.Taints = append(applied.Taints, want)
	}
	if len(node.Spec.Taints) == 0 {
		node.Spec.Taints = nil
	}

	if applied.empty() {
		delete(node.Annotations, apps.PreviousAttributesAnnotation)
	} else {
		// Marshalling maps and taints cannot fail.
		data, _ := json.Marshal(applied)
		node.Annotations[apps.PreviousAttributesAnnotation] = string(data)
	}
	if len(node.Annotations) == 0 {
		node.Annotations = nil
	}
	if len(node.Labels) == 0 {
		node.Labels = nil
	}
	return ch
}

// applyMap removes from m the keys of prev not in desired and sets desired's; it returns the
// removed and set (changed) keys, sorted.
func applyMap(m, prev, desired map[string]string) (removed, set []string) {
	for k := range prev {
		if _, keep := desired[k]; keep {
			continue
		}
		if _, ok := m[k]; ok {
			delete(m, k)
			removed = append(removed, k)
		}
	}
	for k, v := range desired {
		if cur, ok := m[k]; !ok || cur != v {
			m[k] = v
			set = append(set, k)
		}
	}
	sort.Strings(removed)
	sort.Strings(set)
	return removed, set
}

func sameTaint(a corev1.Taint) func(corev1.Taint) bool {
	return func(b corev1.Taint) bool { return a.Key == b.Key && a.Effect == b.Effect }
}

func taintString(t corev1.Taint) string {
	if t.Value == "" {
		return t.Key + ":" + string(t.Effect)
	}
	return t.Key + "=" + t.Value + ":" + string(t.Effect)
}
