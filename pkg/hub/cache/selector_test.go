package cache

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestSelectorMatches(t *testing.T) {
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "p1", "namespace": "ns1", "labels": map[string]any{"app": "web", "tier": "front"}},
		"spec":     map[string]any{"nodeName": "edge-1", "hostNetwork": true},
		"status":   map[string]any{"phase": "Running"},
	}}
	for _, tc := range []struct {
		labels, fields string
		want           bool
	}{
		{"", "", true},
		{"app=web", "", true},
		{"app=db", "", false},
		{"app in (web,db),tier!=back", "", true},
		{"!tier", "", false},
		{"", "spec.nodeName=edge-1", true},
		{"", "spec.nodeName=edge-2", false},
		{"", "spec.nodeName!=edge-2", true},
		{"", "metadata.name=p1,metadata.namespace=ns1", true},
		{"", "status.phase=Running", true},
		{"", "spec.hostNetwork=true", true},
		{"", "spec.missing=", true},
		{"app=web", "spec.nodeName=edge-2", false},
	} {
		sel, err := ParseSelector(tc.labels, tc.fields)
		if err != nil {
			t.Fatalf("%q %q: %v", tc.labels, tc.fields, err)
		}
		if got := sel.Matches(pod); got != tc.want {
			t.Errorf("labels %q fields %q: got %v, want %v", tc.labels, tc.fields, got, tc.want)
		}
	}
	if _, err := ParseSelector("app in (", ""); err == nil {
		t.Error("a malformed label selector parsed")
	}
	if _, err := ParseSelector("", "a=b=c=,"); err == nil {
		t.Error("a malformed field selector parsed")
	}
}
