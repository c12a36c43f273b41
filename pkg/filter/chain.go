package filter

import (
	"context"
	"sort"

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
	out := Outcome{Object: obj, Keep: true}
	for _, f := range c.filters {
		if !f.Matches(req) {
			continue
		}
		res, err := f.Evaluate(ctx, out.Object, req, node)
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
