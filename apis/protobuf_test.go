package apis_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/apis/iot"
	iotv1alpha1 "github.com/yurt-edge/yurt/apis/iot/v1alpha1"
)

// newScheme registers every public version of apps.openyurt.io and iot.openyurt.io.
func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1alpha1.AddToScheme,
		appsv1beta1.AddToScheme,
		appsv1beta2.AddToScheme,
		iotv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return scheme
}

// Times are whole seconds: metav1.Time keeps only seconds on the wire, as in JSON.
var (
	created = metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	later   = metav1.NewTime(time.Date(2026, 3, 2, 8, 30, 15, 0, time.UTC))
)

func ptr[T any](v T) *T { return &v }

func objectMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              name,
		Namespace:         namespace,
		UID:               "0b6e2c9a-4f55-4f1e-9d1b-8f5f4d0c6a11",
		ResourceVersion:   "42",
		Generation:        3,
		CreationTimestamp: created,
		Labels:            map[string]string{"app": name, "tier": "edge"},
		Annotations:       map[string]string{"example.com/note": "kept"},
		Finalizers:        []string{"example.com/cleanup"},
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "5c4a", Controller: ptr(true),
		}},
	}
}

func taints() []corev1.Taint {
	return []corev1.Taint{
		{Key: "node.example.com/site", Value: "hangzhou", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node.example.com/maintenance", Effect: corev1.TaintEffectNoExecute, TimeAdded: &later},
	}
}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "nginx",
				Image: "nginx:1.27",
				Args:  []string{"-g", "daemon off;"},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "POOL", Value: "{{nodepool-name}}"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("100m"),
						corev1.ResourceMemory: resource.MustParse("64Mi"),
					},
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/healthz", Port: intstr.FromString("http"),
					}},
					PeriodSeconds: 5,
				},
			}},
			NodeSelector: map[string]string{apps.NodePoolLabel: "pool-a"},
			Tolerations: []corev1.Toleration{{
				Key: "node.example.com/site", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
			}},
		},
	}
}

func deploymentTemplate() *appsv1beta1.DeploymentTemplate {
	return &appsv1beta1.DeploymentTemplate{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: podTemplate("web"),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr(intstr.FromInt32(0)),
					MaxSurge:       ptr(intstr.FromString("25%")),
				},
			},
			MinReadySeconds:      10,
			RevisionHistoryLimit: ptr[int32](5),
		},
	}
}

func statefulSetSpec(app string) appsv1.StatefulSetSpec {
	return appsv1.StatefulSetSpec{
		Replicas:    ptr[int32](1),
		Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		Template:    podTemplate(app),
		ServiceName: app,
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				},
			},
		}},
		PodManagementPolicy: appsv1.ParallelPodManagement,
		UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
	}
}

