// Package v1beta2 converts apps.openyurt.io/v1beta2 to and from the internal types and defaults it.
//
// +k8s:conversion-gen=github.com/yurt-edge/yurt/pkg/apis/apps
// +k8s:conversion-gen-external-types=github.com/yurt-edge/yurt/apis/apps/v1beta2
// +k8s:defaulter-gen=TypeMeta
// +k8s:defaulter-gen-input=github.com/yurt-edge/yurt/apis/apps/v1beta2
package v1beta2
