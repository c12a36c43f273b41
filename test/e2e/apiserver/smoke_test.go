// Package apiserver holds end-to-end tests of yurt-apiserver behind a real kube-apiserver.
package apiserver

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"github.com/yurt-edge/yurt/test/e2e/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

// TestAPIServicesAvailable checks that yurt-apiserver is registered and reachable through
// kube-apiserver: every APIService is Available, and kubectl discovers NodePool by its short name.
func TestAPIServicesAvailable(t *testing.T) {
	c := framework.Clients(t)
	for _, name := range []string{
		"v1beta2.apps.openyurt.io",
		"v1beta1.apps.openyurt.io",
		"v1alpha1.apps.openyurt.io",
		"v1alpha1.iot.openyurt.io",
	} {
		svc, err := c.Aggregator.ApiregistrationV1().APIServices().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("APIService %s: %v", name, err)
			continue
		}
		var available *apiregistrationv1.APIServiceCondition
		for i := range svc.Status.Conditions {
			if svc.Status.Conditions[i].Type == apiregistrationv1.Available {
				available = &svc.Status.Conditions[i]
			}
		}
		switch {
		case available == nil:
			t.Errorf("APIService %s has no Available condition: %+v", name, svc.Status)
		case available.Status != apiregistrationv1.ConditionTrue:
			t.Errorf("APIService %s: Available=%s %s: %s", name, available.Status, available.Reason, available.Message)
		}
	}

	out, err := framework.Kubectl(t, "api-resources", "--api-group=apps.openyurt.io", "--no-headers")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(out, "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "nodepools" {
			found = true
			if fields[1] != "np" {
				t.Errorf("nodepools has short names %q, want np:\n%s", fields[1], out)
			}
		}
	}
	if !found {
		t.Errorf("kubectl api-resources --api-group=apps.openyurt.io does not list nodepools:\n%s", out)
	}
}
