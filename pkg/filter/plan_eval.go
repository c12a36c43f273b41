package filter

import (
	"context"
	"errors"
	"fmt"

	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// evaluateFast is evaluate with the fast plans (plan.go) where the expressions have them and
// cel-go's programs for the others and wherever a plan bails. ok is false when the evaluation
// must be redone by cel-go alone: the budget ran out while conservative fast costs were charged,
// so the budget error (or its absence) would not be cel-go's.
func (f *Filter) evaluateFast(ctx context.Context, obj *unstructured.Unstructured, in *inputs) (res Result, err error, ok bool) {
	ev := &evaluation{filter: f, remaining: f.budget}
	fe := &fastEval{object: obj.Object, in: in, varLimit: uint64(f.callLimit), vars: newFastVars(f.variableSet)}
	current := obj
	var act *activation
	celActivation := func() *activation {
		if act == nil {
			act = ev.newActivation(ctx, current.Object, *in)
		}
		return act
	}
	// run evaluates one expression: fast if it can, else with cel-go. Exactly one of native and
	// val is set on success.
	run := func(e *compiledExpression) (native any, val ref.Val, fast bool, err error) {
		if v, done := f.runFast(ctx, ev, fe, e); done {
			return v, nil, true, nil
		}
		val, err = ev.eval(ctx, celActivation(), e)
		return nil, val, false, err
	}
	budgetFailure := func(err error) bool { return errors.Is(err, ErrOutOfBudget) }
	runBool := func(e *compiledExpression) (bool, error) {
		native, val, fast, err := run(e)
		if err != nil {
			return false, err
		}
		if fast {
			if b, isBool := native.(bool); isBool {
				return b, nil
			}
			// Not a bool: let cel-go's program say so (cost already charged: conservative).
			if val, err = ev.eval(ctx, celActivation(), e); err != nil {
				return false, err
			}
		}
		return ev.boolOf(e, val)
	}

	for i := range f.conditions {
		b, err := runBool(&f.conditions[i])
		if err != nil {
			if budgetFailure(err) {
				return Result{}, nil, false
			}
			return Result{Cost: ev.spent()}, err, true
		}
		if !b {
			return Result{Object: obj, Keep: true, Skipped: true, Cost: ev.spent()}, nil, true
		}
	}
	if f.keep != nil {
		b, err := runBool(f.keep)
		if err != nil {
			if budgetFailure(err) {
				return Result{}, nil, false
			}
			return Result{Cost: ev.spent()}, err, true
		}
		if !b {
			return Result{Keep: false, Cost: ev.spent()}, nil, true
		}
	}
	for i := range f.mutations {
		m := &f.mutations[i]
		if i > 0 {
			// Variables are evaluated afresh against the mutated object.
			act = nil
			fe.object = current.Object
			fe.labels = nil
			fe.vars = newFastVars(f.variableSet)
		}
		native, val, fast, err := run(&m.compiledExpression)
		if err != nil {
			if budgetFailure(err) {
				return Result{}, nil, false
			}
			return Result{Cost: ev.spent()}, err, true
		}
		var next *unstructured.Unstructured
		if fast && m.patchType == appsv1alpha1.PatchTypeJSONPatch {
			var ops []patchOp
			if ops, ok = nativePatchOps(native); ok {
				next, err = applyPatchOpsTo(current, ops)
			}
		} else {
			ok = false
		}
		if !ok {
			if fast {
				if val, err = ev.eval(ctx, celActivation(), &m.compiledExpression); err != nil {
					if budgetFailure(err) {
						return Result{}, nil, false
					}
					return Result{Cost: ev.spent()}, err, true
				}
			}
			next, err = f.applyMutation(m.patchType, current, val)
		}
		if err != nil {
			return Result{Cost: ev.spent()}, &EvaluationError{Filter: f.Name, Field: m.path, Err: err}, true
		}
		current = next
	}
	return Result{Object: current, Keep: true, Cost: ev.spent()}, nil, true
}

// runFast evaluates an expression with its plan and charges its cost (and that of the variables
// it evaluated first). done is false when it has no plan or the plan bailed.
func (f *Filter) runFast(ctx context.Context, ev *evaluation, fe *fastEval, e *compiledExpression) (any, bool) {
	if e.fast == nil || ctx.Err() != nil {
		return nil, false
	}
	vs := fe.vars
	vs.pending = vs.pending[:0]
	fe.cost = 0
	fe.limit = uint64(f.callLimit)
	if r := uint64(ev.remaining); r < fe.limit {
		fe.limit = r
	}
	if n := e.fast.locals; n > 0 {
		if cap(fe.locals) < n {
			fe.locals = make([]any, n)
		}
		fe.locals = fe.locals[:n]
	}
	v, ok := e.fast.root.val(fe)
	if !ok || fe.cost > fe.limit {
		return nil, false
	}
	total := fe.cost
	for _, i := range vs.pending {
		if !vs.slots[i].charged {
			total += vs.slots[i].cost
		}
	}
	if total > uint64(ev.remaining) {
		return nil, false
	}
	for _, i := range vs.pending {
		vs.slots[i].charged = true
	}
	ev.remaining -= int64(total)
	return v, true
}

func newFastVars(set *variableSet) *fastVars {
	vs := &fastVars{set: set}
	vs.pending = vs.pendingBuf[:0]
	if n := len(set.names); n > 0 {
		vs.slots = make([]fastVar, n)
	}
	return vs
}

// nativePatchOps converts the fast value of a JSONPatch expression: a list of patch ops (which
// the planner only lets flow from list literals, concatenations and conditionals to the root,
// and whose values are unstructured content).
func nativePatchOps(v any) ([]patchOp, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	ops := make([]patchOp, len(list))
	for i, e := range list {
		op, ok := e.(*patchOp)
		if !ok {
			return nil, false
		}
		ops[i] = *op
	}
	return ops, true
}

func (ev *evaluation) boolOf(e *compiledExpression, val ref.Val) (bool, error) {
	b, ok := val.(celtypes.Bool)
	if !ok {
		return false, &EvaluationError{Filter: ev.filter.Name, Field: e.path, Err: fmt.Errorf("evaluated to %v, not a bool", val.Type())}
	}
	return bool(b), nil
}
