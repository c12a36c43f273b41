package daemonupgrade

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Annotations and values on DaemonSets (OpenYurt's).
const (
	UpdateStrategyAnnotation = "apps.openyurt.io/update-strategy"
	MaxUnavailableAnnotation = "apps.openyurt.io/max-unavailable"
	// Strategy values are compared case-insensitively.
	AdvancedRollingUpdate = "AdvancedRollingUpdate"
	OTA                   = "OTA"
	// PodNeedUpgrade is the pod condition OTA sets; its message is "controllerrevision: <hash>".
	PodNeedUpgrade corev1.PodConditionType = "PodNeedUpgrade"
	// DefaultMaxUnavailable applies when the annotation is absent, 0 or 0%.
	DefaultMaxUnavailable = "10%"
	// MaxDeletionsPerSync bounds one burst of deletions.
	MaxDeletionsPerSync = 250
)

// Strategy returns the DaemonSet's upgrade strategy (AdvancedRollingUpdate, OTA) or "".
func Strategy(ds *appsv1.DaemonSet) string {
	v := strings.TrimSpace(ds.Annotations[UpdateStrategyAnnotation])
	switch {
	case strings.EqualFold(v, AdvancedRollingUpdate):
		return AdvancedRollingUpdate
	case strings.EqualFold(v, OTA):
		return OTA
	}
	return ""
}

// MaxUnavailable resolves the max-unavailable annotation against the number of pods the
// DaemonSet should run, rounding percentages up. Absent, 0 and 0% mean the default 10%,
// and the result is at least 1, so an upgrade always makes progress.
func MaxUnavailable(ds *appsv1.DaemonSet, desired int) (int, error) {
	raw := strings.TrimSpace(ds.Annotations[MaxUnavailableAnnotation])
	if raw == "" || raw == "0" || raw == "0%" {
		raw = DefaultMaxUnavailable
	}
	v := intstr.Parse(raw)
	if v.Type == intstr.String && !strings.HasSuffix(raw, "%") {
		return 0, fmt.Errorf("annotation %s=%q: want an integer or a percentage", MaxUnavailableAnnotation, raw)
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, desired, true)
	if err != nil {
		return 0, fmt.Errorf("annotation %s=%q: %w", MaxUnavailableAnnotation, raw, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("annotation %s=%q: must not be negative", MaxUnavailableAnnotation, raw)
	}
	return max(n, 1), nil
}

// PodState is what the selection needs to know about one of the DaemonSet's pods.
type PodState struct {
	Pod *corev1.Pod
	// Latest: the pod's controller-revision-hash is the DaemonSet's newest revision.
	Latest bool
	// NodeReady: the pod's node exists and is Ready.
	NodeReady bool
}

// Plan is what one AdvancedRollingUpdate step does.
type Plan struct {
	// Delete are old pods on Ready nodes to delete now, unavailable ones first.
	Delete []*corev1.Pod
	// WaitingNodes hold old pods on nodes that are not Ready; they are upgraded when the
	// node returns.
	WaitingNodes []string
	// Done are pending nodes that now run a Ready pod at the newest revision.
	Done []string
	// Old counts old pods not yet being deleted; Unavailable counts the Ready nodes that
	// spend the budget.
	Old, Unavailable, MaxUnavailable int
}

// PlanRollingUpdate picks the pods to delete: old pods on Ready nodes, up to the budget of
// maxUnavailable minus the Ready nodes that are unavailable already. A Ready node is
// unavailable while its pod is terminating or not Ready, or while it is in pending (its old
// pod was deleted) and has no Ready pod at the newest revision yet, which covers the gap
// between a pod's removal and its replacement. Counting nodes rather than comparing with
// status.desiredNumberScheduled matters: kube-controller-manager leaves NotReady nodes out of
// that number, which would otherwise make the gap invisible. Old pods that are not Ready are
// deleted first and regardless of the budget: replacing them costs no availability. Pods on
// nodes that are not Ready are skipped. nodeReady answers for pending nodes without pods.
func PlanRollingUpdate(pods []PodState, pending map[string]bool, nodeReady func(string) bool, maxUnavailable int) Plan {
	p := Plan{MaxUnavailable: maxUnavailable}
	var oldReady, oldUnready []*corev1.Pod
	waiting := map[string]bool{}
	unavailable := map[string]bool{}
	upgraded := map[string]bool{}
	for _, s := range pods {
		node := s.Pod.Spec.NodeName
		ready := podReady(s.Pod)
		if s.Pod.DeletionTimestamp != nil {
			if s.NodeReady {
				unavailable[node] = true
			}
			continue
		}
		if s.NodeReady && !ready {
			unavailable[node] = true
		}
		if s.Latest {
			if ready {
				upgraded[node] = true
			}
			continue
		}
		p.Old++
		switch {
		case !s.NodeReady:
			waiting[node] = true
		case ready:
			oldReady = append(oldReady, s.Pod)
		default:
			oldUnready = append(oldUnready, s.Pod)
		}
	}
	for node := range pending {
		if upgraded[node] {
			p.Done = append(p.Done, node)
		} else if nodeReady(node) {
			unavailable[node] = true
		}
	}
	slices.Sort(p.Done)
	p.Unavailable = len(unavailable)
	byName := func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(oldUnready, byName)
	slices.SortFunc(oldReady, byName)
	for _, pod := range oldUnready {
		if !pending[pod.Spec.NodeName] {
			p.Delete = append(p.Delete, pod)
		}
	}
	budget := maxUnavailable - p.Unavailable
	for _, pod := range oldReady {
		if budget <= 0 {
			break
		}
		if pending[pod.Spec.NodeName] {
			// Deleted already; the cache has not caught up.
			continue
		}
		p.Delete = append(p.Delete, pod)
		budget--
	}
	if len(p.Delete) > MaxDeletionsPerSync {
		p.Delete = p.Delete[:MaxDeletionsPerSync]
	}
	for n := range waiting {
		p.WaitingNodes = append(p.WaitingNodes, n)
	}
	slices.Sort(p.WaitingNodes)
	return p
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// NeedUpgradeCondition is the PodNeedUpgrade condition OTA wants on a pod.
func NeedUpgradeCondition(latest bool, latestHash string) corev1.PodCondition {
	status := corev1.ConditionTrue
	if latest {
		status = corev1.ConditionFalse
	}
	return corev1.PodCondition{Type: PodNeedUpgrade, Status: status, Message: "controllerrevision: " + latestHash}
}
