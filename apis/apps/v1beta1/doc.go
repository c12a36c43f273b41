// Package v1beta1 holds NodePool and YurtAppSet of apps.openyurt.io.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.openyurt.apps.v1beta1
// +groupName=apps.openyurt.io
package v1beta1
