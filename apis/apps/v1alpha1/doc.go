// Package v1alpha1 holds YurtAppDaemon and ResponseFilter of apps.openyurt.io.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.openyurt.apps.v1alpha1
// +groupName=apps.openyurt.io
package v1alpha1
