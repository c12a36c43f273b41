// Package workload renders and keeps in step the per-pool Deployments and StatefulSets of
// YurtAppSets and YurtAppDaemons: one workload per selected pool, pinned to the pool by node
// selector, labelled as OpenYurt labels them, owned by the set, with the set's per-pool
// tweaks applied (replicas, container images, JSON patches with {{nodepool-name}}). It also
// keeps the owner's revision history as ControllerRevisions. Both controllers call it, so the
// two kinds behave the same way.
package workload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
)

// Labels and annotations on per-pool workloads (OpenYurt's names where it has them).
const (
	// PoolNameLabel names the pool a workload runs in.
	PoolNameLabel = apps.PoolNameLabel
	// RevisionLabel holds the hash of the owner revision a workload was rendered from.
	RevisionLabel = "apps.openyurt.io/controller-revision-hash"
	// RefYurtAppSetLabel and RefYurtAppDaemonLabel name the owning set.
	RefYurtAppSetLabel    = "apps.openyurt.io/ref-yurtappset"
	RefYurtAppDaemonLabel = "apps.openyurt.io/ref-yurtappdaemon"
	// RenderedHashAnnotation is a hash of what was rendered for the pool (template, tweaks,
	// pool), so a change of any of them, and only that, rewrites the workload.
	RenderedHashAnnotation = "apps.openyurt.io/rendered-hash"
	// PoolNamePlaceholder in a patch value is replaced by the pool's name.
	PoolNamePlaceholder = "{{nodepool-name}}"
)

// Kind is the kind of per-pool workload.
type Kind string

const (
	KindDeployment  Kind = "Deployment"
	KindStatefulSet Kind = "StatefulSet"
)

// Template is a workload template: exactly one of Deployment or StatefulSet, holding the
// template's metadata and spec.
type Template struct {
	Deployment  *appsv1.Deployment
	StatefulSet *appsv1.StatefulSet
}

// Kind is the kind the template renders.
func (t Template) Kind() Kind {
	if t.StatefulSet != nil {
		return KindStatefulSet
	}
	return KindDeployment
}

// TemplateFromV1beta1 converts a YurtAppSet template.
func TemplateFromV1beta1(t *appsv1beta1.WorkloadTemplate) (Template, error) {
	switch {
	case t.DeploymentTemplate != nil:
		return Template{Deployment: &appsv1.Deployment{ObjectMeta: *t.DeploymentTemplate.ObjectMeta.DeepCopy(), Spec: *t.DeploymentTemplate.Spec.DeepCopy()}}, nil
	case t.StatefulSetTemplate != nil:
		return Template{StatefulSet: &appsv1.StatefulSet{ObjectMeta: *t.StatefulSetTemplate.ObjectMeta.DeepCopy(), Spec: *t.StatefulSetTemplate.Spec.DeepCopy()}}, nil
	}
	return Template{}, fmt.Errorf("spec.workload.workloadTemplate: neither deploymentTemplate nor statefulSetTemplate is set")
}

// TemplateFromV1alpha1 converts a YurtAppDaemon template.
func TemplateFromV1alpha1(t *appsv1alpha1.WorkloadTemplate) (Template, error) {
	switch {
	case t.DeploymentTemplate != nil:
		return Template{Deployment: &appsv1.Deployment{ObjectMeta: *t.DeploymentTemplate.ObjectMeta.DeepCopy(), Spec: *t.DeploymentTemplate.Spec.DeepCopy()}}, nil
	case t.StatefulSetTemplate != nil:
		return Template{StatefulSet: &appsv1.StatefulSet{ObjectMeta: *t.StatefulSetTemplate.ObjectMeta.DeepCopy(), Spec: *t.StatefulSetTemplate.Spec.DeepCopy()}}, nil
	}
	return Template{}, fmt.Errorf("spec.workloadTemplate: neither deploymentTemplate nor statefulSetTemplate is set")
}

// Owner is the set whose workloads are rendered.
type Owner struct {
	Name, Namespace string
	UID             string
	GVK             schema.GroupVersionKind
	// RefLabel is RefYurtAppSetLabel or RefYurtAppDaemonLabel.
	RefLabel string
}

// OwnerReference is the controller reference the workloads carry, so kube-controller-manager's
// garbage collector deletes them with their owner.
func (o Owner) OwnerReference() metav1.OwnerReference {
	return *metav1.NewControllerRef(&metav1.ObjectMeta{Name: o.Name, UID: types.UID(o.UID)}, o.GVK)
}

