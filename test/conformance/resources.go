package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
		columns    string
	}{
		{apps("v1beta2"), "nodepools", "NodePool", false, "nodepool-v1beta2.yaml",
			setField("changed", "spec", "annotations", "conformance.yurt.io/spec"), setField(int64(1), "status", "leaderNum"), "spec.type=Edge", "name,type,readynodes,notreadynodes,leadernodes,leaderelectionage,age"},
		// v1beta1 shows only the derived status, which clients cannot write.
		{apps("v1beta1"), "nodepools", "NodePool", false, "nodepool-v1beta1.yaml",
			setField("changed", "spec", "annotations", "conformance.yurt.io/spec"), nil, "spec.type=Cloud", "name,type,readynodes,notreadynodes,leadernodes,leaderelectionage,age"},
		{apps("v1beta1"), "yurtappsets", "YurtAppSet", true, "yurtappset.yaml",
			setField(int64(7), "spec", "revisionHistoryLimit"), setField(int64(1), "status", "totalWorkloads"), "", "name,ready,workload,updated,age"},
		{apps("v1alpha1"), "yurtappdaemons", "YurtAppDaemon", true, "yurtappdaemon.yaml",
			setField(int64(7), "spec", "revisionHistoryLimit"), setField("Deployment", "status", "templateType"), "", "name,workloadtemplate,age"},
		{apps("v1alpha1"), "responsefilters", "ResponseFilter", false, "responsefilter.yaml",
			setField(int64(7), "spec", "priority"), setField(int64(1), "status", "observedGeneration"), "", "name,priority,failurepolicy,useragents,resources,age"},
		{iot, "devices", "Device", true, "device.yaml",
			setField("changed", "spec", "description"), setField(true, "status", "synced"), "spec.nodePool=hangzhou", "name,nodepool,synced,age"},
		{iot, "deviceservices", "DeviceService", true, "deviceservice.yaml",
			setField("changed", "spec", "description"), setField(true, "status", "synced"), "spec.nodePool=hangzhou", "name,nodepool,synced,age"},
		{iot, "deviceprofiles", "DeviceProfile", true, "deviceprofile.yaml",
			setField("changed", "spec", "description"), setField(true, "status", "synced"), "spec.nodePool=hangzhou", "name,nodepool,synced,age"},
		{iot, "platformadmins", "PlatformAdmin", true, "platformadmin.yaml",
			setField("changed", "spec", "imageRegistry"), setField(true, "status", "ready"), "spec.poolName=hangzhou", "name,ready,readycomponents,notreadycomponents,age"},
	}
	var out []Resource
	for _, d := range defs {
		sample, err := loadSample(filepath.Join(examplesDir, d.file))
		if err != nil {
			return nil, err
		}
		out = append(out, Resource{
			GVR: d.gv.WithResource(d.resource), Kind: d.kind, Namespaced: d.namespaced,
			Sample: sample, MutateSpec: d.spec, MutateStatus: d.status, FieldSelector: d.field, Columns: d.columns,
		})
	}
	return out, nil
}

// CRDNodePool is the reference: NodePool v1beta2 served by the CustomResourceDefinition in
// test/conformance/testdata/nodepool-crd.yaml (CRDManifest), with the same sample and mutations as ours.
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

// KnownDifferences are the observations in which yurt-apiserver's resources differ from the
// CRD reference on purpose, with the reason. A key is a check's name (every resource) or
// "<resource>.<group>/<version> <check>" (one resource). The README lists them too.
var KnownDifferences = map[string]string{
	"patch-strategic-merge": "yurt-apiserver serves Go types, so strategic-merge patches work; CRDs reject them with 415",
	"protobuf":              "yurt-apiserver serves protobuf; CRDs serve only JSON and YAML, and answer a protobuf-only Accept with 406",
	"nodepools.apps.openyurt.io/v1beta1 status-subresource": "v1beta1 status holds only nodes, readyNodeNum and unreadyNodeNum, which yurt-apiserver derives from the Nodes; " +
		"no client may write them, so an update of /status changes nothing (OpenYurt's CRD lets any client with RBAC on nodepools/status overwrite them)",
}

// Label names a resource the way KnownDifferences keys do: "<resource>.<group>/<version>".
func Label(r Resource) string {
	return r.GVR.Resource + "." + r.GVR.Group + "/" + r.GVR.Version
}

// KnownDifference says whether yurt-apiserver's r may differ from the CRD reference in
// check, and why.
func KnownDifference(r Resource, check string) (string, bool) {
	if reason, ok := KnownDifferences[Label(r)+" "+check]; ok {
		return reason, true
	}
	reason, ok := KnownDifferences[check]
	return reason, ok
}

// Expected is the observation r should make in check, given the CRD reference's
// observation: the same, except where it names kind-specific things (the Table's columns
// and the field selectors beyond metadata.name), which r declares itself.
func Expected(r Resource, check, reference string) string {
	switch check {
	case "table":
		return "columns=" + r.Columns
	case "selectors":
		obs := "label metadata.name"
		if r.FieldSelector != "" {
			obs += " " + strings.Split(r.FieldSelector, "=")[0]
		}
		return obs
	}
	return reference
}
