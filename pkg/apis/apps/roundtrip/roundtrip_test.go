package roundtrip

import (
	"encoding/json"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/diff"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/randfill"

	wellknown "github.com/yurt-edge/yurt/apis/apps"
	extv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	extv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
	appsinstall "github.com/yurt-edge/yurt/pkg/apis/apps/install"
	convv1beta1 "github.com/yurt-edge/yurt/pkg/apis/apps/v1beta1"
	convv1beta2 "github.com/yurt-edge/yurt/pkg/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/apis/apps/validation"
	"github.com/yurt-edge/yurt/pkg/apis/iot"
	iotinstall "github.com/yurt-edge/yurt/pkg/apis/iot/install"
	iotvalidation "github.com/yurt-edge/yurt/pkg/apis/iot/validation"
)

// v1beta2SpecAnnotation carries the v1beta2-only NodePool spec through v1beta1.
const v1beta2SpecAnnotation = convv1beta1.V1beta2SpecAnnotation

// appsScheme is shared by the fuzz targets, which run many inputs per process.
var appsScheme = newScheme(appsinstall.Install)

func newScheme(install func(*runtime.Scheme) error) *runtime.Scheme {
	scheme := runtime.NewScheme()
	if err := install(scheme); err != nil {
		panic(err)
	}
	return scheme
}

