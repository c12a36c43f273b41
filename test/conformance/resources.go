package conformance

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// loadSample reads a manifest and returns a function that copies it under a new name.
func loadSample(path string) (func(name string) *unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading sample %s: %w", path, err)
	}
	obj := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("parsing sample %s: %w", path, err)
	}
	template := &unstructured.Unstructured{Object: obj}
	return func(name string) *unstructured.Unstructured {
		u := template.DeepCopy()
		u.SetName(name)
		u.SetNamespace("")
		return u
	}, nil
}

func setField(value interface{}, path ...string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		// The paths below are maps in every sample, so this cannot fail.
		_ = unstructured.SetNestedField(u.Object, value, path...)
	}
}

// YurtResources are every resource yurt-apiserver serves, with samples from examplesDir
// (artifacts/examples).
func YurtResources(examplesDir string) ([]Resource, error) {
	apps := func(v string) schema.GroupVersion { return schema.GroupVersion{Group: "apps.openyurt.io", Version: v} }
	iot := schema.GroupVersion{Group: "iot.openyurt.io", Version: "v1alpha1"}
	defs := []struct {
		gv         schema.GroupVersion
		resource   string
		kind       string
		namespaced bool
		file       string
		spec       func(*unstructured.Unstructured)
		status     func(*unstructured.Unstructured)
		field      string
	}{
		{apps("v1beta2"), "nodepools", "NodePool", false, "nodepool-v1beta2.yaml",
			setField("changed", "spec", "annotations", "conformance.yurt.io/spec"), setField(int64(1), "status", "leaderNum"), "spec.type=Edge"},
		// v1beta1 shows only the derived status, which clients cannot write.
		{apps("v1beta1"), "nodepools", "NodePool", false, "nodepool-v1beta1.yaml",
			setField("changed", "spec", "annotations", "conformance.yurt.io/spec"), nil, "spec.type=Cloud"},
		{apps("v1beta1"), "yurtappsets", "YurtAppSet", true, "yurtappset.yaml",
			setField(int64(5), "spec", "revisionHistoryLimit"), setField(int64(1), "status", "totalWorkloads"), ""},
		{apps("v1alpha1"), "yurtappdaemons", "YurtAppDaemon", true, "yurtappdaemon.yaml",
			setField(int64(5), "spec", "revisionHistoryLimit"), setField("Deployment", "status", "templateType"), ""},
		{apps("v1alpha1"), "responsefilters", "ResponseFilter", false, "responsefilter.yaml",
			setField(int64(7), "spec", "priority"), setField(int64(1), "status", "observedGeneration"), ""},
		{iot, "devices", "Device", true, "device.yaml",
			setField("changed", "spec", "description"), setField(true, "status", "synced"), "spec.nodePool=hangzhou"},
		{iot, "deviceservices", "DeviceService", true, "deviceservice.yaml",
			setField("changed", "spec", "description"), setField(true, "status", "synced"), "spec.nodePool=hangzhou"},
		{iot, "deviceprofiles", "DeviceProfile", true, "deviceprofile.yaml",
			setField("changed", "spec", "description"), setField(true, "status", "synced"), "spec.nodePool=hangzhou"},
		{iot, "platformadmins", "PlatformAdmin", true, "platformadmin.yaml",
			setField("changed", "spec", "imageRegistry"), setField(true, "status", "ready"), "spec.poolName=hangzhou"},
	}
	var out []Resource
	for _, d := range defs {
		sample, err := loadSample(filepath.Join(examplesDir, d.file))
		if err != nil {
			return nil, err
		}
		out = append(out, Resource{
			GVR: d.gv.WithResource(d.resource), Kind: d.kind, Namespaced: d.namespaced,
			Sample: sample, MutateSpec: d.spec, MutateStatus: d.status, FieldSelector: d.field,
		})
	}
	return out, nil
}

// CRDNodePool is the reference: NodePool v1beta2 served by the CustomResourceDefinition in
// test/testdata/nodepool-crd.yaml, with the same sample and mutations as ours.
func CRDNodePool(examplesDir string) (Resource, error) {
	ours, err := YurtResources(examplesDir)
	if err != nil {
		return Resource{}, err
	}
	r := ours[0]
	sample := r.Sample
	r.GVR = schema.GroupVersionResource{Group: "crd.openyurt.io", Version: "v1beta2", Resource: "nodepools"}
	r.Sample = func(name string) *unstructured.Unstructured {
		u := sample(name)
		u.SetAPIVersion(r.GVR.GroupVersion().String())
		return u
	}
	return r, nil
}

// KnownDifferences are the observations in which yurt-apiserver's NodePool differs from the
// CRD reference on purpose, with the reason. The README lists them too.
var KnownDifferences = map[string]string{
	"patch-strategic-merge": "yurt-apiserver serves Go types, so strategic-merge patches work; CRDs reject them with 415",
	"protobuf":              "yurt-apiserver serves protobuf; CRDs serve only JSON and YAML, and answer a protobuf-only Accept with 406",
}
