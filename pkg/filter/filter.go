package filter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	apiservercel "k8s.io/apiserver/pkg/cel"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// Request is the request whose response is filtered, as CEL's `request` sees it.
type Request struct {
	// UserAgent is the client's name: its User-Agent up to the first "/" (Matches cuts it).
	UserAgent string
	// Verb is get, list or watch.
	Verb      string
	Group     string
	Version   string
	Resource  string
	Namespace string
	Name      string
}

// Node is the hub's node, as CEL's `node` sees it.
type Node struct {
	Name   string
	Labels map[string]string
	// Pool is the node's pool, "" if it is in none.
	Pool string
}

// Filter is a compiled ResponseFilter. It is immutable and safe for concurrent use.
type Filter struct {
	Name          string
	UID           types.UID
	Generation    int64
	Priority      int32
	FailurePolicy appsv1alpha1.FailurePolicyType

	match         appsv1alpha1.MatchResources
	variablesType *apiservercel.DeclType
	variableSet   *variableSet
	conditions    []compiledExpression
	keep          *compiledExpression
	mutations     []compiledMutation
	budget        int64
	// callLimit is the cost limit of one expression's program: the smaller of the budget and
	// Kubernetes' per-call limit.
	callLimit     int64
	hasFast       bool
	typeConverter managedfields.TypeConverter
	usesService   bool
	usesNodePool  bool
}

// UsesService says whether an expression of the filter calls service(): its result on an
// object may change when a Service changes, so a hub re-filters (re-sends) the objects of open
// watches it applies to when the Service does (servicetopology and openyurt.io/topologyKeys).
func (f *Filter) UsesService() bool { return f.usesService }

// UsesNodePool says whether an expression of the filter calls nodePool(): its result may
// change when a node moves to another pool.
func (f *Filter) UsesNodePool() bool { return f.usesNodePool }

type compiledExpression struct {
	name    string
	path    string
	program cel.Program
	// fast is the expression's fast plan (plan.go), nil if it is outside the planned subset.
	fast *fastProgram
}

type compiledMutation struct {
	compiledExpression
	patchType appsv1alpha1.PatchType
}

// Result is what a filter made of one object.
type Result struct {
	// Object is the object to return: the input itself when no mutation changed it, a new
	// object otherwise. Nil when the object is dropped.
	Object *unstructured.Unstructured
	// Keep is false when the object is dropped from the response.
	Keep bool
	// Skipped is true when a match condition was false: the filter left the object alone.
	Skipped bool
	// Cost is the CEL cost spent on the object. Expressions evaluated by their fast plans
	// (plan.go) are charged conservatively: at least what cel-go would charge, often exactly.
	Cost int64
}

// Matches says whether the filter applies to a request: its user agent and its group,
// resource and verb are listed in spec.match ("*" matches any).
func (f *Filter) Matches(req Request) bool {
	agent, _, _ := strings.Cut(req.UserAgent, "/")
	if !containsOrStar(f.match.UserAgents, agent) {
		return false
	}
	for _, r := range f.match.Resources {
		if (r.Group == req.Group || r.Group == "*") && containsOrStar(r.Resources, req.Resource) && containsOrStar(r.Verbs, req.Verb) {
			return true
		}
	}
	return false
}

func containsOrStar(list []string, s string) bool {
	for _, v := range list {
		if v == s || v == "*" {
			return true
		}
	}
	return false
}

// EvaluationError is a filter's failure on one object: an expression failed or the cost
// budget ran out. Field names the expression, e.g. spec.keep.
type EvaluationError struct {
	Filter string
	Field  string
	Err    error
}

func (e *EvaluationError) Error() string {
	return fmt.Sprintf("filter %s: %s: %v", e.Filter, e.Field, e.Err)
}

func (e *EvaluationError) Unwrap() error { return e.Err }

// ErrOutOfBudget is wrapped by evaluation errors caused by the cost budget running out.
var ErrOutOfBudget = errors.New("cost budget exceeded")