// mustInstall adapts an Install that returns an error to roundtrip.InstallFunc.
func mustInstall(install func(*runtime.Scheme) error) roundtrip.InstallFunc {
	return func(scheme *runtime.Scheme) {
		if err := install(scheme); err != nil {
			panic(err)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// (a) Randomised round trips through every version, with the generic apimachinery harness.
// ---------------------------------------------------------------------------------------------

// fuzzOptions tune the fuzzer funcs.
type fuzzOptions struct {
	// keepLeaderStatus fills the NodePool status fields only v1beta2 has. v1beta1 drops them by
	// design (only the server writes status), so it must be off when v1beta1 is in the trip.
	keepLeaderStatus bool
}

// appsFuzzerFuncs produce internal objects that are already in their defaulted form, since the
// codec defaults what it decodes, and that hold only values the conversions can carry.
func appsFuzzerFuncs(opts fuzzOptions) fuzzer.FuzzerFuncs {
	return func(runtimeserializer.CodecFactory) []interface{} {
		return []interface{}{
			func(p *apps.NodePool, c randfill.Continue) {
				c.FillNoCustom(p)
				fixupNodePool(p, c, opts)
			},
			func(s *apps.YurtAppSet, c randfill.Continue) {
				c.FillNoCustom(s)
				if s.Spec.RevisionHistoryLimit == nil {
					s.Spec.RevisionHistoryLimit = ptr(c.Int31())
				}
			},
			func(d *apps.YurtAppDaemon, c randfill.Continue) {
				c.FillNoCustom(d)
				if d.Spec.RevisionHistoryLimit == nil {
					d.Spec.RevisionHistoryLimit = ptr(c.Int31())
				}
			},
			func(f *apps.ResponseFilter, c randfill.Continue) {
				c.FillNoCustom(f)
				if f.Spec.FailurePolicy == nil {
					f.Spec.FailurePolicy = ptr([]apps.FailurePolicyType{apps.Ignore, apps.Fail}[c.Intn(2)])
				}
			},
			fillJSON,
			func(s *appsv1.DeploymentSpec, c randfill.Continue) {
				*s = appsv1.DeploymentSpec{MinReadySeconds: c.Int31(), Paused: c.Bool()}
				if c.Bool() {
					s.Replicas = ptr(c.Int31())
				}
				s.Selector, s.Template = fillSelectorAndTemplate(c)
			},
			func(s *appsv1.StatefulSetSpec, c randfill.Continue) {
				*s = appsv1.StatefulSetSpec{ServiceName: c.String(0)}
				if c.Bool() {
					s.Replicas = ptr(c.Int31())
				}
				s.Selector, s.Template = fillSelectorAndTemplate(c)
			},
		}
	}
}

// fixupNodePool makes a fuzzed internal pool look defaulted for both v1beta1 and v1beta2.
func fixupNodePool(p *apps.NodePool, c randfill.Continue, opts fuzzOptions) {
	p.Spec.Type = []apps.NodePoolType{apps.Edge, apps.Cloud}[c.Intn(2)]
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[wellknown.NodePoolTypeLabel] = strings.ToLower(string(p.Spec.Type))
	// Only a hand-written v1beta2 object has the annotation; validation rejects it.
	delete(p.Annotations, v1beta2SpecAnnotation)
	if len(p.Annotations) == 0 {
		p.Annotations = nil
	}

	if c.Bool() {
		// The v1beta2-only fields at their defaults, so v1beta1 carries no annotation.
		p.Spec.InterConnectivity = false
		p.Spec.LeaderElectionStrategy = apps.ElectionStrategyRandom
		p.Spec.LeaderNodeLabelSelector = nil
		p.Spec.EnableLeaderElection = false
		p.Spec.LeaderReplicas = 1
		p.Spec.PoolScopeMetadata = slices.Clone(convv1beta2.DefaultPoolScopeMetadata)
	} else {
		if p.Spec.LeaderElectionStrategy == "" {
			p.Spec.LeaderElectionStrategy = []apps.LeaderElectionStrategy{apps.ElectionStrategyRandom, apps.ElectionStrategyMark}[c.Intn(2)]
		}
		if p.Spec.LeaderReplicas == 0 {
			p.Spec.LeaderReplicas = 1 + c.Int31n(5)
		}
		for _, gvr := range convv1beta2.DefaultPoolScopeMetadata {
			if !slices.Contains(p.Spec.PoolScopeMetadata, gvr) {
				p.Spec.PoolScopeMetadata = append(p.Spec.PoolScopeMetadata, gvr)
			}
		}
	}
	if !opts.keepLeaderStatus {
		dropV1beta2OnlyStatus(p)
	}
}

func dropV1beta2OnlyStatus(p *apps.NodePool) {
	p.Status.LeaderEndpoints = nil
	p.Status.LeaderNum = 0
	p.Status.LeaderLastElectedTime = metav1.Time{}
	p.Status.Conditions = nil
}

// fillJSON produces compact JSON, which is what the encoder writes back.
func fillJSON(j *apiextensionsv1.JSON, c randfill.Continue) {
	var v any
	switch c.Intn(5) {
	case 0:
		j.Raw = nil
		return
	case 1:
		v = c.String(0)
	case 2:
		v = c.Int63()
	case 3:
		v = map[string]any{c.String(0): c.String(0), "nodepool": "{{nodepool-name}}"}
	default:
		v = []any{c.Bool(), c.String(0)}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	j.Raw = raw
}

// fillSelectorAndTemplate produces a small pod template whose fields need no defaulting, so the
// codec's pod defaults leave it as it is.
func fillSelectorAndTemplate(c randfill.Continue) (*metav1.LabelSelector, corev1.PodTemplateSpec) {
	labels := map[string]string{"app": c.String(0)}
	tmpl := corev1.PodTemplateSpec{}
	c.Fill(&tmpl.ObjectMeta)
	tmpl.Labels = maps.Clone(labels)
	tmpl.Spec.HostNetwork = c.Bool()
	if c.Bool() {
		tmpl.Spec.NodeSelector = map[string]string{wellknown.NodePoolLabel: c.String(0)}
	}
	for i := range 1 + c.Intn(2) {
		ctr := corev1.Container{Name: "c" + strconv.Itoa(i), Image: c.String(0), Args: []string{c.String(0)}}
		if c.Bool() {
			ctr.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: c.Int31(), Protocol: corev1.ProtocolTCP}}
		}
		if c.Bool() {
			ctr.Env = []corev1.EnvVar{{Name: "POOL", Value: c.String(0)}}
		}
		tmpl.Spec.Containers = append(tmpl.Spec.Containers, ctr)
	}
	return &metav1.LabelSelector{MatchLabels: labels}, tmpl
}

func iotFuzzerFuncs(runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		func(a *iot.PlatformAdmin, c randfill.Continue) {
			c.FillNoCustom(a)
			if a.Spec.Platform == "" {
				a.Spec.Platform = "edgex"
			}
		},
	}
}

func TestRoundTripApps(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, mustInstall(appsinstall.Install), appsFuzzerFuncs(fuzzOptions{}))
}

