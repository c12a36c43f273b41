package cache

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// Selector is a list or watch request's label and field selectors, applied to cached objects
// the way the API server applies them.
type Selector struct {
	Labels labels.Selector
	Fields fields.Selector
}

// ParseSelector parses the labelSelector and fieldSelector query parameters.
func ParseSelector(labelSelector, fieldSelector string) (Selector, error) {
	ls, err := labels.Parse(labelSelector)
	if err != nil {
		return Selector{}, fmt.Errorf("invalid labelSelector %q: %w", labelSelector, err)
	}
	fs, err := fields.ParseSelector(fieldSelector)
	if err != nil {
		return Selector{}, fmt.Errorf("invalid fieldSelector %q: %w", fieldSelector, err)
	}
	return Selector{Labels: ls, Fields: fs}, nil
}

// Empty reports whether the selector selects everything.
func (s Selector) Empty() bool {
	return (s.Labels == nil || s.Labels.Empty()) && (s.Fields == nil || s.Fields.Empty())
}

// Matches reports whether obj satisfies both selectors. Field selectors are evaluated on the
// object's own fields (metadata.name, spec.nodeName, status.phase, type…), which covers the
// field labels the API server supports for every resource cached agents use.
func (s Selector) Matches(obj *unstructured.Unstructured) bool {
	if s.Labels != nil && !s.Labels.Empty() && !s.Labels.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	if s.Fields == nil || s.Fields.Empty() {
		return true
	}
	set := fields.Set{}
	for _, req := range s.Fields.Requirements() {
		set[req.Field] = fieldValue(obj, req.Field)
	}
	return s.Fields.Matches(set)
}

// fieldValue returns a field's value as the API server's field sets spell it ("" if absent).
func fieldValue(obj *unstructured.Unstructured, path string) string {
	v, found, err := unstructured.NestedFieldNoCopy(obj.Object, strings.Split(path, ".")...)
	if err != nil || !found || v == nil {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case bool, int64, float64:
		return fmt.Sprint(t)
	default:
		return ""
	}
}
