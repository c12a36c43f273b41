package v1alpha1

import (
	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// SetDefaults_YurtAppDaemonSpec keeps ten old revisions unless told otherwise.
func SetDefaults_YurtAppDaemonSpec(obj *appsv1alpha1.YurtAppDaemonSpec) {
	if obj.RevisionHistoryLimit == nil {
		limit := int32(10)
		obj.RevisionHistoryLimit = &limit
	}
}

// SetDefaults_ResponseFilterSpec fails requests on filter errors unless told otherwise, as
// Kubernetes' admission policies do.
func SetDefaults_ResponseFilterSpec(obj *appsv1alpha1.ResponseFilterSpec) {
	if obj.FailurePolicy == nil {
		policy := appsv1alpha1.Fail
		obj.FailurePolicy = &policy
	}
}
