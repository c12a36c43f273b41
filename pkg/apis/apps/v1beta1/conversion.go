package v1beta1

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"

	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	"github.com/yurt-edge/yurt/pkg/apis/apps"
	pkgv1beta2 "github.com/yurt-edge/yurt/pkg/apis/apps/v1beta2"
)

// V1beta2SpecAnnotation keeps, on a NodePool read as v1beta1, the spec fields that only
// v1beta2 has, so that a v1beta1 client that reads, edits and writes a pool back does not
// wipe its leader election settings. Absent when they hold their defaults.
const V1beta2SpecAnnotation = "apps.openyurt.io/v1beta2-spec"

// v1beta2Spec is the part of the v1beta2 spec that v1beta1 lacks.
type v1beta2Spec struct {
	InterConnectivity       bool                          `json:"interConnectivity,omitempty"`
	LeaderElectionStrategy  apps.LeaderElectionStrategy   `json:"leaderElectionStrategy,omitempty"`
	LeaderNodeLabelSelector map[string]string             `json:"leaderNodeLabelSelector,omitempty"`
	EnableLeaderElection    bool                          `json:"enableLeaderElection,omitempty"`
	LeaderReplicas          int32                         `json:"leaderReplicas,omitempty"`
	PoolScopeMetadata       []metav1.GroupVersionResource `json:"poolScopeMetadata,omitempty"`
}

func defaultV1beta2Spec() v1beta2Spec {
	var spec appsv1beta2.NodePoolSpec
	pkgv1beta2.SetDefaults_NodePoolSpec(&spec)
	return v1beta2Spec{
		LeaderElectionStrategy: apps.LeaderElectionStrategy(spec.LeaderElectionStrategy),
		LeaderReplicas:         spec.LeaderReplicas,
		PoolScopeMetadata:      spec.PoolScopeMetadata,
	}
}

// Convert_apps_NodePoolSpec_To_v1beta1_NodePoolSpec drops the v1beta2-only fields; the
// NodePool conversion keeps them in V1beta2SpecAnnotation.
func Convert_apps_NodePoolSpec_To_v1beta1_NodePoolSpec(in *apps.NodePoolSpec, out *appsv1beta1.NodePoolSpec, s conversion.Scope) error {
	return autoConvert_apps_NodePoolSpec_To_v1beta1_NodePoolSpec(in, out, s)
}

// Convert_apps_NodePoolStatus_To_v1beta1_NodePoolStatus drops the leader status, which
// v1beta1 does not show; only the server writes status, so nothing is lost.
func Convert_apps_NodePoolStatus_To_v1beta1_NodePoolStatus(in *apps.NodePoolStatus, out *appsv1beta1.NodePoolStatus, s conversion.Scope) error {
	return autoConvert_apps_NodePoolStatus_To_v1beta1_NodePoolStatus(in, out, s)
}

// Convert_apps_NodePool_To_v1beta1_NodePool converts a pool and keeps the v1beta2-only spec
// in an annotation.
func Convert_apps_NodePool_To_v1beta1_NodePool(in *apps.NodePool, out *appsv1beta1.NodePool, s conversion.Scope) error {
	if err := autoConvert_apps_NodePool_To_v1beta1_NodePool(in, out, s); err != nil {
		return err
	}
	extra := v1beta2Spec{
		InterConnectivity:       in.Spec.InterConnectivity,
		LeaderElectionStrategy:  in.Spec.LeaderElectionStrategy,
		LeaderNodeLabelSelector: in.Spec.LeaderNodeLabelSelector,
		EnableLeaderElection:    in.Spec.EnableLeaderElection,
		LeaderReplicas:          in.Spec.LeaderReplicas,
		PoolScopeMetadata:       in.Spec.PoolScopeMetadata,
	}
	// The annotation is ours to write: whatever the stored object carries under the key is
	// replaced. The generated code shares the map with the input; copy before writing.
	if _, ok := in.Annotations[V1beta2SpecAnnotation]; ok {
		out.Annotations = maps.Clone(in.Annotations)
		delete(out.Annotations, V1beta2SpecAnnotation)
		if len(out.Annotations) == 0 {
			out.Annotations = nil
		}
	}
	if reflect.DeepEqual(extra, defaultV1beta2Spec()) {
		return nil
	}
	data, err := json.Marshal(extra)
	if err != nil {
		return fmt.Errorf("encoding annotation %s: %w", V1beta2SpecAnnotation, err)
	}
	out.Annotations = maps.Clone(out.Annotations)
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[V1beta2SpecAnnotation] = string(data)
	return nil
}

// Convert_v1beta1_NodePool_To_apps_NodePool converts a pool and restores the v1beta2-only
// spec from its annotation, or defaults it.
func Convert_v1beta1_NodePool_To_apps_NodePool(in *appsv1beta1.NodePool, out *apps.NodePool, s conversion.Scope) error {
	if err := autoConvert_v1beta1_NodePool_To_apps_NodePool(in, out, s); err != nil {
		return err
	}
	extra := defaultV1beta2Spec()
	if data, ok := in.Annotations[V1beta2SpecAnnotation]; ok {
		extra = v1beta2Spec{}
		if err := json.Unmarshal([]byte(data), &extra); err != nil {
			return fmt.Errorf("metadata.annotations[%s]: not a v1beta2 NodePool spec fragment: %w", V1beta2SpecAnnotation, err)
		}
		out.Annotations = maps.Clone(in.Annotations)
		delete(out.Annotations, V1beta2SpecAnnotation)
		if len(out.Annotations) == 0 {
			out.Annotations = nil
		}
	}
	out.Spec.InterConnectivity = extra.InterConnectivity
	out.Spec.LeaderElectionStrategy = extra.LeaderElectionStrategy
	out.Spec.LeaderNodeLabelSelector = extra.LeaderNodeLabelSelector
	out.Spec.EnableLeaderElection = extra.EnableLeaderElection
	out.Spec.LeaderReplicas = extra.LeaderReplicas
	out.Spec.PoolScopeMetadata = extra.PoolScopeMetadata
	return nil
}
