// Package v1beta2 is the storage version of NodePool in apps.openyurt.io.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.openyurt.apps.v1beta2
// +groupName=apps.openyurt.io
package v1beta2