func TestRoundTripIoT(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, mustInstall(iotinstall.Install), iotFuzzerFuncs)
}

// TestRoundTripNodePoolV1beta2Status round-trips pools with the leader status, which only
// v1beta2 can hold, through every version but v1beta1.
func TestRoundTripNodePoolV1beta2Status(t *testing.T) {
	scheme := newScheme(appsinstall.Install)
	codecs := runtimeserializer.NewCodecFactory(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, appsFuzzerFuncs(fuzzOptions{keepLeaderStatus: true})),
		rand.NewSource(rand.Int63()), codecs)
	skip := map[schema.GroupVersionKind]bool{
		extv1beta1.SchemeGroupVersion.WithKind("NodePool"):     true,
		extv1beta1.SchemeGroupVersion.WithKind("NodePoolList"): true,
	}
	for _, kind := range []string{"NodePool", "NodePoolList"} {
		gvk := apps.SchemeGroupVersion.WithKind(kind)
		roundtrip.RoundTripSpecificKindWithoutProtobuf(t, gvk, scheme, codecs, f, skip)
	}
}

// TestRoundTripToUnstructured checks that every external kind survives JSON and CBOR through
// unstructured, starting from fuzzed internal objects.
func TestRoundTripToUnstructured(t *testing.T) {
	t.Run("apps", func(t *testing.T) {
		scheme := newScheme(appsinstall.Install)
		roundtrip.RoundtripToUnstructured(t, scheme, appsFuzzerFuncs(fuzzOptions{}), nil, kindsWithoutInternal(scheme))
	})
	t.Run("iot", func(t *testing.T) {
		scheme := newScheme(iotinstall.Install)
		roundtrip.RoundtripToUnstructured(t, scheme, iotFuzzerFuncs, nil, kindsWithoutInternal(scheme))
	})
}

// kindsWithoutInternal lists the external kinds with no internal counterpart, such as the
// CreateOptions that metav1.AddToGroupVersion registers in every version; they are fuzzed
// directly.
func kindsWithoutInternal(scheme *runtime.Scheme) sets.Set[schema.GroupVersionKind] {
	kinds := sets.New[schema.GroupVersionKind]()
	for gvk := range scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		if !scheme.Recognizes(gvk.GroupKind().WithVersion(runtime.APIVersionInternal)) {
			kinds.Insert(gvk)
		}
	}
	return kinds
}

// ---------------------------------------------------------------------------------------------
// (b) NodePool conversion, fuzzed from raw JSON.
// ---------------------------------------------------------------------------------------------

