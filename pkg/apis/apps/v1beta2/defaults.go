package v1beta2

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
)

// SetDefaults_NodePool applies OpenYurt's NodePool defaults: an Edge type and the pool's type
// as label nodepool.openyurt.io/type.
func SetDefaults_NodePool(obj *appsv1beta2.NodePool) {
	if obj.Spec.Type == "" {
		obj.Spec.Type = appsv1beta2.Edge
	}
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	obj.Labels[apps.NodePoolTypeLabel] = strings.ToLower(string(obj.Spec.Type))
}

// DefaultPoolScopeMetadata are the resources every pool shares, whatever its spec says.
var DefaultPoolScopeMetadata = []metav1.GroupVersionResource{
	{Group: "", Version: "v1", Resource: "services"},
	{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
}

// SetDefaults_NodePoolSpec defaults leader election and makes sure the pool shares at least
// services and endpointslices.
func SetDefaults_NodePoolSpec(obj *appsv1beta2.NodePoolSpec) {
	if obj.LeaderElectionStrategy == "" {
		obj.LeaderElectionStrategy = appsv1beta2.ElectionStrategyRandom
	}
	if obj.LeaderReplicas == 0 {
		obj.LeaderReplicas = 1
	}
	for _, gvr := range DefaultPoolScopeMetadata {
		if !slices.Contains(obj.PoolScopeMetadata, gvr) {
			obj.PoolScopeMetadata = append(obj.PoolScopeMetadata, gvr)
		}
	}
}