// Evaluate runs the filter on one object: the match conditions, then keep, then the
// mutations in order, each mutation seeing the object as the previous one left it. It does
// not check Matches and does not apply the failure policy (Chain does both). obj is not
// modified; a mutated result shares the parts no mutation touched with obj, so treat both as
// read-only (deep-copy before changing either in place). ApplyConfiguration mutations need obj's apiVersion and kind (list items sent by
// an API server lack them; set them from the list's kind before filtering).
func (f *Filter) Evaluate(ctx context.Context, obj *unstructured.Unstructured, req Request, node Node) (Result, error) {
	return f.evaluate(ctx, obj, newInputs(req, node))
}

// evaluate is Evaluate with the request and node already converted, once per response.
func (f *Filter) evaluate(ctx context.Context, obj *unstructured.Unstructured, in inputs) (Result, error) {
	if obj == nil || obj.Object == nil {
		return Result{}, &EvaluationError{Filter: f.Name, Field: "object", Err: errors.New("no object to filter")}
	}
	if f.hasFast {
		if res, err, ok := f.evaluateFast(ctx, obj, in); ok {
			return res, err
		}
	}
	ev := &evaluation{filter: f, remaining: f.budget}
	act := ev.newActivation(ctx, obj.Object, in)

	for _, c := range f.conditions {
		ok, err := ev.evalBool(ctx, act, &c)
		if err != nil {
			return Result{Cost: ev.spent()}, err
		}
		if !ok {
			return Result{Object: obj, Keep: true, Skipped: true, Cost: ev.spent()}, nil
		}
	}
	if f.keep != nil {
		ok, err := ev.evalBool(ctx, act, f.keep)
		if err != nil {
			return Result{Cost: ev.spent()}, err
		}
		if !ok {
			return Result{Keep: false, Cost: ev.spent()}, nil
		}
	}
	current := obj
	for i := range f.mutations {
		m := &f.mutations[i]
		if i > 0 {
			// Variables are evaluated afresh against the mutated object.
			act = ev.newActivation(ctx, current.Object, in)
		}
		val, err := ev.eval(ctx, act, &m.compiledExpression)
		if err != nil {
			return Result{Cost: ev.spent()}, err
		}
		next, err := f.applyMutation(m.patchType, current, val)
		if err != nil {
			return Result{Cost: ev.spent()}, &EvaluationError{Filter: f.Name, Field: m.path, Err: err}
		}
		current = next
	}
	return Result{Object: current, Keep: true, Cost: ev.spent()}, nil
}

// evaluation tracks the cost budget of one filter on one object.
type evaluation struct {
	filter    *Filter
	remaining int64
	// varCost accumulates the cost of lazily evaluated variables until the expression that
	// referenced them is charged.
	varCost int64
}

func (ev *evaluation) spent() int64 { return ev.filter.budget - ev.remaining }

func actualCost(details *cel.EvalDetails) int64 {
	if details == nil || details.ActualCost() == nil {
		return 0
	}
	c := *details.ActualCost()
	if c > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(c)
}

// eval runs one expression and charges its cost, and that of the variables it read.
func (ev *evaluation) eval(ctx context.Context, act *activation, e *compiledExpression) (ref.Val, error) {
	val, details, err := e.program.ContextEval(ctx, act)
	cost := actualCost(details) + ev.varCost
	ev.varCost = 0
	if err != nil && strings.Contains(err.Error(), "cost limit exceeded") {
		// Interrupted by the program's cost limit (the whole budget) before finishing.
		ev.remaining = 0
		return nil, &EvaluationError{Filter: ev.filter.Name, Field: e.path, Err: fmt.Errorf("%w: %v", ErrOutOfBudget, err)}
	}
	if cost > ev.remaining {
		ev.remaining = 0
		return nil, &EvaluationError{Filter: ev.filter.Name, Field: e.path,
			Err: fmt.Errorf("%w: the filter may spend %d per object", ErrOutOfBudget, ev.filter.budget)}
	}
	ev.remaining -= cost
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			err = fmt.Errorf("%w: %v", ErrOutOfBudget, err)
		}
		return nil, &EvaluationError{Filter: ev.filter.Name, Field: e.path, Err: err}
	}
	return val, nil
}

func (ev *evaluation) evalBool(ctx context.Context, act *activation, e *compiledExpression) (bool, error) {
	val, err := ev.eval(ctx, act, e)
	if err != nil {
		return false, err
	}
	return ev.boolOf(e, val)
}