var nodePoolSeeds = []string{
	`{}`,
	`{"metadata":{"name":"hangzhou"},"spec":{"type":"Edge"}}`,
	`{"metadata":{"name":"hz","labels":{"nodepool.openyurt.io/type":"edge"}},"spec":{"type":"Edge","hostNetwork":true,"labels":{"zone":"a"},"annotations":{"a":"b"},"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]},"status":{"readyNodeNum":1,"unreadyNodeNum":2,"nodes":["n1","n2","n3"]}}`,
	`{"metadata":{"name":"bj"},"spec":{"type":"Cloud","interConnectivity":true,"leaderElectionStrategy":"mark","leaderNodeLabelSelector":{"leader":"yes"},"enableLeaderElection":true,"leaderReplicas":3,"poolScopeMetadata":[{"group":"","version":"v1","resource":"services"},{"group":"discovery.k8s.io","version":"v1","resource":"endpointslices"},{"group":"apps","version":"v1","resource":"deployments"}]},"status":{"leaderEndpoints":[{"nodeName":"n1","address":"10.0.0.1"}],"leaderNum":1,"leaderLastElectedTime":"2025-01-02T03:04:05Z","conditions":[{"type":"LeaderReady","status":"True"}]}}`,
	`{"metadata":{"name":"a","annotations":{"apps.openyurt.io/v1beta2-spec":"{\"interConnectivity\":true,\"leaderElectionStrategy\":\"mark\",\"leaderReplicas\":2}"}},"spec":{"type":"Edge"}}`,
	`{"metadata":{"name":"a","annotations":{"apps.openyurt.io/v1beta2-spec":"{\"leaderElectionStrategy\":\"random\",\"leaderReplicas\":1,\"poolScopeMetadata\":[{\"group\":\"\",\"version\":\"v1\",\"resource\":\"services\"},{\"group\":\"discovery.k8s.io\",\"version\":\"v1\",\"resource\":\"endpointslices\"}]}","keep":"me"}},"spec":{"type":"Edge"}}`,
	`{"metadata":{"name":"a","annotations":{"apps.openyurt.io/v1beta2-spec":"{}"}}}`,
	`{"metadata":{"name":"a","annotations":{"apps.openyurt.io/v1beta2-spec":"null"}}}`,
	`{"metadata":{"name":"a","annotations":{"apps.openyurt.io/v1beta2-spec":"not json"}}}`,
	`{"metadata":{"name":"a","annotations":{"apps.openyurt.io/v1beta2-spec":"{\"leaderNodeLabelSelector\":{},\"poolScopeMetadata\":[]}"}}}`,
	`{"metadata":{"name":"a","annotations":{"apps.openyurt.io/v1beta2-spec":"{\"LEADERREPLICAS\":7,\"unknown\":1}"}}}`,
}

func FuzzNodePoolConversion(f *testing.F) {
	for _, seed := range nodePoolSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkV1beta2Conversion(t, data)
		checkV1beta1Conversion(t, data)
	})
}

// checkV1beta2Conversion: v1beta2 -> internal -> v1beta2 is exact, and the internal pool reads
// back the same through v1beta1, but for the status v1beta1 cannot show.
func checkV1beta2Conversion(t *testing.T, data []byte) {
	var in extv1beta2.NodePool
	if utiljson.Unmarshal(data, &in) != nil {
		return
	}
	in.TypeMeta = metav1.TypeMeta{} // conversions do not carry TypeMeta
	orig := in.DeepCopy()

	var internal apps.NodePool
	mustConvert(t, &in, &internal)
	if !reflect.DeepEqual(orig, &in) {
		t.Fatalf("v1beta2 -> internal changed its input:\n%s", diff.Diff(orig, &in))
	}
	var out extv1beta2.NodePool
	mustConvert(t, internal.DeepCopy(), &out)
	if !reflect.DeepEqual(orig, &out) {
		t.Fatalf("v1beta2 -> internal -> v1beta2 is not exact:\n%s", diff.Diff(orig, &out))
	}

	if _, ok := internal.Annotations[v1beta2SpecAnnotation]; ok {
		// Written by hand through v1beta2; validation rejects it (see
		// TestV1beta2SpecAnnotationWrittenThroughV1beta2).
		return
	}
	var old extv1beta1.NodePool
	mustConvert(t, internal.DeepCopy(), &old)
	var back apps.NodePool
	mustConvert(t, &old, &back)
	want := internal.DeepCopy()
	dropV1beta2OnlyStatus(want)
	if !apiequality.Semantic.DeepEqual(want, &back) {
		t.Fatalf("internal -> v1beta1 -> internal lost data:\n%s", diff.Diff(want, &back))
	}
}

