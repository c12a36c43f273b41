package filter

import (
	"context"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// Chain is a set of compiled filters in the order they run: priority ascending, then name.
// It is immutable; build a new one when the set of filters changes.
type Chain struct {
	filters []*Filter
}

// NewChain orders filters. Nil filters are ignored.
func NewChain(filters ...*Filter) *Chain {
	c := &Chain{}
	for _, f := range filters {
		if f != nil {
			c.filters = append(c.filters, f)
		}
	}
	sort.SliceStable(c.filters, func(i, j int) bool {
		a, b := c.filters[i], c.filters[j]
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Name < b.Name
	})
	return c
}

// Filters returns the filters in the order they run.
func (c *Chain) Filters() []*Filter { return append([]*Filter(nil), c.filters...) }

// For returns the chain of the filters that match a request; a hub computes it once per
// request and applies it to every object of the response.
func (c *Chain) For(req Request) *Chain {
	out := &Chain{}
	for _, f := range c.filters {
		if f.Matches(req) {
			out.filters = append(out.filters, f)
		}
	}
	return out
}

// Empty says whether the chain has no filters, so a response can pass untouched.
func (c *Chain) Empty() bool { return len(c.filters) == 0 }

// Outcome is what the chain made of one object.
type Outcome struct {
	// Object is the object to return (the input itself if no filter changed it); nil if dropped.
	Object *unstructured.Unstructured
	// Keep is false when a filter dropped the object.
	Keep bool
	// DroppedBy names the filter that dropped the object.
	DroppedBy string
	// Ignored holds the errors of filters whose failurePolicy is Ignore: each such filter
	// passed the object on unchanged. The hub logs and counts them.
	Ignored []error
}

// Apply runs the matching filters (those of For(req)) on one object, in order. A filter that
// fails with failurePolicy Fail stops the chain with its error (an *EvaluationError): the
// request fails. With Ignore, the object passes that filter unchanged. obj is not modified;
// the result may share unchanged parts with it (see Filter.Evaluate).
func (c *Chain) Apply(ctx context.Context, obj *unstructured.Unstructured, req Request, node Node) (Outcome, error) {
	return c.apply(ctx, obj, req, newInputs(req, node))
}

// apply is Apply with the request and node converted to CEL values once per response.
func (c *Chain) apply(ctx context.Context, obj *unstructured.Unstructured, req Request, in inputs) (Outcome, error) {
	out := Outcome{Object: obj, Keep: true}
	for _, f := range c.filters {
		if !f.Matches(req) {
			continue
		}
		res, err := f.evaluate(ctx, out.Object, in)
		if err != nil {
			if f.FailurePolicy == appsv1alpha1.Ignore {
				out.Ignored = append(out.Ignored, err)
				continue
			}
			return Outcome{}, err
		}
		if !res.Keep {
			return Outcome{Keep: false, DroppedBy: f.Name, Ignored: out.Ignored}, nil
		}
		out.Object = res.Object
	}
	return out, nil
}

// ListOutcome is what the chain made of a list.
type ListOutcome struct {
	// List is the list to return: the kept items, as the filters left them, with the list's
	// metadata (and so its resourceVersion) unchanged.
	List *unstructured.UnstructuredList
	// Dropped names the dropped items (namespace/name) and the filter that dropped each.
	Dropped map[string]string
	// Ignored holds the errors of failurePolicy: Ignore filters.
	Ignored []error
}

// ApplyList runs the matching filters on every item of a list. Items without apiVersion and
// kind (as API servers send them) are given the list's, minus the List suffix, so
// ApplyConfiguration mutations can type them. The first failurePolicy: Fail error fails the
// whole list. list is not modified.
func (c *Chain) ApplyList(ctx context.Context, list *unstructured.UnstructuredList, req Request, node Node) (ListOutcome, error) {
	out := ListOutcome{
		List:    &unstructured.UnstructuredList{Object: list.Object, Items: make([]unstructured.Unstructured, 0, len(list.Items))},
		Dropped: map[string]string{},
	}
	in := newInputs(req, node)
	itemGVK := list.GroupVersionKind()
	itemGVK.Kind = strings.TrimSuffix(itemGVK.Kind, "List")
	for i := range list.Items {
		item := &list.Items[i]
		if item.GetKind() == "" && itemGVK.Kind != "" {
			withKind := &unstructured.Unstructured{Object: make(map[string]any, len(item.Object)+2)}
			for k, v := range item.Object {
				withKind.Object[k] = v
			}
			withKind.SetGroupVersionKind(itemGVK)
			item = withKind
		}
		o, err := c.apply(ctx, item, req, in)
		if err != nil {
			return ListOutcome{}, err
		}
		out.Ignored = append(out.Ignored, o.Ignored...)
		if !o.Keep {
			out.Dropped[item.GetNamespace()+"/"+item.GetName()] = o.DroppedBy
			continue
		}
		out.List.Items = append(out.List.Items, *o.Object)
	}
	return out, nil
}