// objects returns one populated object of every kind, and lists of some.
func objects() []runtime.Object {
	nodePoolV1beta1 := &appsv1beta1.NodePool{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1beta1.SchemeGroupVersion.String(), Kind: "NodePool"},
		ObjectMeta: objectMeta("pool-a", ""),
		Spec: appsv1beta1.NodePoolSpec{
			Type:        appsv1beta1.Edge,
			HostNetwork: true,
			Labels:      map[string]string{"site": "hangzhou"},
			Annotations: map[string]string{"example.com/owner": "ops"},
			Taints:      taints(),
		},
		Status: appsv1beta1.NodePoolStatus{ReadyNodeNum: 2, UnreadyNodeNum: 1, Nodes: []string{"n1", "n2", "n3"}},
	}
	nodePoolV1beta2 := &appsv1beta2.NodePool{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1beta2.SchemeGroupVersion.String(), Kind: "NodePool"},
		ObjectMeta: objectMeta("pool-b", ""),
		Spec: appsv1beta2.NodePoolSpec{
			Type:                    appsv1beta2.Edge,
			HostNetwork:             true,
			Labels:                  map[string]string{"site": "shanghai"},
			Annotations:             map[string]string{"example.com/owner": "ops"},
			Taints:                  taints(),
			InterConnectivity:       true,
			LeaderElectionStrategy:  appsv1beta2.ElectionStrategyMark,
			LeaderNodeLabelSelector: map[string]string{"leader": "true"},
			EnableLeaderElection:    true,
			LeaderReplicas:          2,
			PoolScopeMetadata: []metav1.GroupVersionResource{
				{Group: "", Version: "v1", Resource: "services"},
				{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
			},
		},
		Status: appsv1beta2.NodePoolStatus{
			ReadyNodeNum:          2,
			UnreadyNodeNum:        0,
			Nodes:                 []string{"n4", "n5"},
			LeaderEndpoints:       []appsv1beta2.Leader{{NodeName: "n4", Address: "10.0.0.4:10267"}},
			LeaderNum:             1,
			LeaderLastElectedTime: later,
			Conditions: []appsv1beta2.NodePoolCondition{{
				Type: appsv1beta2.LeaderReady, Status: corev1.ConditionTrue, LastTransitionTime: later,
				Reason: "Elected", Message: "1 of 2 leaders elected",
			}},
		},
	}
	nodePoolList := &appsv1beta2.NodePoolList{
		TypeMeta: metav1.TypeMeta{APIVersion: appsv1beta2.SchemeGroupVersion.String(), Kind: "NodePoolList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "77", Continue: "token", RemainingItemCount: ptr[int64](4)},
		Items:    []appsv1beta2.NodePool{*nodePoolV1beta2.DeepCopy(), *nodePoolV1beta2.DeepCopy()},
	}
	nodePoolList.Items[1].Name = "pool-c"
	for i := range nodePoolList.Items {
		nodePoolList.Items[i].TypeMeta = metav1.TypeMeta{}
	}

	yurtAppSet := &appsv1beta1.YurtAppSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1beta1.SchemeGroupVersion.String(), Kind: "YurtAppSet"},
		ObjectMeta: objectMeta("web", "default"),
		Spec: appsv1beta1.YurtAppSetSpec{
			Workload: appsv1beta1.Workload{
				WorkloadTemplate: appsv1beta1.WorkloadTemplate{DeploymentTemplate: deploymentTemplate()},
				WorkloadTweaks: []appsv1beta1.WorkloadTweak{{
					NodePoolSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
						Key: "site", Operator: metav1.LabelSelectorOpIn, Values: []string{"hangzhou", "shanghai"},
					}}},
					Pools: []string{"pool-a"},
					Tweaks: appsv1beta1.Tweaks{
						Replicas:        ptr[int32](3),
						ContainerImages: []appsv1beta1.ImageItem{{Name: "nginx", TargetImage: "nginx:1.27-alpine"}},
						Patches: []appsv1beta1.Patch{
							{
								Path:      "/spec/template/spec/containers/0/env/-",
								Operation: appsv1beta1.ADD,
								Value:     apiextensionsv1.JSON{Raw: []byte(`{"name":"POOL","value":"{{nodepool-name}}"}`)},
							},
							{Path: "/metadata/labels/tier", Operation: appsv1beta1.REMOVE},
						},
					},
				}},
			},
			NodePoolSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "edge"}},
			Pools:                []string{"pool-a", "pool-b"},
			RevisionHistoryLimit: ptr[int32](7),
		},
		Status: appsv1beta1.YurtAppSetStatus{
			ObservedGeneration: 3,
			CollisionCount:     ptr[int32](1),
			CurrentRevision:    "web-5d8c7f",
			Conditions: []appsv1beta1.YurtAppSetCondition{{
				Type: appsv1beta1.AppSetAppReady, Status: corev1.ConditionTrue, LastTransitionTime: later, Reason: "Ready",
			}},
			ReadyWorkloads:   2,
			UpdatedWorkloads: 2,
			TotalWorkloads:   2,
		},
	}
	yurtAppSetStatefulSet := &appsv1beta1.YurtAppSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1beta1.SchemeGroupVersion.String(), Kind: "YurtAppSet"},
		ObjectMeta: objectMeta("db", "default"),
		Spec: appsv1beta1.YurtAppSetSpec{
			Workload: appsv1beta1.Workload{WorkloadTemplate: appsv1beta1.WorkloadTemplate{
				StatefulSetTemplate: &appsv1beta1.StatefulSetTemplate{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
					Spec:       statefulSetSpec("db"),
				},
			}},
			Pools: []string{"pool-a"},
		},
	}

	yurtAppDaemon := &appsv1alpha1.YurtAppDaemon{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1alpha1.SchemeGroupVersion.String(), Kind: "YurtAppDaemon"},
		ObjectMeta: objectMeta("cache", "edge-system"),
		Spec: appsv1alpha1.YurtAppDaemonSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}},
			WorkloadTemplate: appsv1alpha1.WorkloadTemplate{StatefulSetTemplate: &appsv1alpha1.StatefulSetTemplate{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cache"}},
				Spec:       statefulSetSpec("cache"),
			}},
			NodePoolSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "edge"}},
			RevisionHistoryLimit: ptr[int32](4),
		},
		Status: appsv1alpha1.YurtAppDaemonStatus{
			ObservedGeneration: 2,
			CollisionCount:     ptr[int32](0),
			CurrentRevision:    "cache-7b9",
			Conditions: []appsv1alpha1.YurtAppDaemonCondition{{
				Type: appsv1alpha1.WorkLoadProvisioned, Status: corev1.ConditionTrue, LastTransitionTime: later,
				Reason: "Provisioned", Message: "2 pools",
			}},
			TemplateType: "StatefulSet",
			NodePools:    []string{"pool-a", "pool-b"},
		},
	}
	yurtAppDaemonDeployment := &appsv1alpha1.YurtAppDaemon{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1alpha1.SchemeGroupVersion.String(), Kind: "YurtAppDaemon"},
		ObjectMeta: objectMeta("web", "edge-system"),
		Spec: appsv1alpha1.YurtAppDaemonSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			WorkloadTemplate: appsv1alpha1.WorkloadTemplate{DeploymentTemplate: &appsv1alpha1.DeploymentTemplate{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       deploymentTemplate().Spec,
			}},
			NodePoolSelector: &metav1.LabelSelector{},
		},
	}

	responseFilter := &appsv1alpha1.ResponseFilter{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1alpha1.SchemeGroupVersion.String(), Kind: "ResponseFilter"},
		ObjectMeta: objectMeta("service-topology", ""),
		Spec: appsv1alpha1.ResponseFilterSpec{
			Priority:      10,
			FailurePolicy: ptr(appsv1alpha1.Ignore),
			Match: appsv1alpha1.MatchResources{
				UserAgents: []string{"kube-proxy", "coredns"},
				Resources: []appsv1alpha1.ResourceRule{
					{Group: "discovery.k8s.io", Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
					{Group: "", Resources: []string{"*"}, Verbs: []string{"*"}},
				},
			},
			MatchConditions: []appsv1alpha1.MatchCondition{{Name: "labelled", Expression: "has(object.metadata.labels)"}},
			Variables:       []appsv1alpha1.Variable{{Name: "pool", Expression: "params.nodePool"}},
			Keep:            "object.metadata.name != 'hidden'",
			Mutations: []appsv1alpha1.Mutation{
				{
					PatchType:          appsv1alpha1.PatchTypeApplyConfiguration,
					ApplyConfiguration: &appsv1alpha1.ApplyConfiguration{Expression: "Object{metadata: Object.metadata{labels: {'pool': variables.pool}}}"},
				},
				{
					PatchType: appsv1alpha1.PatchTypeJSONPatch,
					JSONPatch: &appsv1alpha1.JSONPatch{Expression: "[JSONPatch{op: 'remove', path: '/metadata/annotations'}]"},
				},
			},
		},
		Status: appsv1alpha1.ResponseFilterStatus{
			ObservedGeneration: 3,
			Conditions: []metav1.Condition{{
				Type: "Compiled", Status: metav1.ConditionTrue, ObservedGeneration: 3, LastTransitionTime: later,
				Reason: "Compiled", Message: "all expressions compiled",
			}},
		},
	}

	iotConditions := []iotv1alpha1.Condition{{
		Type: "Synced", Status: corev1.ConditionTrue, LastTransitionTime: later, Reason: "Synced", Message: "in EdgeX",
	}}
	device := &iotv1alpha1.Device{
		TypeMeta:   metav1.TypeMeta{APIVersion: iotv1alpha1.SchemeGroupVersion.String(), Kind: "Device"},
		ObjectMeta: objectMeta("thermometer-1", "default"),
		Spec: iotv1alpha1.DeviceSpec{
			Description:    "room thermometer",
			AdminState:     iotv1alpha1.UnLocked,
			OperatingState: iotv1alpha1.Up,
			Protocols: map[string]iotv1alpha1.ProtocolProperties{
				"modbus-tcp": {"Address": "10.0.0.7", "Port": "502", "UnitID": "1"},
				"other":      {"Interval": "10s"},
			},
			Labels:      []string{"temperature", "room-1"},
			Location:    "room 1",
			ServiceName: "device-modbus",
			ProfileName: "thermometer",
			NodePool:    "pool-a",
			Notify:      true,
			Managed:     true,
			DeviceProperties: map[string]iotv1alpha1.DesiredPropertyState{
				"setpoint": {Name: "setpoint", PutURL: "http://core-command:59882/api/v3/device/name/thermometer-1/setpoint", DesiredValue: "21.5"},
				"unit":     {Name: "unit", DesiredValue: "C"},
			},
		},
		Status: iotv1alpha1.DeviceStatus{
			LastConnected: 1772366400,
			LastReported:  1772366415,
			Synced:        true,
			DeviceProperties: map[string]iotv1alpha1.ActualPropertyState{
				"temperature": {Name: "temperature", GetURL: "http://core-command:59882/api/v3/device/name/thermometer-1/temperature", ActualValue: "21.3"},
			},
			EdgeId:         "3f2a9c1e",
			AdminState:     iotv1alpha1.UnLocked,
			OperatingState: iotv1alpha1.Up,
			Conditions:     iotConditions,
		},
	}
	deviceList := &iotv1alpha1.DeviceList{
		TypeMeta: metav1.TypeMeta{APIVersion: iotv1alpha1.SchemeGroupVersion.String(), Kind: "DeviceList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "90"},
		Items:    []iotv1alpha1.Device{*device.DeepCopy()},
	}
	deviceList.Items[0].TypeMeta = metav1.TypeMeta{}

	deviceService := &iotv1alpha1.DeviceService{
		TypeMeta:   metav1.TypeMeta{APIVersion: iotv1alpha1.SchemeGroupVersion.String(), Kind: "DeviceService"},
		ObjectMeta: objectMeta("device-modbus", "default"),
		Spec: iotv1alpha1.DeviceServiceSpec{
			Description: "Modbus device service",
			Labels:      []string{"modbus"},
			AdminState:  iotv1alpha1.Locked,
			BaseAddress: "http://edgex-device-modbus:59901",
			NodePool:    "pool-a",
			Managed:     true,
		},
		Status: iotv1alpha1.DeviceServiceStatus{
			Synced: true, LastConnected: 1772366400, LastReported: 1772366410, EdgeId: "9d1e",
			AdminState: iotv1alpha1.Locked, Conditions: iotConditions,
		},
	}

	deviceProfile := &iotv1alpha1.DeviceProfile{
		TypeMeta:   metav1.TypeMeta{APIVersion: iotv1alpha1.SchemeGroupVersion.String(), Kind: "DeviceProfile"},
		ObjectMeta: objectMeta("thermometer", "default"),
		Spec: iotv1alpha1.DeviceProfileSpec{
			NodePool:     "pool-a",
			Description:  "a Modbus thermometer",
			Manufacturer: "Acme",
			Model:        "T-100",
			Labels:       []string{"temperature"},
			DeviceResources: []iotv1alpha1.DeviceResource{{
				Description: "current temperature",
				Name:        "temperature",
				Tag:         "temp",
				IsHidden:    false,
				Properties: iotv1alpha1.ResourceProperties{
					ValueType: "Float32", ReadWrite: "R", Units: "C", Minimum: "-40", Maximum: "85",
					DefaultValue: "0", Mask: "0x00", Shift: "0", Scale: "0.1", Offset: "0", Base: "0",
					Assertion: "", MediaType: "text/plain",
				},
				Attributes: map[string]string{"primaryTable": "HOLDING_REGISTERS", "startingAddress": "1"},
			}},
			DeviceCommands: []iotv1alpha1.DeviceCommand{{
				Name:      "readAll",
				IsHidden:  true,
				ReadWrite: "R",
				ResourceOperations: []iotv1alpha1.ResourceOperation{{
					DeviceResource: "temperature", DefaultValue: "0", Mappings: map[string]string{"0": "off", "1": "on"},
				}},
			}},
		},
		Status: iotv1alpha1.DeviceProfileStatus{EdgeId: "77ab", Synced: true},
	}

	platformAdmin := &iotv1alpha1.PlatformAdmin{
		TypeMeta:   metav1.TypeMeta{APIVersion: iotv1alpha1.SchemeGroupVersion.String(), Kind: "PlatformAdmin"},
		ObjectMeta: objectMeta("edgex-pool-a", "default"),
		Spec: iotv1alpha1.PlatformAdminSpec{
			Version:       "minnesota",
			ImageRegistry: "registry.example.com/edgex",
			PoolName:      "pool-a",
			Platform:      "edgex",
			Components:    []iotv1alpha1.PlatformAdminComponent{{Name: "edgex-device-modbus"}, {Name: "edgex-ui"}},
			Security:      true,
		},
		Status: iotv1alpha1.PlatformAdminStatus{
			Ready: true, Initialized: true, ReadyComponentNum: 7, UnreadyComponentNum: 1, Conditions: iotConditions,
		},
	}

	return []runtime.Object{
		nodePoolV1beta1, nodePoolV1beta2, nodePoolList,
		yurtAppSet, yurtAppSetStatefulSet,
		yurtAppDaemon, yurtAppDaemonDeployment,
		responseFilter,
		device, deviceList, deviceService, deviceProfile, platformAdmin,
	}
}

