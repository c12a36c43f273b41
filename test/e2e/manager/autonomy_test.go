package manager

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/yurt-edge/yurt/pkg/controller/autonomy"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func tolerationSeconds(pod *corev1.Pod, key string) (secs *int64, found bool) {
	for _, tol := range pod.Spec.Tolerations {
		if tol.Key == key && tol.Effect == corev1.TaintEffectNoExecute {
			return tol.TolerationSeconds, true
		}
	}
	return nil, false
}

func runPod(t *testing.T, client kubernetes.Interface, ns, name, node string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			AutomountServiceAccountToken: new(bool),
			Containers:                   []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		// The default ServiceAccount appears once kube-controller-manager has seen the namespace.
		_, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err), err
	})
	framework.WaitFor(t, 90*time.Second, func() (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
}

// evicted reports whether the pod is gone or being deleted.
func evicted(client kubernetes.Interface, ns, name string) (bool, error) {
	p, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return p.DeletionTimestamp != nil, nil
}

// TestAutonomy: two hollow nodes stop heartbeating at the same moment. kube-controller-manager
// marks both unreachable and taints them NoExecute; the pod on the plain node is evicted once
// its 15 s default toleration runs out, while the pod on the node annotated
// node.openyurt.io/autonomy-duration=1h stays (its tolerations were raised to 3600 s). Set to
// "0" the tolerations become forever; when the annotation is removed, the original 15 s come
// back and that pod is evicted too.
func TestAutonomy(t *testing.T) {
	e := setup(t)
	kube := framework.Clients(t).Kube
	ctx := context.Background()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-autonomy"}}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })

	annotate := func(value string) {
		t.Helper()
		patch := `{"metadata":{"annotations":{"` + autonomy.AutonomyDurationAnnotation + `":` + value + `}}}`
		if _, err := kube.CoreV1().Nodes().Patch(ctx, autoNode, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	annotate(`"1h"`)
	runPod(t, kube, ns.Name, "on-autonomous", autoNode)
	runPod(t, kube, ns.Name, "on-plain", plainNode)

	// The autonomous node's pod tolerates both taints for an hour; the originals are kept.
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns.Name).Get(ctx, "on-autonomous", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
			if s, ok := tolerationSeconds(p, key); !ok || s == nil || *s != 3600 {
				return false, nil
			}
		}
		want := strconv.Itoa(defaultTolerationSeconds)
		return p.Annotations[autonomy.OriginalNotReadyAnnotation] == want && p.Annotations[autonomy.OriginalUnreachableAnnotation] == want, nil
	})
	if p, err := kube.CoreV1().Pods(ns.Name).Get(ctx, "on-plain", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if s, _ := tolerationSeconds(p, corev1.TaintNodeUnreachable); s == nil || *s != defaultTolerationSeconds {
		t.Fatalf("the plain node's pod was changed: unreachable toleration %v", s)
	}

	// Both kubelets die.
	stopped := time.Now()
	for _, name := range []string{autoNode, plainNode} {
		if err := e.nodes[name].Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	framework.WaitFor(t, nodeMonitorGracePeriod+60*time.Second+defaultTolerationSeconds*time.Second, func() (bool, error) {
		return evicted(kube, ns.Name, "on-plain")
	})
	t.Logf("pod on the plain node evicted %s after its kubelet stopped", time.Since(stopped).Round(time.Second))
	n, err := getNode(kube, autoNode)
	if err != nil {
		t.Fatal(err)
	}
	if findTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) == nil {
		t.Fatalf("the autonomous node is not tainted unreachable:NoExecute: %+v", n.Spec.Taints)
	}
	// Well past the default toleration on a tainted node: the autonomous node's pod stays.
	time.Sleep(2 * defaultTolerationSeconds * time.Second)
	if gone, err := evicted(kube, ns.Name, "on-autonomous"); err != nil || gone {
		t.Fatalf("pod on the autonomous node was evicted (or error %v)", err)
	}

	// "0" means forever: tolerationSeconds is cleared, and kube-controller-manager cancels the
	// eviction it had scheduled for the end of the hour.
	annotate(`"0"`)
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns.Name).Get(ctx, "on-autonomous", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s, ok := tolerationSeconds(p, corev1.TaintNodeUnreachable)
		return ok && s == nil && p.DeletionTimestamp == nil, nil
	})

	// Autonomy off: the original 15 s come back and kube-controller-manager evicts the pod.
	// (From a finite window instead, kube-controller-manager would keep the eviction it had
	// scheduled at the window's end: its taint eviction never brings a scheduled eviction
	// forward when tolerationSeconds shrink.)
	annotate(`null`)
	framework.WaitFor(t, waitTimeout, func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns.Name).Get(ctx, "on-autonomous", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		s, _ := tolerationSeconds(p, corev1.TaintNodeUnreachable)
		_, saved := p.Annotations[autonomy.OriginalUnreachableAnnotation]
		if !saved && s != nil && *s == defaultTolerationSeconds {
			return true, nil
		}
		return false, fmt.Errorf("pod not restored yet: annotations %v tolerations %+v", p.Annotations, p.Spec.Tolerations)
	})
	framework.WaitFor(t, waitTimeout+defaultTolerationSeconds*time.Second, func() (bool, error) {
		return evicted(kube, ns.Name, "on-autonomous")
	})
}
