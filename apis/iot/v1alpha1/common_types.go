package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AdminState is LOCKED or UNLOCKED.
type AdminState string

const (
	Locked   AdminState = "LOCKED"
	UnLocked AdminState = "UNLOCKED"
)

// OperatingState is UNKNOWN, UP or DOWN.
type OperatingState string

const (
	Unknown OperatingState = "UNKNOWN"
	Up      OperatingState = "UP"
	Down    OperatingState = "DOWN"
)

// Condition describes one aspect of an iot object's state.
type Condition struct {
	Type               string                 `json:"type" protobuf:"bytes,1,opt,name=type"`
	Status             corev1.ConditionStatus `json:"status" protobuf:"bytes,2,opt,name=status,casttype=k8s.io/api/core/v1.ConditionStatus"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitempty" protobuf:"bytes,3,opt,name=lastTransitionTime"`
	Reason             string                 `json:"reason,omitempty" protobuf:"bytes,4,opt,name=reason"`
	Message            string                 `json:"message,omitempty" protobuf:"bytes,5,opt,name=message"`
}
