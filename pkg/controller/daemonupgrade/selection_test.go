package daemonupgrade

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ds(annotations map[string]string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Annotations: annotations}}
}

func TestStrategy(t *testing.T) {
	for v, want := range map[string]string{
		"AdvancedRollingUpdate": AdvancedRollingUpdate, "advancedrollingupdate": AdvancedRollingUpdate,
		"ota": OTA, "OTA": OTA, " Ota ": OTA, "RollingUpdate": "", "": "",
	} {
		if got := Strategy(ds(map[string]string{UpdateStrategyAnnotation: v})); got != want {
			t.Errorf("%q: got %q, want %q", v, got, want)
		}
	}
}

func TestMaxUnavailable(t *testing.T) {
	tests := []struct {
		value   string
		desired int
		want    int
		wantErr string
	}{
		{"", 20, 2, ""},    // default 10%
		{"0", 20, 2, ""},   // 0 means the default
		{"0%", 5, 1, ""},   // 10% of 5 rounds up
		{"25%", 10, 3, ""}, // rounded up
		{"3", 10, 3, ""},
		{"50%", 0, 1, ""}, // always some progress
		{"abc", 10, 0, "want an integer or a percentage"},
		{"-1", 10, 0, "must not be negative"},
		{"x%", 10, 0, "max-unavailable"},
	}
	for _, tc := range tests {
		got, err := MaxUnavailable(ds(map[string]string{MaxUnavailableAnnotation: tc.value}), tc.desired)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.value, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q of %d: got %d (%v), want %d", tc.value, tc.desired, got, err, tc.want)
		}
	}
}

// state builds a pod on node n: "old"/"new" revision, ready or not, node Ready or not.
func state(n int, latest, podReady, nodeReady bool) PodState {
	st := corev1.ConditionFalse
	if podReady {
		st = corev1.ConditionTrue
	}
	return PodState{
		Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", n)},
			Spec:       corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", n)},
			Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
		},
		Latest: latest, NodeReady: nodeReady,
	}
}

func names(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

func TestPlanRollingUpdate(t *testing.T) {
	now := metav1.Now()
	terminating := state(9, false, true, true)
	terminating.Pod.DeletionTimestamp = &now
	readyNodes := func(ready ...string) func(string) bool {
		return func(n string) bool { return slices.Contains(ready, n) }
	}
	tests := []struct {
		name            string
		pods            []PodState
		pending         []string
		nodeReady       func(string) bool
		max             int
		wantDelete      string
		wantWaiting     string
		wantDone        string
		wantOld         int
		wantUnavailable int
	}{
		{name: "budget of one", pods: []PodState{state(1, false, true, true), state(2, false, true, true), state(3, false, true, true)},
			max: 1, wantDelete: "pod-1", wantOld: 3},
		{name: "budget of two", pods: []PodState{state(1, false, true, true), state(2, false, true, true), state(3, false, true, true)},
			max: 2, wantDelete: "pod-1,pod-2", wantOld: 3},
		{name: "NotReady node skipped", pods: []PodState{state(1, false, true, false), state(2, false, true, true), state(3, true, true, true)},
			max: 3, wantDelete: "pod-2", wantWaiting: "node-1", wantOld: 2},
		{name: "terminating pod spends the budget", pods: []PodState{terminating, state(1, false, true, true), state(2, true, true, true)},
			max: 1, wantOld: 1, wantUnavailable: 1},
		{name: "new pod not ready yet spends the budget", pods: []PodState{state(1, true, false, true), state(2, false, true, true)},
			max: 1, wantOld: 1, wantUnavailable: 1},
		{name: "old unready pods go first and regardless of budget", pods: []PodState{state(1, false, true, true), state(2, false, false, true), state(3, false, false, true)},
			max: 1, wantDelete: "pod-2,pod-3", wantOld: 3, wantUnavailable: 2},
		{name: "all latest", pods: []PodState{state(1, true, true, true), state(2, true, true, false)}, max: 1},
		{name: "pending node whose pod is gone spends the budget", pods: []PodState{state(1, false, true, true), state(2, false, true, false)},
			pending: []string{"node-0"}, nodeReady: readyNodes("node-0", "node-1"), max: 1, wantWaiting: "node-2", wantOld: 2, wantUnavailable: 1},
		{name: "pending node upgraded frees the budget", pods: []PodState{state(0, true, true, true), state(1, false, true, true)},
			pending: []string{"node-0"}, nodeReady: readyNodes("node-0", "node-1"), max: 1, wantDelete: "pod-1", wantDone: "node-0", wantOld: 1},
		{name: "pending NotReady node does not count", pods: []PodState{state(1, false, true, true)},
			pending: []string{"node-0"}, nodeReady: readyNodes("node-1"), max: 1, wantDelete: "pod-1", wantOld: 1},
		{name: "stale cache: a pending node's old pod is not deleted twice", pods: []PodState{state(1, false, true, true), state(2, false, true, true)},
			pending: []string{"node-1"}, nodeReady: readyNodes("node-1", "node-2"), max: 2, wantDelete: "pod-2", wantOld: 2, wantUnavailable: 1},
		{name: "unready pod on NotReady node is not counted", pods: []PodState{state(1, false, false, false), state(2, false, true, true)},
			max: 1, wantDelete: "pod-2", wantWaiting: "node-1", wantOld: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pending := map[string]bool{}
			for _, n := range tc.pending {
				pending[n] = true
			}
			nr := tc.nodeReady
			if nr == nil {
				nr = func(string) bool { return true }
			}
			p := PlanRollingUpdate(tc.pods, pending, nr, tc.max)
			if got := names(p.Delete); got != tc.wantDelete {
				t.Errorf("delete %q, want %q", got, tc.wantDelete)
			}
			if got := strings.Join(p.WaitingNodes, ","); got != tc.wantWaiting {
				t.Errorf("waiting %q, want %q", got, tc.wantWaiting)
			}
			if got := strings.Join(p.Done, ","); got != tc.wantDone {
				t.Errorf("done %q, want %q", got, tc.wantDone)
			}
			if p.Old != tc.wantOld || p.Unavailable != tc.wantUnavailable {
				t.Errorf("old %d unavailable %d, want %d %d", p.Old, p.Unavailable, tc.wantOld, tc.wantUnavailable)
			}
		})
	}
}

func TestPlanRollingUpdateBurstLimit(t *testing.T) {
	var pods []PodState
	for i := range 600 {
		pods = append(pods, state(i, false, true, true))
	}
	if p := PlanRollingUpdate(pods, nil, func(string) bool { return true }, 600); len(p.Delete) != MaxDeletionsPerSync {
		t.Fatalf("deleted %d in one burst, want %d", len(p.Delete), MaxDeletionsPerSync)
	}
}

func TestSetPodCondition(t *testing.T) {
	var st corev1.PodStatus
	if !setPodCondition(&st, NeedUpgradeCondition(false, "h1")) {
		t.Fatal("adding must report a change")
	}
	if setPodCondition(&st, NeedUpgradeCondition(false, "h1")) {
		t.Fatal("same condition must not report a change")
	}
	if !setPodCondition(&st, NeedUpgradeCondition(false, "h2")) || !setPodCondition(&st, NeedUpgradeCondition(true, "h2")) {
		t.Fatal("message and status changes must report a change")
	}
	if len(st.Conditions) != 1 || st.Conditions[0].Status != corev1.ConditionFalse || st.Conditions[0].Message != "controllerrevision: h2" {
		t.Fatalf("%+v", st.Conditions)
	}
}
