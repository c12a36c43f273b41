// Package v1alpha1 holds the iot.openyurt.io kinds: mirrors of EdgeX devices, device services
// and device profiles, and the PlatformAdmin that runs an IoT platform in a node pool.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.openyurt.iot.v1alpha1
// +groupName=iot.openyurt.io
package v1alpha1