// checkV1beta1Conversion: v1beta1 -> internal fails only on a malformed annotation; the
// annotation never reaches the internal pool; internal -> v1beta1 gives back the input but for
// the annotation, which is there exactly when the v1beta2-only fields are not their defaults;
// and that v1beta1 pool converts to the same internal pool.
func checkV1beta1Conversion(t *testing.T, data []byte) {
	var in extv1beta1.NodePool
	if utiljson.Unmarshal(data, &in) != nil {
		return
	}
	in.TypeMeta = metav1.TypeMeta{}
	orig := in.DeepCopy()
	_, hadAnnotation := in.Annotations[v1beta2SpecAnnotation]

	var internal apps.NodePool
	err := appsScheme.Convert(&in, &internal, nil)
	if !reflect.DeepEqual(orig, &in) {
		t.Fatalf("v1beta1 -> internal changed its input:\n%s", diff.Diff(orig, &in))
	}
	if err != nil {
		if !hadAnnotation || !strings.Contains(err.Error(), v1beta2SpecAnnotation) {
			t.Fatalf("v1beta1 -> internal failed for a reason other than the annotation: %v", err)
		}
		return
	}
	if _, ok := internal.Annotations[v1beta2SpecAnnotation]; ok {
		t.Fatalf("annotation %s leaked into the internal pool", v1beta2SpecAnnotation)
	}

	var out extv1beta1.NodePool
	mustConvert(t, internal.DeepCopy(), &out)
	annotation, hasAnnotation := out.Annotations[v1beta2SpecAnnotation]
	if isDefault := v1beta2OnlyFieldsAreDefault(&internal.Spec); hasAnnotation == isDefault {
		t.Fatalf("annotation present = %v, but v1beta2-only fields default = %v (spec %+v)", hasAnnotation, isDefault, internal.Spec)
	}
	if !hadAnnotation && !reflect.DeepEqual(orig, &out) {
		t.Fatalf("v1beta1 -> internal -> v1beta1 is not exact:\n%s", diff.Diff(orig, &out))
	}
	if a, b := withoutAnnotation(orig), withoutAnnotation(&out); !apiequality.Semantic.DeepEqual(a, b) {
		t.Fatalf("v1beta1 -> internal -> v1beta1 changed more than the annotation:\n%s", diff.Diff(a, b))
	}
	if hasAnnotation && !json.Valid([]byte(annotation)) {
		t.Fatalf("annotation is not JSON: %q", annotation)
	}

	var back apps.NodePool
	mustConvert(t, &out, &back)
	if !apiequality.Semantic.DeepEqual(&internal, &back) {
		t.Fatalf("v1beta1 -> internal -> v1beta1 -> internal is not stable:\n%s", diff.Diff(&internal, &back))
	}
}

func mustConvert(t *testing.T, in, out runtime.Object) {
	t.Helper()
	if err := appsScheme.Convert(in, out, nil); err != nil {
		t.Fatalf("converting %T to %T: %v", in, out, err)
	}
}

func v1beta2OnlyFieldsAreDefault(spec *apps.NodePoolSpec) bool {
	var def extv1beta2.NodePoolSpec
	convv1beta2.SetDefaults_NodePoolSpec(&def)
	return !spec.InterConnectivity &&
		spec.LeaderElectionStrategy == apps.LeaderElectionStrategy(def.LeaderElectionStrategy) &&
		spec.LeaderNodeLabelSelector == nil &&
		!spec.EnableLeaderElection &&
		spec.LeaderReplicas == def.LeaderReplicas &&
		reflect.DeepEqual(spec.PoolScopeMetadata, def.PoolScopeMetadata)
}

func withoutAnnotation(p *extv1beta1.NodePool) *extv1beta1.NodePool {
	p = p.DeepCopy()
	delete(p.Annotations, v1beta2SpecAnnotation)
	return p
}

