package autonomy

import (
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func node(annotations map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: annotations}}
}

func TestNodeAutonomy(t *testing.T) {
	tests := []struct {
		name    string
		annots  map[string]string
		want    Autonomy
		wantErr bool
	}{
		{"none", nil, Autonomy{}, false},
		{"duration", map[string]string{AutonomyDurationAnnotation: "90m"}, Autonomy{Enabled: true, Seconds: ptr.To[int64](5400)}, false},
		{"rounded up", map[string]string{AutonomyDurationAnnotation: "1500ms"}, Autonomy{Enabled: true, Seconds: ptr.To[int64](2)}, false},
		{"zero is forever", map[string]string{AutonomyDurationAnnotation: "0"}, Autonomy{Enabled: true}, false},
		{"deprecated", map[string]string{DeprecatedAutonomyAnnotation: "true"}, Autonomy{Enabled: true}, false},
		{"deprecated false", map[string]string{DeprecatedAutonomyAnnotation: "false"}, Autonomy{}, false},
		{"duration wins over deprecated", map[string]string{AutonomyDurationAnnotation: "10s", DeprecatedAutonomyAnnotation: "true"}, Autonomy{Enabled: true, Seconds: ptr.To[int64](10)}, false},
		{"garbage", map[string]string{AutonomyDurationAnnotation: "a while"}, Autonomy{}, true},
		{"negative", map[string]string{AutonomyDurationAnnotation: "-5m"}, Autonomy{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nodeAutonomy(node(tt.annots))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got.Enabled != tt.want.Enabled || !equalSeconds(got.Seconds, tt.want.Seconds) {
				t.Errorf("nodeAutonomy = %+v (seconds %v), want %+v", got, ptr.Deref(got.Seconds, -1), tt.want)
			}
		})
	}
}

func defaultTolerations(secs int64) []corev1.Toleration {
	return []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(secs)},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(secs)},
	}
}

func seconds(p *corev1.Pod, key string) (string, int) {
	n := 0
	out := "absent"
	for _, tol := range p.Spec.Tolerations {
		if tol.Key == key && tol.Effect == corev1.TaintEffectNoExecute {
			n++
			out = formatOriginal(tol.TolerationSeconds, true)
		}
	}
	return out, n
}

func TestDesiredPodRoundTrip(t *testing.T) {
	tests := []struct {
		name         string
		tolerations  []corev1.Toleration
		autonomy     Autonomy
		wantSet      string // tolerationSeconds while autonomous
		wantSaved    string
		wantRestored string
	}{
		{"default 300s, 1h window", defaultTolerations(300), Autonomy{Enabled: true, Seconds: ptr.To[int64](3600)}, "3600", "300", "300"},
		{"default 300s, forever", defaultTolerations(300), Autonomy{Enabled: true}, "forever", "300", "300"},
		{"no tolerations: added, restored to 0", nil, Autonomy{Enabled: true, Seconds: ptr.To[int64](60)}, "60", "none", "0"},
		{"forever originally", []corev1.Toleration{
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		}, Autonomy{Enabled: true, Seconds: ptr.To[int64](60)}, "60", "forever", "forever"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "n1", Tolerations: tt.tolerations}}
			changed, err := desiredPod(pod, tt.autonomy)
			if err != nil || !changed {
				t.Fatalf("enable: changed %v err %v", changed, err)
			}
			for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
				if got, n := seconds(pod, key); got != tt.wantSet || n != 1 {
					t.Errorf("%s while autonomous = %s (%d tolerations), want %s", key, got, n, tt.wantSet)
				}
			}
			if pod.Annotations[OriginalUnreachableAnnotation] != tt.wantSaved {
				t.Errorf("saved = %q, want %q", pod.Annotations[OriginalUnreachableAnnotation], tt.wantSaved)
			}
			// A second pass is a no-op, and a changed window keeps the first originals.
			if changed, _ := desiredPod(pod, tt.autonomy); changed {
				t.Error("second pass changed the pod")
			}
			desiredPod(pod, Autonomy{Enabled: true, Seconds: ptr.To[int64](7)})
			if pod.Annotations[OriginalUnreachableAnnotation] != tt.wantSaved {
				t.Errorf("saved changed to %q after a new window", pod.Annotations[OriginalUnreachableAnnotation])
			}

			changed, err = desiredPod(pod, Autonomy{})
			if err != nil || !changed {
				t.Fatalf("disable: changed %v err %v", changed, err)
			}
			for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
				if got, _ := seconds(pod, key); got != tt.wantRestored {
					t.Errorf("%s restored = %s, want %s", key, got, tt.wantRestored)
				}
			}
			if _, ok := pod.Annotations[OriginalNotReadyAnnotation]; ok {
				t.Error("annotation kept after restore")
			}
			if changed, _ := desiredPod(pod, Autonomy{}); changed {
				t.Error("restore is not idempotent")
			}
		})
	}
}