// WorkloadName is the name of the owner's workload in pool: <owner>-<pool>-<5 chars>, the
// shape OpenYurt's generateName gives, but derived from the owner's UID and the pool so that
// a retry after a stale cache gets AlreadyExists instead of a second workload. It fits a
// DNS label (63 characters), which StatefulSet pods need.
func WorkloadName(ownerName, ownerUID, pool string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(ownerUID + "/" + pool))
	suffix := rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
	if len(suffix) > 5 {
		suffix = suffix[:5]
	}
	prefix := ownerName + "-" + pool
	if max := 63 - 1 - len(suffix); len(prefix) > max {
		prefix = strings.TrimRight(prefix[:max], "-.")
	}
	return prefix + "-" + suffix
}

// Rendered is the desired workload of one pool.
type Rendered struct {
	Pool string
	Kind Kind
	// Exactly one is set, per Kind.
	Deployment  *appsv1.Deployment
	StatefulSet *appsv1.StatefulSet
	// Hash is also in the RenderedHashAnnotation.
	Hash string
}

// Object is the rendered workload's metadata.
func (r *Rendered) Object() metav1.Object {
	if r.Deployment != nil {
		return r.Deployment
	}
	return r.StatefulSet
}

// Render builds pool's workload from the template: name, namespace, owner reference, the
// template's labels plus the pool, owner and revision labels, a node selector pinning it to
// the pool merged with the template's, then the tweaks in order. The error names the tweak
// that failed (a patch that does not apply, a container that does not exist).
func Render(owner Owner, tmpl Template, pool, revisionHash string, tweaks []appsv1beta1.Tweaks) (*Rendered, error) {
	name := WorkloadName(owner.Name, owner.UID, pool)
	ourLabels := map[string]string{PoolNameLabel: pool, owner.RefLabel: owner.Name, RevisionLabel: revisionHash}
	var obj any
	var meta *metav1.ObjectMeta
	var podSpecSelector *map[string]string
	var replicas **int32
	var containers func() []containerRef
	switch {
	case tmpl.Deployment != nil:
		d := &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: *tmpl.Deployment.ObjectMeta.DeepCopy(),
			Spec:       *tmpl.Deployment.Spec.DeepCopy(),
		}
		obj, meta, replicas = d, &d.ObjectMeta, &d.Spec.Replicas
		podSpecSelector = &d.Spec.Template.Spec.NodeSelector
		containers = func() []containerRef {
			return containerRefs(&d.Spec.Template.Spec.InitContainers, &d.Spec.Template.Spec.Containers)
		}
	case tmpl.StatefulSet != nil:
		s := &appsv1.StatefulSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: *tmpl.StatefulSet.ObjectMeta.DeepCopy(),
			Spec:       *tmpl.StatefulSet.Spec.DeepCopy(),
		}
		obj, meta, replicas = s, &s.ObjectMeta, &s.Spec.Replicas
		podSpecSelector = &s.Spec.Template.Spec.NodeSelector
		containers = func() []containerRef {
			return containerRefs(&s.Spec.Template.Spec.InitContainers, &s.Spec.Template.Spec.Containers)
		}
	default:
		return nil, fmt.Errorf("the workload template is empty")
	}
	// Only the template's labels and annotations are carried over from its metadata.
	*meta = metav1.ObjectMeta{
		Name:            name,
		Namespace:       owner.Namespace,
		Labels:          merged(meta.Labels, ourLabels),
		Annotations:     maps.Clone(meta.Annotations),
		OwnerReferences: []metav1.OwnerReference{owner.OwnerReference()},
	}
	*podSpecSelector = merged(*podSpecSelector, map[string]string{apps.NodePoolLabel: pool})

	for i, tw := range tweaks {
		if tw.Replicas != nil {
			r := *tw.Replicas
			*replicas = &r
		}
		for _, img := range tw.ContainerImages {
			found := false
			for _, c := range containers() {
				if c.name == img.Name {
					*c.image = img.TargetImage
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("tweak %d: containerImages names container %q, which the template does not have", i, img.Name)
			}
		}
		if len(tw.Patches) > 0 {
			patched, err := applyPatches(obj, tw.Patches, pool)
			if err != nil {
				return nil, fmt.Errorf("tweak %d: %w", i, err)
			}
			obj = patched
			switch o := obj.(type) {
			case *appsv1.Deployment:
				meta, replicas = &o.ObjectMeta, &o.Spec.Replicas
				containers = func() []containerRef {
					return containerRefs(&o.Spec.Template.Spec.InitContainers, &o.Spec.Template.Spec.Containers)
				}
			case *appsv1.StatefulSet:
				meta, replicas = &o.ObjectMeta, &o.Spec.Replicas
				containers = func() []containerRef {
					return containerRefs(&o.Spec.Template.Spec.InitContainers, &o.Spec.Template.Spec.Containers)
				}
			}
		}
	}
	// A patch may touch metadata or the node selector; what identifies the workload and
	// pins it to its pool is not negotiable.
	meta.Name, meta.Namespace = name, owner.Namespace
	meta.OwnerReferences = []metav1.OwnerReference{owner.OwnerReference()}
	meta.Labels = merged(meta.Labels, ourLabels)

	r := &Rendered{Pool: pool, Kind: tmpl.Kind()}
	var selector **metav1.LabelSelector
	var podMeta *metav1.ObjectMeta
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r.Deployment = o
		podSpecSelector, selector, podMeta = &o.Spec.Template.Spec.NodeSelector, &o.Spec.Selector, &o.Spec.Template.ObjectMeta
	case *appsv1.StatefulSet:
		r.StatefulSet = o
		podSpecSelector, selector, podMeta = &o.Spec.Template.Spec.NodeSelector, &o.Spec.Selector, &o.Spec.Template.ObjectMeta
	}
	*podSpecSelector = merged(*podSpecSelector, map[string]string{apps.NodePoolLabel: pool})
	// The pool's pods carry the pool label and the workload selects on it, as OpenYurt does,
	// so the workloads of different pools never select each other's pods.
	podMeta.Labels = merged(podMeta.Labels, map[string]string{PoolNameLabel: pool})
	if *selector == nil {
		*selector = &metav1.LabelSelector{}
	}
	(*selector).MatchLabels = merged((*selector).MatchLabels, map[string]string{PoolNameLabel: pool})
	hash, err := renderedHash(obj)
	if err != nil {
		return nil, err
	}
	r.Hash = hash
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[RenderedHashAnnotation] = hash
	return r, nil
}

