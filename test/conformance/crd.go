package conformance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// CRDManifest is the NodePool v1beta2 CustomResourceDefinition (group crd.openyurt.io),
// relative to the repository root.
var CRDManifest = filepath.Join("test", "conformance", "testdata", "nodepool-crd.yaml")

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRD creates (or replaces) the CustomResourceDefinition in manifestPath and waits
// until it is Established and its group/version is in discovery, so that requests for it
// succeed at once. It returns the CRD's name.
func InstallCRD(ctx context.Context, dyn dynamic.Interface, disc discovery.DiscoveryInterface, manifestPath string) (string, error) {
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return "", fmt.Errorf("reading CRD manifest: %w", err)
	}
	obj := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return "", fmt.Errorf("parsing CRD manifest %s: %w", manifestPath, err)
	}
	crd := &unstructured.Unstructured{Object: obj}
	client := dyn.Resource(crdGVR)
	if _, err := client.Create(ctx, crd, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		existing, err := client.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("getting CRD %s: %w", crd.GetName(), err)
		}
		crd.SetResourceVersion(existing.GetResourceVersion())
		if _, err := client.Update(ctx, crd, metav1.UpdateOptions{}); err != nil {
			return "", fmt.Errorf("updating CRD %s: %w", crd.GetName(), err)
		}
	} else if err != nil {
		return "", fmt.Errorf("creating CRD %s: %w", crd.GetName(), err)
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := client.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			lastErr = err
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		established := false
		for _, c := range conds {
			m, _ := c.(map[string]interface{})
			if m["type"] == "Established" && m["status"] == "True" {
				established = true
			}
		}
		if !established {
			lastErr = fmt.Errorf("not Established: %v", conds)
			return false, nil
		}
		for _, v := range versions {
			name, _ := v.(map[string]interface{})["name"].(string)
			if _, err := disc.ServerResourcesForGroupVersion(group + "/" + name); err != nil {
				lastErr = fmt.Errorf("discovery of %s/%s: %w", group, name, err)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return "", fmt.Errorf("waiting for CRD %s: %w (last: %v)", crd.GetName(), err, lastErr)
	}
	return crd.GetName(), nil
}

// DeleteCRD removes a CustomResourceDefinition and with it every object it served.
func DeleteCRD(ctx context.Context, dyn dynamic.Interface, name string) error {
	err := dyn.Resource(crdGVR).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting CRD %s: %w", name, err)
	}
	return nil
}