// TestV1beta2SpecAnnotationWrittenThroughV1beta2 covers a pool written through v1beta2 with the
// annotation that conversion uses to carry the v1beta2-only fields through v1beta1. Validation
// rejects the annotation, and conversion to v1beta1 replaces whatever a stored object carries
// under the key, so a v1beta1 read-modify-write never takes leader settings from it.
func TestV1beta2SpecAnnotationWrittenThroughV1beta2(t *testing.T) {
	in := &extv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "hangzhou",
			Annotations: map[string]string{v1beta2SpecAnnotation: `{"enableLeaderElection":true,"leaderReplicas":5}`},
		},
		Spec: extv1beta2.NodePoolSpec{Type: extv1beta2.Edge},
	}
	appsScheme.Default(in)

	var internal apps.NodePool
	mustConvert(t, in, &internal)
	errs := validation.ValidateNodePool(&internal)
	if len(errs) != 1 || errs[0].Type != field.ErrorTypeForbidden || errs[0].Field != "metadata.annotations["+v1beta2SpecAnnotation+"]" {
		t.Fatalf("validation must forbid the annotation on an internal pool, got %v", errs)
	}

	// Even if such a pool were stored, a v1beta1 round trip keeps its real settings.
	var old extv1beta1.NodePool
	mustConvert(t, internal.DeepCopy(), &old)
	var back apps.NodePool
	mustConvert(t, &old, &back)
	if back.Spec.LeaderReplicas != internal.Spec.LeaderReplicas || back.Spec.EnableLeaderElection != internal.Spec.EnableLeaderElection {
		t.Errorf("a v1beta1 read-modify-write turned leaderReplicas %d into %d and enableLeaderElection %v into %v",
			internal.Spec.LeaderReplicas, back.Spec.LeaderReplicas, internal.Spec.EnableLeaderElection, back.Spec.EnableLeaderElection)
	}
}

// ---------------------------------------------------------------------------------------------
// (c) NodePool validation, fuzzed from raw JSON.
// ---------------------------------------------------------------------------------------------

var validationSeeds = []string{
	`{"metadata":{"name":"hangzhou","labels":{"nodepool.openyurt.io/type":"edge"}},"spec":{"type":"Edge","leaderElectionStrategy":"random","leaderReplicas":1,"poolScopeMetadata":[{"group":"","version":"v1","resource":"services"},{"group":"discovery.k8s.io","version":"v1","resource":"endpointslices"}]}}`,
	`{"metadata":{"name":"bj"},"spec":{"type":"Cloud","labels":{"a":"b","example.com/c":"d"},"annotations":{"x":"y"},"taints":[{"key":"k","value":"v","effect":"NoExecute"},{"key":"k","effect":"NoSchedule"}],"interConnectivity":true,"leaderElectionStrategy":"mark","leaderNodeLabelSelector":{"leader":"true"},"enableLeaderElection":true,"leaderReplicas":2,"poolScopeMetadata":[{"group":"apps","version":"v1","resource":"deployments"}]}}`,
	`{"metadata":{"name":"Bad_Name","namespace":"x"},"spec":{"type":"Fog","hostNetwork":true,"taints":[{"key":"","effect":"Evict"}],"leaderReplicas":-1,"poolScopeMetadata":[{}]}}`,
	`{"metadata":{"name":"a","annotations":{"apps.openyurt.io/v1beta2-spec":"{}"}},"spec":{"type":"Edge","labels":{"apps.openyurt.io/nodepool":"b"}}}`,
	`{"metadata":{"name":"a"},"spec":{"type":"Cloud","hostNetwork":true,"enableLeaderElection":true,"leaderReplicas":0}}`,
	`{"metadata":{"name":"a"},"spec":{"type":"Edge","taints":[{"key":"k","value":"v","effect":"NoSchedule"},{"key":"k","value":"w","effect":"NoSchedule"}]}}`,
}

func FuzzValidateNodePool(f *testing.F) {
	for _, seed := range validationSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var pool apps.NodePool
		if utiljson.Unmarshal(data, &pool) != nil {
			return
		}
		before := pool.DeepCopy()
		errs := validation.ValidateNodePool(&pool)
		if !reflect.DeepEqual(before, &pool) {
			t.Fatalf("validation changed the pool:\n%s", diff.Diff(before, &pool))
		}
		keys := errorKeys(errs)
		if again := errorKeys(validation.ValidateNodePool(&pool)); !slices.Equal(keys, again) {
			t.Fatalf("validation is not deterministic:\n%q\n%q", keys, again)
		}
		for _, err := range errs {
			if err.Type == "" || !(strings.HasPrefix(err.Field, "metadata") || strings.HasPrefix(err.Field, "spec")) {
				t.Fatalf("error without a type or a full field path: %#v", err)
			}
		}
		// The verdict survives a JSON round trip of the internal object.
		encoded, err := json.Marshal(&pool)
		if err != nil {
			t.Fatalf("encoding the pool: %v", err)
		}
		var decoded apps.NodePool
		if err := utiljson.Unmarshal(encoded, &decoded); err != nil {
			t.Fatalf("decoding the encoded pool: %v", err)
		}
		if again := errorKeys(validation.ValidateNodePool(&decoded)); !slices.Equal(keys, again) {
			t.Fatalf("validation changed after a JSON round trip:\n%q\n%q", keys, again)
		}
		if len(errs) > 0 {
			return
		}
		checkValidPoolStaysValid(t, &pool)
	})
}

