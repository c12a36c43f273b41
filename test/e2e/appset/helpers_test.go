package appset

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/controller/workload"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// createPool creates a NodePool with labels, deleted at the end of the test.
func createPool(t *testing.T, name string, lbls map[string]string) {
	t.Helper()
	yurt := framework.Clients(t).Yurt
	np := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge}}
	if _, err := yurt.AppsV1beta2().NodePools().Create(context.Background(), np, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pool %s: %v", name, err)
	}
	t.Cleanup(func() {
		err := yurt.AppsV1beta2().NodePools().Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting pool %s: %v", name, err)
		}
	})
}

// labelPool sets (value != "") or removes a label of a pool.
func labelPool(t *testing.T, name, key, value string) {
	t.Helper()
	pools := framework.Clients(t).Yurt.AppsV1beta2().NodePools()
	// yurt-apiserver writes pool status as nodes come and go.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		np, err := pools.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if np.Labels == nil {
			np.Labels = map[string]string{}
		}
		if value == "" {
			delete(np.Labels, key)
		} else {
			np.Labels[key] = value
		}
		_, err = pools.Update(context.Background(), np, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("labelling pool %s: %v", name, err)
	}
}

// deploymentsByPool lists the Deployments carrying refLabel=owner, keyed by pool label.
func deploymentsByPool(client kubernetes.Interface, ns, refLabel, owner string) (map[string]*appsv1.Deployment, error) {
	list, err := client.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: labels.Set{refLabel: owner}.String(),
	})
	if err != nil {
		return nil, err
	}
	out := map[string]*appsv1.Deployment{}
	for i := range list.Items {
		d := &list.Items[i]
		if d.DeletionTimestamp == nil {
			out[d.Labels[workload.PoolNameLabel]] = d
		}
	}
	return out, nil
}

func sameKeys[V any](m map[string]V, keys ...string) bool {
	if len(m) != len(keys) {
		return false
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// eventsOf lists the events about an object: reason → events.
func eventsOf(t *testing.T, ns, kind, name string) map[string][]corev1.Event {
	t.Helper()
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}.AsSelector().String()
	list, err := framework.Clients(t).Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatalf("listing events of %s %s: %v", kind, name, err)
	}
	out := map[string][]corev1.Event{}
	for _, e := range list.Items {
		out[e.Reason] = append(out[e.Reason], e)
	}
	return out
}

// metricValue sums the samples of a metric whose labels include every one of labels on
// yurt-manager's /metrics; 0 when there is none yet.
func metricValue(t *testing.T, addr, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scraping yurt-manager's metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
lines:
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// The controllers write status concurrently, so every test update re-reads and retries on
// conflict, as a user's kubectl edit would have to.

func updateAppSet(t *testing.T, ns, name string, mutate func(*appsv1beta1.YurtAppSet)) {
	t.Helper()
	yurt := framework.Clients(t).Yurt.AppsV1beta1().YurtAppSets(ns)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := yurt.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(cur)
		_, err = yurt.Update(context.Background(), cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("updating YurtAppSet %s/%s: %v", ns, name, err)
	}
}

func updateAppDaemon(t *testing.T, ns, name string, mutate func(*appsv1alpha1.YurtAppDaemon)) {
	t.Helper()
	yurt := framework.Clients(t).Yurt.AppsV1alpha1().YurtAppDaemons(ns)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := yurt.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(cur)
		_, err = yurt.Update(context.Background(), cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("updating YurtAppDaemon %s/%s: %v", ns, name, err)
	}
}
