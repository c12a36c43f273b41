package v1beta1

import (
	"strings"

	"github.com/yurt-edge/yurt/apis/apps"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
)

// SetDefaults_NodePool applies OpenYurt's NodePool defaults: an Edge type and the pool's type
// as label nodepool.openyurt.io/type.
func SetDefaults_NodePool(obj *appsv1beta1.NodePool) {
	if obj.Spec.Type == "" {
		obj.Spec.Type = appsv1beta1.Edge
	}
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	obj.Labels[apps.NodePoolTypeLabel] = strings.ToLower(string(obj.Spec.Type))
}

// SetDefaults_YurtAppSetSpec keeps ten old revisions unless told otherwise.
func SetDefaults_YurtAppSetSpec(obj *appsv1beta1.YurtAppSetSpec) {
	if obj.RevisionHistoryLimit == nil {
		limit := int32(10)
		obj.RevisionHistoryLimit = &limit
	}
}
