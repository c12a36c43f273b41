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
	// Old counts old pods not yet being deleted; Unavailable counts what the budget spends.
	Old, Unavailable, MaxUnavailable int
}

// PlanRollingUpdate picks the pods to delete: old pods on Ready nodes, up to the budget of
// maxUnavailable minus what is unavailable already (pods terminating, missing or not Ready on
// Ready nodes). Old pods that are not Ready are deleted first and regardless of the budget:
// replacing them costs no availability. Pods on nodes that are not Ready are skipped.
func PlanRollingUpdate(pods []PodState, desired, maxUnavailable int) Plan {
	p := Plan{MaxUnavailable: maxUnavailable}
	live := 0
	var oldReady, oldUnready []*corev1.Pod
	waiting := map[string]bool{}
	for _, s := range pods {
		if s.Pod.DeletionTimestamp != nil {
			continue
		}
		live++
		ready := podReady(s.Pod)
		if s.NodeReady && !ready {
			p.Unavailable++
		}
		if s.Latest {
			continue
		}
		p.Old++
		switch {
		case !s.NodeReady:
			waiting[s.Pod.Spec.NodeName] = true
		case ready:
			oldReady = append(oldReady, s.Pod)
		default:
			oldUnready = append(oldUnready, s.Pod)
		}
	}
	// Terminating pods and pods not yet recreated are both missing from live.
	p.Unavailable += max(0, desired-live)
	byName := func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(oldUnready, byName)
	slices.SortFunc(oldReady, byName)
	p.Delete = append(p.Delete, oldUnready...)
	budget := maxUnavailable - p.Unavailable
	for _, pod := range oldReady {
		if budget <= 0 {
			break
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
