package filter

import (
	"context"
	"errors"
	"fmt"
	"sync"

	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// fastRun is the state of one evaluation of a filter on one object with fast plans, in one
// allocation.
type fastRun struct {
	f       *Filter
	ctx     context.Context
	in      inputs
	ev      evaluation
	fe      fastEval
	vars    fastVars
	current *unstructured.Unstructured
	// act is the cel-go activation, made when a cel-go program first runs.
	act *activation

	slotBuf   [4]fastVar
	localsBuf [8]any
}

// fastRuns recycles fastRun values: one per object filtered, and a few hundred bytes each.
var fastRuns = sync.Pool{New: func() any { return new(fastRun) }}

// evaluateFast is evaluate with the fast plans (plan.go) where the expressions have them and
// cel-go's programs for the others and wherever a plan bails. ok is false when the evaluation
// must be redone by cel-go alone: the budget ran out while conservative fast costs were charged,
// so the budget error (or its absence) would not be cel-go's.
func (f *Filter) evaluateFast(ctx context.Context, obj *unstructured.Unstructured, in inputs) (res Result, err error, ok bool) {
	r := fastRuns.Get().(*fastRun)
	defer func() {
		// Nothing of r is referenced once the evaluation returns (results and errors hold
		// objects and messages, not the run): reuse it, without what it pointed to.
		*r = fastRun{}
		fastRuns.Put(r)
	}()
	r.f, r.ctx, r.in, r.current = f, ctx, in, obj
	r.ev = evaluation{filter: f, remaining: f.budget}
	r.fe = fastEval{object: obj.Object, in: &r.in, varLimit: uint64(f.callLimit), vars: &r.vars}
	r.fe.locals = r.localsBuf[:0]
	r.resetVars()

	for i := range f.conditions {
		b, err := r.runBool(&f.conditions[i])
		if err != nil {
			return r.failed(err)
		}
		if !b {
			return Result{Object: obj, Keep: true, Skipped: true, Cost: r.ev.spent()}, nil, true
		}
	}
	if f.keep != nil {
		b, err := r.runBool(f.keep)
		if err != nil {
			return r.failed(err)
		}
		if !b {
			return Result{Keep: false, Cost: r.ev.spent()}, nil, true
		}
	}
	for i := range f.mutations {
		m := &f.mutations[i]
		if i > 0 {
			// Variables are evaluated afresh against the mutated object.
			r.act = nil
			r.fe.object = r.current.Object
			r.fe.labels = nil
			r.resetVars()
		}
		native, val, fast, err := r.run(&m.compiledExpression)
		if err != nil {
			return r.failed(err)
		}
		var next *unstructured.Unstructured
		applied := false
		if fast && m.patchType == appsv1alpha1.PatchTypeJSONPatch {
			if ops, isOps := nativePatchOps(native); isOps {
				next, err = applyPatchOpsTo(r.current, ops)
				applied = true
			}
		}
		if !applied {
			if fast {
				if val, err = r.ev.eval(ctx, r.activation(), &m.compiledExpression); err != nil {
					return r.failed(err)
				}
			}
			next, err = f.applyMutation(m.patchType, r.current, val)
		}
		if err != nil {
			return Result{Cost: r.ev.spent()}, &EvaluationError{Filter: f.Name, Field: m.path, Err: err}, true
		}
		r.current = next
	}
	return Result{Object: r.current, Keep: true, Cost: r.ev.spent()}, nil, true
}

func (r *fastRun) resetVars() {
	r.vars = fastVars{set: r.f.variableSet}
	r.vars.pending = r.vars.pendingBuf[:0]
	if n := len(r.f.variableSet.names); n > 0 {
		if n <= len(r.slotBuf) {
			r.slotBuf = [len(r.slotBuf)]fastVar{}
			r.vars.slots = r.slotBuf[:n]
		} else {
			r.vars.slots = make([]fastVar, n)
		}
	}
}

// failed ends the evaluation with an expression's error, or asks for a cel-go-only evaluation
// when the budget ran out.
func (r *fastRun) failed(err error) (Result, error, bool) {
	if errors.Is(err, ErrOutOfBudget) {
		return Result{}, nil, false
	}
	return Result{Cost: r.ev.spent()}, err, true
}

func (r *fastRun) activation() *activation {
	if r.act == nil {
		r.act = r.ev.newActivation(r.ctx, r.current.Object, r.in)
		for i := range r.vars.slots {
			r.shareVariable(i)
		}
	}
	return r.act
}

// shareVariable gives the cel-go activation the value a plan computed for variable i, once its
// cost is charged, so that cel-go neither evaluates nor charges it again (as it would not have
// had it evaluated the expression that read it first).
func (r *fastRun) shareVariable(i int) {
	slot := &r.vars.slots[i]
	if r.act == nil || slot.state != 1 || !slot.charged || r.act.variables.values[i] != nil {
		return
	}
	if v, ok := refValOf(slot.val); ok {
		r.act.variables.values[i] = v
	}
}

// refValOf is the CEL value of a plan's value: what cel-go's adapter makes of unstructured
// content (unstructuredval.go), and optionals.
func refValOf(v any) (ref.Val, bool) {
	switch t := v.(type) {
	case *optVal:
		if !t.has {
			return celtypes.OptionalNone, true
		}
		inner, ok := refValOf(t.v)
		if !ok {
			return nil, false
		}
		return celtypes.OptionalOf(inner), true
	case *patchOp:
		return nil, false
	}
	return unstructuredValue(v), true
}

// run evaluates one expression: fast if it can, else with cel-go. native is set when fast.
func (r *fastRun) run(e *compiledExpression) (native any, val ref.Val, fast bool, err error) {
	if v, done := r.f.runFast(r.ctx, &r.ev, &r.fe, e); done {
		if r.act != nil {
			for i := range r.vars.slots {
				r.shareVariable(i)
			}
		}
		return v, nil, true, nil
	}
	val, err = r.ev.eval(r.ctx, r.activation(), e)
	return nil, val, false, err
}

func (r *fastRun) runBool(e *compiledExpression) (bool, error) {
	native, val, fast, err := r.run(e)
	if err != nil {
		return false, err
	}
	if fast {
		if b, isBool := native.(bool); isBool {
			return b, nil
		}
		// Not a bool: let cel-go's program say so (the fast cost stays charged: conservative).
		if val, err = r.ev.eval(r.ctx, r.activation(), e); err != nil {
			return false, err
		}
	}
	return r.ev.boolOf(e, val)
}

// runFast evaluates an expression with its plan and charges its cost (and that of the variables
// it evaluated first). done is false when it has no plan or the plan bailed.
func (f *Filter) runFast(ctx context.Context, ev *evaluation, fe *fastEval, e *compiledExpression) (any, bool) {
	if e.fast == nil || ctx.Err() != nil {
		return nil, false
	}
	vs := fe.vars
	for _, i := range vs.pending {
		vs.slots[i].pending = false
	}
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
		vs.slots[i].charged, vs.slots[i].pending = true, false
	}
	vs.pending = vs.pending[:0]
	ev.remaining -= int64(total)
	return v, true
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
