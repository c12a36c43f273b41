package workload

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
)

var testOwner = Owner{Name: "web", Namespace: "ns", UID: "uid-1", GVK: appsv1beta1.SchemeGroupVersion.WithKind("YurtAppSet"), RefLabel: RefYurtAppSetLabel}

func deploymentTemplate() Template {
	one := int32(1)
	return Template{Deployment: &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"note": "x"}, Name: "ignored"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					NodeSelector:   map[string]string{"disk": "ssd"},
					InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1"}},
					Containers:     []corev1.Container{{Name: "nginx", Image: "nginx:1"}, {Name: "side", Image: "side:1"}},
				},
			},
		},
	}}
}

func patch(op appsv1beta1.PatchOperation, path, value string) appsv1beta1.Patch {
	p := appsv1beta1.Patch{Operation: op, Path: path}
	if value != "" {
		p.Value = apiextensionsv1.JSON{Raw: []byte(value)}
	}
	return p
}

func TestRender(t *testing.T) {
	three, five := int32(3), int32(5)
	tests := []struct {
		name    string
		tweaks  []appsv1beta1.Tweaks
		check   func(t *testing.T, d *appsv1.Deployment)
		wantErr string
	}{
		{name: "no tweaks", check: func(t *testing.T, d *appsv1.Deployment) {
			if *d.Spec.Replicas != 1 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1" {
				t.Errorf("template changed: %+v", d.Spec)
			}
		}},
		{name: "replicas, later tweak wins", tweaks: []appsv1beta1.Tweaks{{Replicas: &three}, {Replicas: &five}}, check: func(t *testing.T, d *appsv1.Deployment) {
			if *d.Spec.Replicas != 5 {
				t.Errorf("replicas %d, want 5", *d.Spec.Replicas)
			}
		}},
		{name: "images of containers and init containers", tweaks: []appsv1beta1.Tweaks{{ContainerImages: []appsv1beta1.ImageItem{{Name: "nginx", TargetImage: "nginx:2"}, {Name: "init", TargetImage: "busybox:2"}}}},
			check: func(t *testing.T, d *appsv1.Deployment) {
				ps := d.Spec.Template.Spec
				if ps.Containers[0].Image != "nginx:2" || ps.InitContainers[0].Image != "busybox:2" || ps.Containers[1].Image != "side:1" {
					t.Errorf("images: %+v %+v", ps.Containers, ps.InitContainers)
				}
			}},
		{name: "missing container", tweaks: []appsv1beta1.Tweaks{{ContainerImages: []appsv1beta1.ImageItem{{Name: "nope", TargetImage: "x"}}}}, wantErr: `tweak 0: containerImages names container "nope"`},
		{name: "patches with pool name", tweaks: []appsv1beta1.Tweaks{{Patches: []appsv1beta1.Patch{
			patch(appsv1beta1.ADD, "/metadata/labels/site", `"site-{{nodepool-name}}"`),
			patch(appsv1beta1.REPLACE, "/spec/template/spec/containers/0/env", `[{"name":"POOL","value":"{{nodepool-name}}"}]`),
		}}}, wantErr: `patch 1 (replace /spec/template/spec/containers/0/env) does not apply`},
		{name: "add env with pool name", tweaks: []appsv1beta1.Tweaks{{Patches: []appsv1beta1.Patch{
			patch(appsv1beta1.ADD, "/metadata/labels/site", `"site-{{nodepool-name}}"`),
			patch(appsv1beta1.ADD, "/spec/template/spec/containers/0/env", `[{"name":"POOL","value":"{{nodepool-name}}"}]`),
			patch(appsv1beta1.REMOVE, "/spec/template/spec/containers/1", ""),
		}}}, check: func(t *testing.T, d *appsv1.Deployment) {
			if d.Labels["site"] != "site-pool-a" {
				t.Errorf("label site = %q", d.Labels["site"])
			}
			cs := d.Spec.Template.Spec.Containers
			if len(cs) != 1 || len(cs[0].Env) != 1 || cs[0].Env[0].Value != "pool-a" {
				t.Errorf("containers %+v", cs)
			}
		}},
		{name: "patch cannot take the workload out of its pool", tweaks: []appsv1beta1.Tweaks{{Patches: []appsv1beta1.Patch{
			patch(appsv1beta1.REPLACE, "/metadata/labels", `{"x":"y"}`),
			patch(appsv1beta1.REPLACE, "/metadata/name", `"other"`),
		}}}, check: func(t *testing.T, d *appsv1.Deployment) {
			if d.Labels[PoolNameLabel] != "pool-a" || d.Labels["x"] != "y" || d.Name != WorkloadName("web", "uid-1", "pool-a") {
				t.Errorf("meta %+v", d.ObjectMeta)
			}
		}},
		{name: "remove missing path", tweaks: []appsv1beta1.Tweaks{{Patches: []appsv1beta1.Patch{patch(appsv1beta1.REMOVE, "/spec/paused", "")}}}, wantErr: "patch 0 (remove /spec/paused) does not apply"},
		{name: "unknown field", tweaks: []appsv1beta1.Tweaks{{Patches: []appsv1beta1.Patch{patch(appsv1beta1.ADD, "/spec/bogus", `1`)}}}, wantErr: `unknown field "bogus"`},
		{name: "wrong type", tweaks: []appsv1beta1.Tweaks{{Patches: []appsv1beta1.Patch{patch(appsv1beta1.REPLACE, "/spec/replicas", `"three"`)}}}, wantErr: "not a valid"},
		{name: "second tweak fails", tweaks: []appsv1beta1.Tweaks{{Replicas: &three}, {ContainerImages: []appsv1beta1.ImageItem{{Name: "x", TargetImage: "y"}}}}, wantErr: "tweak 1:"},
		{name: "images after patches see the patched containers", tweaks: []appsv1beta1.Tweaks{
			{Patches: []appsv1beta1.Patch{patch(appsv1beta1.ADD, "/spec/template/spec/containers/-", `{"name":"extra","image":"e:1"}`)}},
			{ContainerImages: []appsv1beta1.ImageItem{{Name: "extra", TargetImage: "e:2"}}},
		}, check: func(t *testing.T, d *appsv1.Deployment) {
			if c := d.Spec.Template.Spec.Containers; len(c) != 3 || c[2].Image != "e:2" {
				t.Errorf("containers %+v", c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := deploymentTemplate()
			r, err := Render(testOwner, tmpl, "pool-a", "rev1", tc.tweaks)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := r.Deployment
			// What every rendering guarantees.
			if d.Name != WorkloadName("web", "uid-1", "pool-a") || d.Namespace != "ns" {
				t.Errorf("name %s/%s", d.Namespace, d.Name)
			}
			for k, v := range map[string]string{PoolNameLabel: "pool-a", RefYurtAppSetLabel: "web", RevisionLabel: "rev1"} {
				if d.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, d.Labels[k], v)
				}
			}
			if ns := d.Spec.Template.Spec.NodeSelector; ns[apps.NodePoolLabel] != "pool-a" || ns["disk"] != "ssd" {
				t.Errorf("node selector %v", ns)
			}
			if d.Spec.Selector.MatchLabels[PoolNameLabel] != "pool-a" || d.Spec.Template.Labels[PoolNameLabel] != "pool-a" {
				t.Errorf("selector %v / pod labels %v must include the pool", d.Spec.Selector, d.Spec.Template.Labels)
			}
			if tmpl.Deployment.Spec.Selector.MatchLabels[PoolNameLabel] != "" {
				t.Errorf("template selector mutated")
			}
			if ref := metav1.GetControllerOf(d); ref == nil || ref.UID != "uid-1" || ref.Kind != "YurtAppSet" || ref.APIVersion != "apps.openyurt.io/v1beta1" {
				t.Errorf("owner %+v", d.OwnerReferences)
			}
			if d.Annotations[RenderedHashAnnotation] != r.Hash || r.Hash == "" {
				t.Errorf("hash annotation %q vs %q", d.Annotations[RenderedHashAnnotation], r.Hash)
			}
			// The template is not modified.
			if tmpl.Deployment.Spec.Template.Spec.NodeSelector[apps.NodePoolLabel] != "" || *tmpl.Deployment.Spec.Replicas != 1 {
				t.Errorf("template mutated")
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func TestRenderHashChangesWithInputs(t *testing.T) {
	two := int32(2)
	base, _ := Render(testOwner, deploymentTemplate(), "a", "rev1", nil)
	again, _ := Render(testOwner, deploymentTemplate(), "a", "rev1", nil)
	otherPool, _ := Render(testOwner, deploymentTemplate(), "b", "rev1", nil)
	otherRev, _ := Render(testOwner, deploymentTemplate(), "a", "rev2", nil)
	tweaked, _ := Render(testOwner, deploymentTemplate(), "a", "rev1", []appsv1beta1.Tweaks{{Replicas: &two}})
	if base.Hash != again.Hash {
		t.Fatal("rendering is not deterministic")
	}
	for name, r := range map[string]*Rendered{"pool": otherPool, "revision": otherRev, "tweak": tweaked} {
		if r.Hash == base.Hash {
			t.Errorf("changing the %s keeps the hash", name)
		}
	}
}

func TestRenderStatefulSet(t *testing.T) {
	tmpl := Template{StatefulSet: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1"}}},
	}}}}
	r, err := Render(testOwner, tmpl, "p", "h", []appsv1beta1.Tweaks{{
		ContainerImages: []appsv1beta1.ImageItem{{Name: "db", TargetImage: "db:2"}},
		Patches:         []appsv1beta1.Patch{patch(appsv1beta1.ADD, "/spec/serviceName", `"db-{{nodepool-name}}"`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := r.StatefulSet
	if r.Kind != KindStatefulSet || s.Spec.ServiceName != "db-p" || s.Spec.Template.Spec.Containers[0].Image != "db:2" || s.Spec.Template.Spec.NodeSelector[apps.NodePoolLabel] != "p" {
		t.Fatalf("%+v", s)
	}
}

func TestWorkloadName(t *testing.T) {
	n := WorkloadName("web", "uid", "pool-a")
	if !strings.HasPrefix(n, "web-pool-a-") || len(n) != len("web-pool-a-")+5 {
		t.Errorf("name %q", n)
	}
	if WorkloadName("web", "uid", "pool-a") != n || WorkloadName("web", "uid2", "pool-a") == n || WorkloadName("web", "uid", "pool-b") == n {
		t.Error("names must depend on owner UID and pool only")
	}
	long := WorkloadName(strings.Repeat("a", 60), "uid", strings.Repeat("p", 60))
	if len(long) > 63 {
		t.Errorf("name %q longer than 63", long)
	}
}

func pool(name string, labels map[string]string) *appsv1beta2.NodePool {
	return &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestSelectPools(t *testing.T) {
	now := metav1.Now()
	deleting := pool("d", map[string]string{"edge": "true"})
	deleting.DeletionTimestamp = &now
	pools := []*appsv1beta2.NodePool{pool("a", map[string]string{"edge": "true"}), pool("b", nil), pool("c", map[string]string{"edge": "true"}), deleting}
	tests := []struct {
		name          string
		selector      *metav1.LabelSelector
		names         []string
		want, missing []string
	}{
		{name: "nothing"},
		{name: "selector", selector: &metav1.LabelSelector{MatchLabels: map[string]string{"edge": "true"}}, want: []string{"a", "c"}},
		{name: "empty selector is all", selector: &metav1.LabelSelector{}, want: []string{"a", "b", "c"}},
		{name: "union with names", selector: &metav1.LabelSelector{MatchLabels: map[string]string{"edge": "true"}}, names: []string{"b", "a", "zz"}, want: []string{"a", "b", "c"}, missing: []string{"zz"}},
		{name: "deleting pool is not selected", names: []string{"d"}, missing: []string{"d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, missing, err := SelectPools(pools, tc.selector, tc.names)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || strings.Join(missing, ",") != strings.Join(tc.missing, ",") {
				t.Fatalf("got %v missing %v, want %v missing %v", got, missing, tc.want, tc.missing)
			}
		})
	}
}

func TestTweaksFor(t *testing.T) {
	one, two := int32(1), int32(2)
	tweaks := []appsv1beta1.WorkloadTweak{
		{Pools: []string{"a"}, Tweaks: appsv1beta1.Tweaks{Replicas: &one}},
		{NodePoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"big": "true"}}, Tweaks: appsv1beta1.Tweaks{Replicas: &two}},
	}
	for _, tc := range []struct {
		pool   string
		labels map[string]string
		want   []int32
	}{
		{"a", nil, []int32{1}},
		{"a", map[string]string{"big": "true"}, []int32{1, 2}},
		{"b", map[string]string{"big": "true"}, []int32{2}},
		{"b", nil, nil},
	} {
		got, err := TweaksFor(tweaks, tc.pool, tc.labels)
		if err != nil {
			t.Fatal(err)
		}
		var reps []int32
		for _, g := range got {
			reps = append(reps, *g.Replicas)
		}
		if len(reps) != len(tc.want) || (len(reps) > 0 && reps[len(reps)-1] != tc.want[len(tc.want)-1]) {
			t.Errorf("pool %s %v: got %v, want %v", tc.pool, tc.labels, reps, tc.want)
		}
	}
}

func TestRevisionHash(t *testing.T) {
	if RevisionHash([]byte("a"), 0) == RevisionHash([]byte("b"), 0) || RevisionHash([]byte("a"), 0) == RevisionHash([]byte("a"), 1) {
		t.Fatal("hash must depend on data and collision count")
	}
	if RevisionHash([]byte("a"), 0) != RevisionHash([]byte("a"), 0) {
		t.Fatal("hash is not deterministic")
	}
}

// FuzzRenderPatch applies arbitrary patch operations: rendering never panics, and whatever
// applies still yields a workload named, labelled and pinned for its pool.
func FuzzRenderPatch(f *testing.F) {
	f.Add("add", "/metadata/labels/x", `"{{nodepool-name}}"`)
	f.Add("replace", "/spec/template/spec/nodeSelector", `{}`)
	f.Add("remove", "/spec/template/spec/containers/0", ``)
	f.Add("replace", "/spec/replicas", `"x"`)
	f.Add("add", "/spec/template/spec/containers/-", `{"name":"{{nodepool-name}}","image":"i"}`)
	f.Add("remove", "/metadata", ``)
	f.Add("add", "/~1/~0", `[[[`)
	f.Fuzz(func(t *testing.T, op, path, value string) {
		p := appsv1beta1.Patch{Operation: appsv1beta1.PatchOperation(op), Path: path}
		if value != "" {
			p.Value = apiextensionsv1.JSON{Raw: []byte(value)}
		}
		r, err := Render(testOwner, deploymentTemplate(), "pool-a", "rev", []appsv1beta1.Tweaks{{Patches: []appsv1beta1.Patch{p}}})
		if err != nil {
			return
		}
		d := r.Deployment
		if d.Name != WorkloadName("web", "uid-1", "pool-a") || d.Labels[PoolNameLabel] != "pool-a" ||
			d.Spec.Template.Spec.NodeSelector[apps.NodePoolLabel] != "pool-a" || metav1.GetControllerOf(d) == nil {
			t.Fatalf("patch %s %s %s unpinned the workload: %+v", op, path, value, d.ObjectMeta)
		}
	})
}