func name(obj runtime.Object) string {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if m, ok := obj.(metav1.Object); ok {
		return gvk.GroupVersion().String() + "/" + gvk.Kind + "/" + m.GetName()
	}
	return gvk.GroupVersion().String() + "/" + gvk.Kind
}

// checkSame fails unless decoded equals want semantically and in its JSON form.
func checkSame(t *testing.T, want, decoded runtime.Object) {
	t.Helper()
	if !apiequality.Semantic.DeepEqual(want, decoded) {
		t.Fatalf("protobuf round trip changed the object:\n%s", diff.Diff(want, decoded))
	}
	wantJSON, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, err := json.Marshal(decoded)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Fatalf("protobuf round trip changed the JSON form:\nwant %s\ngot  %s", wantJSON, gotJSON)
	}
}

// TestProtobufRoundTrip encodes a populated object of every kind with the Kubernetes protobuf
// serializer and decodes it back.
func TestProtobufRoundTrip(t *testing.T) {
	scheme := newScheme(t)
	s := protobuf.NewSerializer(scheme, scheme)
	for _, obj := range objects() {
		t.Run(name(obj), func(t *testing.T) {
			original := obj.DeepCopyObject()
			want := obj.GetObjectKind().GroupVersionKind()

			var buf bytes.Buffer
			if err := s.Encode(obj, &buf); err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !apiequality.Semantic.DeepEqual(original, obj) {
				t.Fatalf("encode changed the object:\n%s", diff.Diff(original, obj))
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte("k8s\x00")) {
				t.Fatalf("not a Kubernetes protobuf envelope: %q", buf.Bytes()[:min(8, buf.Len())])
			}

			decoded, gvk, err := s.Decode(buf.Bytes(), nil, nil)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if *gvk != want {
				t.Fatalf("decoded kind %v, want %v", *gvk, want)
			}
			if reflect.TypeOf(decoded) != reflect.TypeOf(obj) {
				t.Fatalf("decoded a %T, want a %T", decoded, obj)
			}
			// The protobuf serializer leaves setting TypeMeta to the versioning codec.
			decoded.GetObjectKind().SetGroupVersionKind(*gvk)
			checkSame(t, original, decoded)

			// Decoding into an existing object of the kind gives the same result.
			into, err := scheme.New(want)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Decode(buf.Bytes(), nil, into); err != nil {
				t.Fatalf("decode into %T: %v", into, err)
			}
			into.GetObjectKind().SetGroupVersionKind(want)
			checkSame(t, original, into)
		})
	}
}

