package filter

import (
	"github.com/google/cel-go/checker"
)

const (
	// DefaultEstimatedMaxSize is the number of elements (or bytes) a list, map or string of
	// unknown size (anything read from the object) is assumed to hold when estimating an
	// expression's cost. The estimate exists to reject runaway expressions when a filter is
	// written: 256 lets a filter loop over an Endpoints object's subsets and their addresses
	// (two nested loops) but not nest three loops over the object. What a filter really spends
	// on a real object is bounded at run time by DefaultRuntimeCostBudget.
	DefaultEstimatedMaxSize = 256
	// DefaultEstimatedCostLimit is the largest estimated cost of one expression, as for
	// CustomResourceDefinition validation rules (apiextensions' StaticEstimatedCostLimit).
	DefaultEstimatedCostLimit = 10_000_000
	// DefaultRuntimeCostBudget is the cost one filter may spend on one object, over all its
	// expressions, as for one ValidatingAdmissionPolicy binding (RuntimeCELCostBudget). Each
	// expression is also limited to Kubernetes' PerCallLimit (1,000,000).
	DefaultRuntimeCostBudget = 10_000_000
)

// sizeEstimator bounds the size of values the checker cannot size: the object is dyn, and
// node.labels, strings and variables have no declared bounds. Without a bound the estimate
// of any comprehension over the object is unbounded.
type sizeEstimator struct {
	max uint64
}

func (e sizeEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate {
	return &checker.SizeEstimate{Min: 0, Max: e.max}
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}