type containerRef struct {
	name  string
	image *string
}

func containerRefs(lists ...*[]corev1.Container) []containerRef {
	var out []containerRef
	for _, l := range lists {
		for i := range *l {
			out = append(out, containerRef{name: (*l)[i].Name, image: &(*l)[i].Image})
		}
	}
	return out
}

// applyPatches applies JSON patch operations to the workload's JSON, with {{nodepool-name}}
// in values replaced by pool, and decodes the result strictly: a patch that adds a field the
// workload does not have is an error, not a silent no-op.
func applyPatches(obj any, patches []appsv1beta1.Patch, pool string) (any, error) {
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding the workload: %w", err)
	}
	for j, p := range patches {
		op := map[string]any{"op": string(p.Operation), "path": p.Path}
		if p.Operation != appsv1beta1.REMOVE {
			raw := p.Value.Raw
			if len(raw) == 0 {
				return nil, fmt.Errorf("patch %d (%s %s): no value", j, p.Operation, p.Path)
			}
			// Substitute inside the JSON text, so the placeholder works in strings nested
			// anywhere in the value. Pool names are DNS labels: no quoting is needed.
			op["value"] = json.RawMessage(bytes.ReplaceAll(raw, []byte(PoolNamePlaceholder), []byte(pool)))
		}
		ops := []any{op}
		if p.Operation == appsv1beta1.REPLACE {
			// RFC 6902 requires replace's target to exist; json-patch v4 would add it.
			// remove + add at the same path is replace, and remove fails on a missing target.
			ops = []any{map[string]any{"op": "remove", "path": p.Path}, map[string]any{"op": "add", "path": p.Path, "value": op["value"]}}
		}
		opJSON, err := json.Marshal(ops)
		if err != nil {
			return nil, fmt.Errorf("patch %d (%s %s): %w", j, p.Operation, p.Path, err)
		}
		patch, err := jsonpatch.DecodePatch(opJSON)
		if err != nil {
			return nil, fmt.Errorf("patch %d (%s %s): %w", j, p.Operation, p.Path, err)
		}
		if doc, err = patch.Apply(doc); err != nil {
			return nil, fmt.Errorf("patch %d (%s %s) does not apply: %w", j, p.Operation, p.Path, err)
		}
	}
	var out any
	switch obj.(type) {
	case *appsv1.Deployment:
		out = &appsv1.Deployment{}
	case *appsv1.StatefulSet:
		out = &appsv1.StatefulSet{}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return nil, fmt.Errorf("the patched workload is not a valid %T: %w", out, err)
	}
	return out, nil
}

// renderedHash hashes what the controller writes: labels, annotations and spec.
func renderedHash(obj any) (string, error) {
	var v any
	switch o := obj.(type) {
	case *appsv1.Deployment:
		v = []any{o.Labels, o.Annotations, o.Spec}
	case *appsv1.StatefulSet:
		v = []any{o.Labels, o.Annotations, o.Spec}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hashing the rendered workload: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return rand.SafeEncodeString(fmt.Sprint(h.Sum64())), nil
}

// merged returns base with extra on top, as a new map.
func merged(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	maps.Copy(out, base)
	maps.Copy(out, extra)
	return out
}