// checkValidPoolStaysValid: a valid pool is a valid update of itself, and stays valid, and a
// valid update of itself, through v1beta2 and v1beta1 with their defaults applied, as when it
// is stored and read back. Its spec survives both trips; v1beta2 defaults its leader election
// fields, while v1beta1 restores them as they were.
func checkValidPoolStaysValid(t *testing.T, pool *apps.NodePool) {
	oldPool, newPool := pool.DeepCopy(), pool.DeepCopy()
	oldPool.ResourceVersion, newPool.ResourceVersion = "1", "1"
	if errs := validation.ValidateNodePoolUpdate(newPool, oldPool); len(errs) > 0 {
		t.Fatalf("a valid pool is not a valid update of itself: %v", errs)
	}

	for _, external := range []runtime.Object{&extv1beta2.NodePool{}, &extv1beta1.NodePool{}} {
		mustConvert(t, pool.DeepCopy(), external)
		appsScheme.Default(external)
		var back apps.NodePool
		mustConvert(t, external, &back)
		if errs := validation.ValidateNodePool(&back); len(errs) > 0 {
			t.Fatalf("a valid pool became invalid through %T with defaults: %v", external, errs)
		}
		back.ResourceVersion = "1"
		if errs := validation.ValidateNodePoolUpdate(&back, oldPool); len(errs) > 0 {
			t.Fatalf("a valid pool read back through %T is not a valid update of itself: %v", external, errs)
		}
		want := pool.Spec.DeepCopy()
		if _, ok := external.(*extv1beta2.NodePool); ok {
			defaultInternalSpecAsV1beta2(want)
		}
		if !apiequality.Semantic.DeepEqual(want, &back.Spec) {
			t.Fatalf("spec changed through %T:\n%s", external, diff.Diff(want, &back.Spec))
		}
	}
}

// defaultInternalSpecAsV1beta2 applies the v1beta2 spec defaults to an internal spec.
func defaultInternalSpecAsV1beta2(spec *apps.NodePoolSpec) {
	var ext extv1beta2.NodePoolSpec
	if err := appsScheme.Convert(spec, &ext, nil); err != nil {
		panic(err)
	}
	convv1beta2.SetDefaults_NodePoolSpec(&ext)
	if err := appsScheme.Convert(&ext, spec, nil); err != nil {
		panic(err)
	}
}