func TestDesiredPodBadSaved(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Annotations: map[string]string{OriginalUnreachableAnnotation: "soon"}},
		Spec:       corev1.PodSpec{NodeName: "n1", Tolerations: defaultTolerations(3600)},
	}
	changed, err := desiredPod(pod, Autonomy{})
	if err == nil || !changed {
		t.Fatalf("changed %v err %v; want the bad annotation reported and dropped", changed, err)
	}
	if got, _ := seconds(pod, corev1.TaintNodeUnreachable); got != "3600" {
		t.Errorf("tolerations touched despite a bad annotation: %s", got)
	}
}

func TestManagedPod(t *testing.T) {
	ctrl := true
	tests := []struct {
		name string
		pod  corev1.Pod
		want bool
	}{
		{"plain", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}}, true},
		{"unscheduled", corev1.Pod{}, false},
		{"daemonset", corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "DaemonSet", Name: "ds", Controller: &ctrl}}}, Spec: corev1.PodSpec{NodeName: "n"}}, false},
		{"replicaset", corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", Controller: &ctrl}}}, Spec: corev1.PodSpec{NodeName: "n"}}, true},
		{"mirror", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}}, Spec: corev1.PodSpec{NodeName: "n"}}, false},
		{"static (owned by node)", corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{Kind: "Node", Name: "n", Controller: &ctrl}}}, Spec: corev1.PodSpec{NodeName: "n"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := managedPod(&tt.pod); got != tt.want {
				t.Errorf("managedPod = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEffectiveSeconds(t *testing.T) {
	key := corev1.TaintNodeUnreachable
	tols := []corev1.Toleration{
		{Key: key, Effect: corev1.TaintEffectNoExecute},
		{Key: key, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](50)},
		{Key: key, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](20)},
		{Key: key, Effect: corev1.TaintEffectNoSchedule},
	}
	if s, ok := effectiveSeconds(tols, key); !ok || s == nil || *s != 20 {
		t.Errorf("effectiveSeconds = %v %v, want 20", s, ok)
	}
	if s, ok := effectiveSeconds(tols[:1], key); !ok || s != nil {
		t.Errorf("effectiveSeconds(forever) = %v %v", s, ok)
	}
	if _, ok := effectiveSeconds(tols[3:], key); ok {
		t.Error("a NoSchedule toleration counted")
	}
}

// FuzzAutonomyAnnotations: any annotation value gives a clean result or an error naming the
// annotation, and a parsed window is never negative; any saved original either parses or is
// reported.
func FuzzAutonomyAnnotations(f *testing.F) {
	for _, s := range []string{"1h", "0", "90m", "-1s", "1e9h", "forever", "", "2562047h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		a, err := nodeAutonomy(node(map[string]string{AutonomyDurationAnnotation: v}))
		if err != nil {
			if !strings.Contains(err.Error(), AutonomyDurationAnnotation) {
				t.Fatalf("error does not name the annotation: %v", err)
			}
			return
		}
		if !a.Enabled || (a.Seconds != nil && *a.Seconds <= 0) {
			t.Fatalf("%q parsed to %+v", v, a)
		}
		if _, err := parseOriginal(v); err == nil {
			// Only numbers, forever and none parse.
			if v != originalForever && v != originalNone {
				if _, perr := strconv.ParseInt(v, 10, 64); perr != nil {
					t.Fatalf("parseOriginal accepted %q", v)
				}
			}
		}
	})
}
