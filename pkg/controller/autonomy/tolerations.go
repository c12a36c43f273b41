package autonomy

import (
	"fmt"
	"math"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Node annotations that turn autonomy on.
const (
	// AutonomyDurationAnnotation holds a Go duration: how long the node's pods stay after the
	// node stops heartbeating. "0" means forever.
	AutonomyDurationAnnotation = "node.openyurt.io/autonomy-duration"
	// DeprecatedAutonomyAnnotation = "true" means forever.
	DeprecatedAutonomyAnnotation = "node.beta.openyurt.io/autonomy"
)

// Pod annotations keeping the tolerationSeconds the pod had before autonomy changed them
// (OpenYurt's names). The value is the number of seconds, "forever" for a toleration without
// tolerationSeconds, or "none" when the pod had no such toleration and one was added.
const (
	OriginalNotReadyAnnotation    = "apps.openyurt.io/original-not-ready-toleration-duration"
	OriginalUnreachableAnnotation = "apps.openyurt.io/original-unreachable-toleration-duration"

	originalForever = "forever"
	originalNone    = "none"
)

// managedTaints are the taints kube-controller-manager puts on nodes that stop
// heartbeating, with the annotation keeping each one's original toleration.
var managedTaints = []struct{ key, annotation string }{
	{corev1.TaintNodeNotReady, OriginalNotReadyAnnotation},
	{corev1.TaintNodeUnreachable, OriginalUnreachableAnnotation},
}

// Autonomy is a node's autonomy setting.
type Autonomy struct {
	Enabled bool
	// Seconds is the tolerationSeconds to give pods; nil means forever.
	Seconds *int64
}

// nodeAutonomy reads a node's annotations. A malformed duration is an error naming the
// annotation; the node is then treated as not autonomous.
func nodeAutonomy(node *corev1.Node) (Autonomy, error) {
	if v, ok := node.Annotations[AutonomyDurationAnnotation]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Autonomy{}, fmt.Errorf("node %s: annotation %s=%q is not a duration (e.g. 30m, 2h, 0 for forever): %w", node.Name, AutonomyDurationAnnotation, v, err)
		}
		if d < 0 {
			return Autonomy{}, fmt.Errorf("node %s: annotation %s=%q is negative", node.Name, AutonomyDurationAnnotation, v)
		}
		if d == 0 {
			return Autonomy{Enabled: true}, nil
		}
		// Round up: a pod must stay at least as long as asked.
		secs := int64(math.Ceil(d.Seconds()))
		return Autonomy{Enabled: true, Seconds: &secs}, nil
	}
	if node.Annotations[DeprecatedAutonomyAnnotation] == "true" {
		return Autonomy{Enabled: true}, nil
	}
	return Autonomy{}, nil
}

// managedPod says whether autonomy applies to a pod: not DaemonSet pods (the DaemonSet
// controller adds its own forever tolerations) and not static or mirror pods (owned by the
// kubelet, not evicted by taints).
func managedPod(pod *corev1.Pod) bool {
	if pod.Spec.NodeName == "" {
		return false
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Controller != nil && *ref.Controller && (ref.Kind == "DaemonSet" || ref.Kind == "Node") {
			return false
		}
	}
	return true
}

func isManagedToleration(key string) func(corev1.Toleration) bool {
	return func(t corev1.Toleration) bool {
		return t.Key == key && t.Effect == corev1.TaintEffectNoExecute
	}
}

// effectiveSeconds is what kube-controller-manager's taint eviction uses for a taint: the
// smallest tolerationSeconds of the matching tolerations, nil for forever; found is false
// when none matches (evicted at once).
func effectiveSeconds(tols []corev1.Toleration, key string) (secs *int64, found bool) {
	match := isManagedToleration(key)
	for _, t := range tols {
		if !match(t) {
			continue
		}
		if !found {
			secs, found = t.TolerationSeconds, true
			continue
		}
		// nil is forever, larger than any number.
		if t.TolerationSeconds != nil && (secs == nil || *t.TolerationSeconds < *secs) {
			secs = t.TolerationSeconds
		}
	}
	return secs, found
}

func formatOriginal(secs *int64, found bool) string {
	switch {
	case !found:
		return originalNone
	case secs == nil:
		return originalForever
	default:
		return strconv.FormatInt(*secs, 10)
	}
}

// parseOriginal reverses formatOriginal. "none" restores as 0 seconds: the API does not let a
// toleration be removed from a pod, and tolerationSeconds 0 evicts at once, as no toleration does.
func parseOriginal(v string) (*int64, error) {
	switch v {
	case originalForever:
		return nil, nil
	case originalNone:
		zero := int64(0)
		return &zero, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("not a number of seconds, %q or %q: %q", originalForever, originalNone, v)
	}
	return &n, nil
}

func equalSeconds(a, b *int64) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// setSeconds sets tolerationSeconds of every NoExecute toleration of key to secs, adding
// one (operator Exists) when none exists. The API allows exactly this on a running pod:
// adding tolerations and changing the tolerationSeconds of existing ones.
func setSeconds(pod *corev1.Pod, key string, secs *int64) (changed bool) {
	match := isManagedToleration(key)
	found := false
	for i := range pod.Spec.Tolerations {
		t := &pod.Spec.Tolerations[i]
		if !match(*t) {
			continue
		}
		found = true
		if !equalSeconds(t.TolerationSeconds, secs) {
			t.TolerationSeconds = copySeconds(secs)
			changed = true
		}
	}
	if !found {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: copySeconds(secs),
		})
		changed = true
	}
	return changed
}

func copySeconds(s *int64) *int64 {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

// desiredPod applies a node's autonomy to a copy of pod: with autonomy, the not-ready and
// unreachable tolerations get a.Seconds and the originals are saved (once); without, saved
// originals are restored and the annotations removed. It reports whether pod changed.
func desiredPod(pod *corev1.Pod, a Autonomy) (changed bool, err error) {
	for _, m := range managedTaints {
		saved, hasSaved := pod.Annotations[m.annotation]
		if a.Enabled {
			if !hasSaved {
				if pod.Annotations == nil {
					pod.Annotations = map[string]string{}
				}
				pod.Annotations[m.annotation] = formatOriginal(effectiveSeconds(pod.Spec.Tolerations, m.key))
				changed = true
			}
			if setSeconds(pod, m.key, a.Seconds) {
				changed = true
			}
			continue
		}
		if !hasSaved {
			continue
		}
		orig, perr := parseOriginal(saved)
		if perr != nil {
			// Drop the bad annotation but leave the tolerations: guessing could evict pods.
			err = fmt.Errorf("pod %s/%s: annotation %s: %w", pod.Namespace, pod.Name, m.annotation, perr)
		} else {
			setSeconds(pod, m.key, orig)
		}
		delete(pod.Annotations, m.annotation)
		changed = true
	}
	return changed, err
}