// TestProtobufThroughCodecFactory checks the path yurt-apiserver serves: the codec factory
// negotiates application/vnd.kubernetes.protobuf and the versioning codec round-trips every kind.
func TestProtobufThroughCodecFactory(t *testing.T) {
	scheme := newScheme(t)
	codecs := serializer.NewCodecFactory(scheme)
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatalf("codec factory does not offer %s", runtime.ContentTypeProtobuf)
	}
	if info.StreamSerializer == nil {
		t.Fatalf("no protobuf stream serializer for watch")
	}
	for _, obj := range objects() {
		t.Run(name(obj), func(t *testing.T) {
			gv := obj.GetObjectKind().GroupVersionKind().GroupVersion()
			original := obj.DeepCopyObject()
			data, err := runtime.Encode(codecs.EncoderForVersion(info.Serializer, gv), obj)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			decoded, err := runtime.Decode(codecs.DecoderToVersion(info.Serializer, gv), data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkSame(t, original, decoded)
		})
	}
}

// TestEveryKindIsProtobuf makes sure no kind of our groups is left without protobuf, including
// kinds added after this test was written.
func TestEveryKindIsProtobuf(t *testing.T) {
	scheme := newScheme(t)
	s := protobuf.NewSerializer(scheme, scheme)
	covered := map[schema.GroupVersionKind]bool{}
	for _, obj := range objects() {
		covered[obj.GetObjectKind().GroupVersionKind()] = true
	}
	var kinds []schema.GroupVersionKind
	for gvk, typ := range scheme.AllKnownTypes() {
		// Only our own types: metav1.AddToGroupVersion also registers WatchEvent and the
		// option kinds, which k8s.io/apimachinery owns.
		ours := strings.HasPrefix(typ.PkgPath(), "github.com/yurt-edge/yurt/apis/")
		if ours && (gvk.Group == apps.GroupName || gvk.Group == iot.GroupName) {
			kinds = append(kinds, gvk)
		}
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].String() < kinds[j].String() })
	// NodePool in v1beta1 and v1beta2, and the other seven kinds once each, with their lists.
	if len(kinds) != 18 {
		t.Errorf("found %d kinds in our groups, want 18: %v", len(kinds), kinds)
	}
	for _, gvk := range kinds {
		obj, err := scheme.New(gvk)
		if err != nil {
			t.Fatal(err)
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		var buf bytes.Buffer
		if err := s.Encode(obj, &buf); err != nil {
			t.Errorf("%v cannot be encoded as protobuf: %v", gvk, err)
			continue
		}
		decoded, _, err := s.Decode(buf.Bytes(), nil, nil)
		if err != nil {
			t.Errorf("%v cannot be decoded from protobuf: %v", gvk, err)
			continue
		}
		decoded.GetObjectKind().SetGroupVersionKind(gvk)
		if !apiequality.Semantic.DeepEqual(obj, decoded) {
			t.Errorf("%v: empty object changed:\n%s", gvk, diff.Diff(obj, decoded))
		}
	}
	// Every object kind of the API (not the option kinds metav1 adds to each version) has a
	// populated object above.
	for _, gvk := range kinds {
		switch gvk.Kind {
		case "NodePool", "YurtAppSet", "YurtAppDaemon", "ResponseFilter",
			"Device", "DeviceService", "DeviceProfile", "PlatformAdmin":
			if !covered[gvk] {
				t.Errorf("no populated %v in objects()", gvk)
			}
		}
	}
}