// TestValidationNeverPanics feeds randomly filled objects of every kind, nil pointers and
// empty lists included, to every validation entry point.
func TestValidationNeverPanics(t *testing.T) {
	f := randfill.New().NilChance(.3).NumElements(0, 3).Funcs(fillJSON)
	for range 100 {
		var (
			np1, np2 apps.NodePool
			as1, as2 apps.YurtAppSet
			ad1, ad2 apps.YurtAppDaemon
			rf1, rf2 apps.ResponseFilter
			d1, d2   iot.Device
			ds1, ds2 iot.DeviceService
			dp1, dp2 iot.DeviceProfile
			pa1, pa2 iot.PlatformAdmin
		)
		for _, obj := range []any{&np1, &np2, &as1, &as2, &ad1, &ad2, &rf1, &rf2, &d1, &d2, &ds1, &ds2, &dp1, &dp2, &pa1, &pa2} {
			f.Fill(obj)
		}
		validation.ValidateNodePool(&np1)
		validation.ValidateNodePoolUpdate(&np1, &np2)
		validation.ValidateNodePoolStatusUpdate(&np1, &np2)
		validation.ValidateYurtAppSet(&as1)
		validation.ValidateYurtAppSetUpdate(&as1, &as2)
		validation.ValidateYurtAppSetStatusUpdate(&as1, &as2)
		validation.ValidateYurtAppDaemon(&ad1)
		validation.ValidateYurtAppDaemonUpdate(&ad1, &ad2)
		validation.ValidateYurtAppDaemonStatusUpdate(&ad1, &ad2)
		validation.ValidateResponseFilter(&rf1)
		validation.ValidateResponseFilterUpdate(&rf1, &rf2)
		validation.ValidateResponseFilterStatusUpdate(&rf1, &rf2)
		iotvalidation.ValidateDevice(&d1)
		iotvalidation.ValidateDeviceUpdate(&d1, &d2)
		iotvalidation.ValidateDeviceStatusUpdate(&d1, &d2)
		iotvalidation.ValidateDeviceService(&ds1)
		iotvalidation.ValidateDeviceServiceUpdate(&ds1, &ds2)
		iotvalidation.ValidateDeviceServiceStatusUpdate(&ds1, &ds2)
		iotvalidation.ValidateDeviceProfile(&dp1)
		iotvalidation.ValidateDeviceProfileUpdate(&dp1, &dp2)
		iotvalidation.ValidateDeviceProfileStatusUpdate(&dp1, &dp2)
		iotvalidation.ValidatePlatformAdmin(&pa1)
		iotvalidation.ValidatePlatformAdminUpdate(&pa1, &pa2)
		iotvalidation.ValidatePlatformAdminStatusUpdate(&pa1, &pa2)
	}
}

// TestExamplesAreValid decodes the sample manifests in artifacts/examples as the server does,
// with defaults, and checks that they pass validation.
func TestExamplesAreValid(t *testing.T) {
	scheme := runtime.NewScheme()
	for _, install := range []func(*runtime.Scheme) error{appsinstall.Install, iotinstall.Install} {
		if err := install(scheme); err != nil {
			t.Fatal(err)
		}
	}
	decoder := runtimeserializer.NewCodecFactory(scheme).UniversalDecoder()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "artifacts", "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no examples in artifacts/examples")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := runtime.Decode(decoder, data)
			if err != nil {
				t.Fatalf("decoding: %v", err)
			}
			// Namespaced samples carry no namespace; the client fills it in.
			if accessor, err := meta.Accessor(obj); err == nil && accessor.GetNamespace() == "" {
				switch obj.(type) {
				case *apps.NodePool, *apps.ResponseFilter:
				default:
					accessor.SetNamespace("default")
				}
			}
			var errs field.ErrorList
			switch o := obj.(type) {
			case *apps.NodePool:
				errs = validation.ValidateNodePool(o)
			case *apps.YurtAppSet:
				errs = validation.ValidateYurtAppSet(o)
			case *apps.YurtAppDaemon:
				errs = validation.ValidateYurtAppDaemon(o)
			case *apps.ResponseFilter:
				errs = validation.ValidateResponseFilter(o)
			case *iot.Device:
				errs = iotvalidation.ValidateDevice(o)
			case *iot.DeviceService:
				errs = iotvalidation.ValidateDeviceService(o)
			case *iot.DeviceProfile:
				errs = iotvalidation.ValidateDeviceProfile(o)
			case *iot.PlatformAdmin:
				errs = iotvalidation.ValidatePlatformAdmin(o)
			default:
				t.Fatalf("no validation for %T", obj)
			}
			if len(errs) > 0 {
				t.Errorf("sample is invalid: %v", errs)
			}
		})
	}
}

// errorKeys renders errors as sorted strings; the order of errors about map entries follows
// map iteration and is not stable.
func errorKeys(errs field.ErrorList) []string {
	keys := make([]string, 0, len(errs))
	for _, err := range errs {
		keys = append(keys, string(err.Type)+" "+err.Field+": "+err.Detail)
	}
	slices.Sort(keys)
	return keys
}

func ptr[T any](v T) *T { return &v }
