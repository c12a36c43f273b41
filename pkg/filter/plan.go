package filter

import (
	"cmp"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	celtypes "github.com/google/cel-go/common/types"
)

// A fast plan evaluates a type-checked CEL expression of a subset of CEL directly on the
// unstructured content (map[string]any, []any, string, int64, float64, bool, nil), without
// cel-go's interpreter: no ref.Val boxing, no cost tracker, no per-step observer. cel-go's
// interpreter spends most of a filter's time on those and on collecting the garbage they make.
//
// The plan is trusted only where its semantics are obviously cel-go's:
//   - An expression outside the subset gets no plan (decided when compiling) and is evaluated by
//     its cel-go program.
//   - At run time the plan gives up ("bails") on anything it does not model exactly: what would
//     be an error in cel-go (a missing key without has() or `.?`, a type mismatch, an overflow, a
//     division by zero, an index out of range), an unexpected Go type in the object, numeric
//     equality across int and double, a duplicate map key, a cancelled context. The expression is
//     then evaluated by its cel-go program, so results and error messages are cel-go's. Reading
//     is pure, so evaluating again is safe.
//   - Cost: every step charges what cel-go's runtime cost tracker charges for it
//     (interpreter/runtimecost.go with Kubernetes' library.CostEstimator, presence tests free),
//     or more: identifiers, selections and indexes 1 (optional ones that find nothing 0, a
//     chain on a non-attribute operand 1 more, an attribute branch of a conditional 1 less),
//     list literals 10, map literals 30, struct literals 40, literals of constants and type
//     conversions of constants 0 (cel-go folds them), comprehension steps as the macro's
//     expansion, calls as costCall or Kubernetes' estimator (string equality and comparison
//     ceil(min(len)*0.1), concatenation ceil((len+len)*0.1), `in` a list its size, in a list of
//     constants 0, split and replace ceil(len*0.2), others 1...), with string sizes in bytes
//     (at least cel-go's rune counts). When the count would pass the per-expression limit or
//     the filter's remaining budget, the plan bails; if cel-go then finds the budget exceeded,
//     the filter evaluation is redone by cel-go alone, so a budget error is cel-go's own.
//     Result.Cost is thus at least cel-go's cost; it is equal for the built-in filters
//     (TestPlanBuiltinFilters), and the differential tests check that it is never less.

// pnode is a planned expression. val is always set; the typed forms are set when the checker
// knows the type, to avoid boxing strings and bools into interfaces, and opt for optionals.
type pnode struct {
	val func(*fastEval) (any, bool)
	str func(*fastEval) (string, bool)
	bl  func(*fastEval) (bool, bool)
	i64 func(*fastEval) (int64, bool)
	// opt is the form of optional-typed expressions: the value, whether it is present, ok.
	opt func(*fastEval) (any, bool, bool)
	// constant is the value of a list or map literal of constants (isConst).
	constant any
	isConst  bool
}

// optVal is an optional value materialized as a value (a variable of optional type).
type optVal struct {
	v   any
	has bool
}

var optNone = &optVal{}

// fastProgram is the plan of one expression.
type fastProgram struct {
	root   *pnode
	locals int
}

// fastEval is the state of one fast evaluation of a filter on one object.
type fastEval struct {
	object map[string]any
	in     *inputs
	labels map[string]any

	locals []any
	// cost is the cost of the program running; limit what it may reach before bailing.
	cost  uint64
	limit uint64
	// varLimit is the limit of a variable's program.
	varLimit uint64

	vars *fastVars
}

// fastVars are the filter's variables as the fast plans evaluate them.
type fastVars struct {
	set   *variableSet
	slots []fastVar
	// pending lists the variables read by the running expression whose cost is not charged yet.
	pending    []int
	pendingBuf [4]int
}

type fastVar struct {
	state uint8 // 0 not evaluated, 1 evaluated, 2 bailed
	// charged says whether the cost was charged to an expression that completed; pending
	// whether it is listed in fastVars.pending.
	charged, pending bool
	val              any
	cost             uint64
}

const stringTraversalCostFactor = 0.1

func traversalCost(n int) uint64 {
	return uint64(math.Ceil(float64(n) * stringTraversalCostFactor))
}

// planner compiles a checked AST into a pnode tree.
type planner struct {
	ast    *celast.AST
	vars   *variableSet
	lookup Lookup
	scope  []scopeVar
	nslots int
}

type scopeVar struct {
	name string
	slot int
}

type unsupported struct{}

// planExpression returns the fast plan of a checked expression, or nil if the expression is
// outside the subset.
func planExpression(a *cel.Ast, vars *variableSet, lookup Lookup) (prog *fastProgram) {
	if a == nil || !a.IsChecked() {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(unsupported); ok {
				prog = nil
				return
			}
			panic(r)
		}
	}()
	p := &planner{ast: a.NativeRep(), vars: vars, lookup: lookup}
	root := p.plan(p.ast.Expr(), true)
	return &fastProgram{root: root, locals: p.nslots}
}

func no() { panic(unsupported{}) }

func (p *planner) typeOf(e celast.Expr) *celtypes.Type { return p.ast.GetType(e.ID()) }

func isOptionalType(t *celtypes.Type) bool {
	return t != nil && t.Kind() == celtypes.OpaqueKind && t.TypeName() == "optional_type"
}

func mentionsJSONPatch(t *celtypes.Type) bool {
	if t == nil {
		return false
	}
	if t.Kind() == celtypes.StructKind && t.TypeName() == "JSONPatch" {
		return true
	}
	for _, p := range t.Parameters() {
		if mentionsJSONPatch(p) {
			return true
		}
	}
	return false
}

// plan plans e. patchOK says whether e may be a JSONPatch or a list of them: only at the root,
// in list literal elements, ternary branches and list concatenations leading to the root, so
// that a patch value never ends up inside other data.
func (p *planner) plan(e celast.Expr, patchOK bool) *pnode {
	t := p.typeOf(e)
	if !patchOK && mentionsJSONPatch(t) {
		no()
	}
	var n *pnode
	switch e.Kind() {
	case celast.LiteralKind:
		n = p.planLiteral(e)
	case celast.IdentKind:
		n = p.planIdent(e.AsIdent())
	case celast.SelectKind:
		n = p.planSelect(e)
	case celast.CallKind:
		n = p.planCall(e, patchOK)
	case celast.ListKind:
		n = p.planList(e, patchOK)
	case celast.MapKind:
		n = p.planMap(e)
	case celast.StructKind:
		n = p.planStruct(e, patchOK)
	case celast.ComprehensionKind:
		n = p.planComprehension(e)
	default:
		no()
	}
	if isOptionalType(t) || (n.opt != nil && n.val == nil) {
		// Optional-typed (or an optional the checker types dyn, as x[?k] on a dyn x).
		if n.opt == nil {
			no()
		}
		opt := n.opt
		n.val = func(ev *fastEval) (any, bool) {
			v, has, ok := opt(ev)
			if !ok {
				return nil, false
			}
			if !has {
				return optNone, true
			}
			return &optVal{v: v, has: true}, true
		}
		// The typed forms bail: an optional is none of them.
		fillTyped(n, t)
		return n
	}
	fillTyped(n, t)
	return n
}

// fillTyped derives the forms a node lacks from val (type-asserting, bailing on another type)
// or val from a typed form (boxing).
func fillTyped(n *pnode, t *celtypes.Type) {
	if n.val == nil {
		switch {
		case n.str != nil:
			n.val = boxed(n.str)
		case n.bl != nil:
			n.val = boxed(n.bl)
		case n.i64 != nil:
			n.val = boxed(n.i64)
		default:
			no()
		}
	}
	v := n.val
	if n.str == nil {
		n.str = asserted[string](v)
	}
	if n.bl == nil {
		n.bl = asserted[bool](v)
	}
	if n.i64 == nil {
		n.i64 = asserted[int64](v)
	}
	if n.opt == nil {
		// A dyn value that is an optional at run time (a variable of optional type).
		n.opt = func(ev *fastEval) (any, bool, bool) {
			x, ok := v(ev)
			o, isOpt := x.(*optVal)
			if !ok || !isOpt {
				return nil, false, false
			}
			return o.v, o.has, true
		}
	}
}

// The typed forms of a pnode (val, str, bl, i64) differ only in their value's type: the generic
// helpers below are written once for all of them. Go stencils them per GC shape (interface,
// string, bool, int64), so each form keeps its own unboxed code.

// boxed is the val form of a typed form.
func boxed[T any](f func(*fastEval) (T, bool)) func(*fastEval) (any, bool) {
	return func(ev *fastEval) (any, bool) { return f(ev) }
}

// asserted is a typed form of a val form, bailing on a value of another type.
func asserted[T any](v func(*fastEval) (any, bool)) func(*fastEval) (T, bool) {
	return func(ev *fastEval) (T, bool) {
		x, ok := v(ev)
		t, isT := x.(T)
		return t, ok && isT
	}
}

// choose is the conditional cond ? t : f in one form.
func choose[T any](cond func(*fastEval) (bool, bool), t, f func(*fastEval) (T, bool)) func(*fastEval) (T, bool) {
	return func(ev *fastEval) (T, bool) {
		b, ok := cond(ev)
		if !ok {
			var zero T
			return zero, false
		}
		if b {
			return t(ev)
		}
		return f(ev)
	}
}

// both is a binary operation: l, then r, bailing if either bails, then op on their values.
func both[A, B, R any](l func(*fastEval) (A, bool), r func(*fastEval) (B, bool), op func(ev *fastEval, a A, b B) (R, bool)) func(*fastEval) (R, bool) {
	return func(ev *fastEval) (R, bool) {
		a, ok := l(ev)
		if !ok {
			var zero R
			return zero, false
		}
		b, ok := r(ev)
		if !ok {
			var zero R
			return zero, false
		}
		return op(ev, a, b)
	}
}

// pair is the values of two operands, for operations of three or four (both of pairs).
type pair[A, B any] struct {
	a A
	b B
}

func pairOf[A, B any](l func(*fastEval) (A, bool), r func(*fastEval) (B, bool)) func(*fastEval) (pair[A, B], bool) {
	return both(l, r, func(_ *fastEval, a A, b B) (pair[A, B], bool) { return pair[A, B]{a, b}, true })
}

// refunded is f with the 1 that cel-go does not charge for an attribute branch (planBranch)
// taken back after it; nil if f is.
func refunded[T any](f func(*fastEval) (T, bool)) func(*fastEval) (T, bool) {
	if f == nil {
		return nil
	}
	return func(ev *fastEval) (T, bool) {
		v, ok := f(ev)
		refund(ev)
		return v, ok
	}
}

func refund(ev *fastEval) {
	if ev.cost > 0 {
		ev.cost--
	}
}

// planLiteral plans a literal of the kinds constantValue knows (string, int, bool, double, null).
func (p *planner) planLiteral(e celast.Expr) *pnode {
	v, ok := constantValue(e)
	if !ok {
		no()
	}
	return constNodeOf(v)
}

func (p *planner) lookupLocal(name string) (int, bool) {
	for i := len(p.scope) - 1; i >= 0; i-- {
		if p.scope[i].name == name {
			return p.scope[i].slot, true
		}
	}
	return 0, false
}

func (p *planner) planIdent(name string) *pnode {
	if slot, ok := p.lookupLocal(name); ok {
		return &pnode{val: func(ev *fastEval) (any, bool) {
			ev.cost++
			return ev.locals[slot], true
		}}
	}
	switch name {
	case ObjectVarName:
		return &pnode{val: func(ev *fastEval) (any, bool) {
			ev.cost++
			return ev.object, true
		}}
	}
	// request, node and variables only as the operand of a selection (planSelect).
	no()
	return nil
}

// checkNative accepts the Go types a value read from unstructured content may have in the fast
// path; anything else (int, int32, structs...) is left to cel-go's type adapter.
func checkNative(v any) bool {
	switch v.(type) {
	case nil, string, int64, bool, float64, map[string]any, []any:
		return true
	}
	return false
}

// storable says whether v may go into a list or map: optionals and patches may not.
func storable(v any) bool {
	switch v.(type) {
	case *optVal, *patchOp:
		return false
	}
	return true
}

func (p *planner) planSelect(e celast.Expr) *pnode {
	s := e.AsSelect()
	field := s.FieldName()
	operand := s.Operand()
	if operand.Kind() == celast.IdentKind {
		if _, local := p.lookupLocal(operand.AsIdent()); !local {
			switch operand.AsIdent() {
			case RequestVarName:
				return p.planRequestField(field, s.IsTestOnly())
			case NodeVarName:
				return p.planNodeField(field, s.IsTestOnly())
			case VariablesVarName:
				return p.planVariable(field, s.IsTestOnly())
			}
		}
	}
	if operand.Kind() == celast.IdentKind {
		if slot, local := p.lookupLocal(operand.AsIdent()); local {
			return selectLocal(slot, field, s.IsTestOnly())
		}
	}
	op := p.plan(operand, false).val
	if extra := relativeCost(operand); extra > 0 {
		inner := op
		op = func(ev *fastEval) (any, bool) {
			ev.cost += extra
			return inner(ev)
		}
	}
	if s.IsTestOnly() {
		// has(): presence tests cost nothing beyond their operand in Kubernetes' environment.
		return &pnode{bl: func(ev *fastEval) (bool, bool) {
			x, ok := op(ev)
			m, isMap := x.(map[string]any)
			if !ok || !isMap {
				return false, false
			}
			_, found := m[field]
			return found, true
		}}
	}
	return &pnode{val: func(ev *fastEval) (any, bool) {
		x, ok := op(ev)
		m, isMap := x.(map[string]any)
		if !ok || !isMap {
			return nil, false
		}
		ev.cost++
		v, found := m[field]
		if !found || !checkNative(v) {
			return nil, false
		}
		return v, true
	}}
}

// selectLocal is x.f and has(x.f) on a comprehension variable x, the commonest selection in
// loops, in one closure (the identifier 1, the field 1; presence tests 1).
func selectLocal(slot int, field string, testOnly bool) *pnode {
	if testOnly {
		return &pnode{bl: func(ev *fastEval) (bool, bool) {
			m, isMap := ev.locals[slot].(map[string]any)
			if !isMap {
				return false, false
			}
			ev.cost++
			_, found := m[field]
			return found, true
		}}
	}
	return &pnode{
		val: func(ev *fastEval) (any, bool) {
			m, isMap := ev.locals[slot].(map[string]any)
			if !isMap {
				return nil, false
			}
			ev.cost += 2
			v, found := m[field]
			if !found || !checkNative(v) {
				return nil, false
			}
			return v, true
		},
		str: func(ev *fastEval) (string, bool) {
			m, isMap := ev.locals[slot].(map[string]any)
			if !isMap {
				return "", false
			}
			ev.cost += 2
			v, isStr := m[field].(string)
			return v, isStr
		},
	}
}

// requestFields read the fields of request.
var requestFields = map[string]func(r *Request) string{
	"userAgent": func(r *Request) string { return r.UserAgent },
	"verb":      func(r *Request) string { return r.Verb },
	"group":     func(r *Request) string { return r.Group },
	"version":   func(r *Request) string { return r.Version },
	"resource":  func(r *Request) string { return r.Resource },
	"namespace": func(r *Request) string { return r.Namespace },
	"name":      func(r *Request) string { return r.Name },
}

func (p *planner) planRequestField(field string, testOnly bool) *pnode {
	get, known := requestFields[field]
	if !known || testOnly {
		no()
	}
	return &pnode{str: func(ev *fastEval) (string, bool) {
		ev.cost += 2
		return get(&ev.in.req), true
	}}
}

func (p *planner) planNodeField(field string, testOnly bool) *pnode {
	if testOnly {
		no()
	}
	switch field {
	case "name", "pool":
		pool := field == "pool"
		return &pnode{str: func(ev *fastEval) (string, bool) {
			ev.cost += 2
			if pool {
				return ev.in.nd.Pool, true
			}
			return ev.in.nd.Name, true
		}}
	case "labels":
		return &pnode{val: func(ev *fastEval) (any, bool) {
			ev.cost += 2
			if ev.labels == nil {
				ev.labels = make(map[string]any, len(ev.in.nd.Labels))
				for k, v := range ev.in.nd.Labels {
					ev.labels[k] = v
				}
			}
			return ev.labels, true
		}}
	}
	no()
	return nil
}

func (p *planner) planVariable(name string, testOnly bool) *pnode {
	if testOnly || p.vars == nil {
		no()
	}
	i, ok := p.vars.index[name]
	if !ok || i >= len(p.vars.fast) || p.vars.fast[i] == nil {
		// Not declared yet (being compiled), or no plan: the expression has no plan either.
		no()
	}
	prog := p.vars.fast[i]
	n := &pnode{val: func(ev *fastEval) (any, bool) {
		ev.cost += 2
		return ev.variable(i, prog)
	}}
	return n
}

// variable returns the value of variable i, evaluating it with its plan on first use.
func (ev *fastEval) variable(i int, prog *fastProgram) (any, bool) {
	vs := ev.vars
	slot := &vs.slots[i]
	switch slot.state {
	case 1:
		if !slot.charged && !slot.pending {
			slot.pending = true
			vs.pending = append(vs.pending, i)
		}
		return slot.val, true
	case 2:
		return nil, false
	}
	savedCost, savedLimit, savedLocals := ev.cost, ev.limit, ev.locals
	ev.cost = 0
	// A variable is a program of its own in cel-go: its own per-call limit.
	ev.limit = ev.varLimit
	if prog.locals > 0 {
		ev.locals = make([]any, prog.locals)
	}
	v, ok := prog.root.val(ev)
	if ok && ev.cost > ev.limit {
		ok = false
	}
	cost := ev.cost
	ev.cost, ev.limit, ev.locals = savedCost, savedLimit, savedLocals
	if !ok {
		slot.state = 2
		return nil, false
	}
	slot.state, slot.val, slot.cost, slot.pending = 1, v, cost, true
	vs.pending = append(vs.pending, i)
	return v, true
}

func (p *planner) planList(e celast.Expr, patchOK bool) *pnode {
	l := e.AsList()
	if len(l.OptionalIndices()) > 0 {
		no()
	}
	if v, ok := constantValue(e); ok {
		return constantNode(v)
	}
	elems := make([]func(*fastEval) (any, bool), len(l.Elements()))
	for i, el := range l.Elements() {
		elems[i] = p.plan(el, patchOK).val
	}
	return &pnode{val: func(ev *fastEval) (any, bool) {
		ev.cost += 10
		out := make([]any, len(elems))
		for i, f := range elems {
			v, ok := f(ev)
			if !ok {
				return nil, false
			}
			if _, isOpt := v.(*optVal); isOpt || (!patchOK && !storable(v)) {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	}}
}

func (p *planner) planMap(e celast.Expr) *pnode {
	if v, ok := constantValue(e); ok {
		return constantNode(v)
	}
	m := e.AsMap()
	type entry struct {
		key func(*fastEval) (string, bool)
		val func(*fastEval) (any, bool)
	}
	var entries []entry
	for _, en := range m.Entries() {
		me := en.AsMapEntry()
		if me.IsOptional() {
			no()
		}
		kt := p.typeOf(me.Key())
		if kt == nil || kt.Kind() != celtypes.StringKind {
			no()
		}
		entries = append(entries, entry{key: p.plan(me.Key(), false).str, val: p.plan(me.Value(), false).val})
	}
	return &pnode{val: func(ev *fastEval) (any, bool) {
		ev.cost += 30
		out := make(map[string]any, len(entries))
		for _, en := range entries {
			k, ok := en.key(ev)
			if !ok {
				return nil, false
			}
			v, ok := en.val(ev)
			if !ok || !storable(v) {
				return nil, false
			}
			if _, dup := out[k]; dup {
				return nil, false
			}
			out[k] = v
		}
		return out, true
	}}
}

func (p *planner) planStruct(e celast.Expr, patchOK bool) *pnode {
	s := e.AsStruct()
	if s.TypeName() != "JSONPatch" || !patchOK {
		no()
	}
	var op, path, from func(*fastEval) (string, bool)
	var value func(*fastEval) (any, bool)
	// A constant path is parsed once (a valid, non-empty pointer: "" means the whole document,
	// which the patcher tells by a nil path).
	var parsedPath []string
	for _, f := range s.Fields() {
		sf := f.AsStructField()
		if sf.IsOptional() {
			no()
		}
		switch sf.Name() {
		case "op":
			op = p.plan(sf.Value(), false).str
		case "path":
			path = p.plan(sf.Value(), false).str
			if c, ok := constantValue(sf.Value()); ok {
				if cs, isStr := c.(string); isStr && cs != "" {
					if parsed, err := parsePointer(cs); err == nil {
						parsedPath = parsed
					}
				}
			}
		case "from":
			from = p.plan(sf.Value(), false).str
		case "value":
			value = p.plan(sf.Value(), false).val
		default:
			no()
		}
	}
	return &pnode{val: func(ev *fastEval) (any, bool) {
		ev.cost += 40
		out := &patchOp{parsedPath: parsedPath}
		var ok bool
		// Fields in the order of the literal do not matter: evaluation is pure.
		if op != nil {
			if out.op, ok = op(ev); !ok {
				return nil, false
			}
		}
		if path != nil {
			if out.path, ok = path(ev); !ok {
				return nil, false
			}
		}
		if from != nil {
			if out.from, ok = from(ev); !ok {
				return nil, false
			}
		}
		if value != nil {
			v, ok := value(ev)
			if !ok || !storable(v) {
				return nil, false
			}
			out.value, out.hasValue = v, true
		}
		return out, true
	}}
}

// constantNode is a list or map literal of constants. cel-go plans it as a constant: built
// once, no cost. Its value is copied for each evaluation, since it may end up in a returned
// object which its user may change; indexing and `in` read the constant itself (constant).
func constantNode(v any) *pnode {
	if l, ok := v.([]any); ok && len(l) == 0 {
		// An empty slice has no storage to share.
		return &pnode{val: func(*fastEval) (any, bool) { return emptyList, true }, constant: v, isConst: true}
	}
	return &pnode{val: func(*fastEval) (any, bool) { return deepCopy(v), true }, constant: v, isConst: true}
}

// constNodeOf is the node of a constant: a scalar, or a list or map (constantNode).
func constNodeOf(v any) *pnode {
	switch t := v.(type) {
	case string:
		return &pnode{str: func(*fastEval) (string, bool) { return t, true }, val: func(*fastEval) (any, bool) { return v, true }}
	case int64:
		return &pnode{i64: func(*fastEval) (int64, bool) { return t, true }, val: func(*fastEval) (any, bool) { return v, true }}
	case bool:
		return &pnode{bl: func(*fastEval) (bool, bool) { return t, true }}
	case []any, map[string]any:
		return constantNode(v)
	}
	return &pnode{val: func(*fastEval) (any, bool) { return v, true }}
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	}
	return v
}

// constantValue is the value of a literal, or of a list or map literal of constants (with
// string keys, no duplicates, no optional entries).
func constantValue(e celast.Expr) (any, bool) {
	switch e.Kind() {
	case celast.LiteralKind:
		switch v := e.AsLiteral().(type) {
		case celtypes.String:
			return string(v), true
		case celtypes.Int:
			return int64(v), true
		case celtypes.Bool:
			return bool(v), true
		case celtypes.Double:
			return float64(v), true
		case celtypes.Null:
			return nil, true
		}
	case celast.ListKind:
		l := e.AsList()
		if len(l.OptionalIndices()) > 0 {
			return nil, false
		}
		out := make([]any, 0, len(l.Elements()))
		for _, el := range l.Elements() {
			v, ok := constantValue(el)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	case celast.CallKind:
		// cel-go folds a type conversion of a constant into a constant (decOptimize): dyn
		// and string of a string or an int are the ones modelled.
		call := e.AsCall()
		if call.IsMemberFunction() || len(call.Args()) != 1 {
			return nil, false
		}
		v, ok := constantValue(call.Args()[0])
		if !ok {
			return nil, false
		}
		switch call.FunctionName() {
		case "dyn":
			return v, true
		case "string":
			switch t := v.(type) {
			case string:
				return t, true
			case int64:
				return strconv.FormatInt(t, 10), true
			}
		}
		return nil, false
	case celast.MapKind:
		out := map[string]any{}
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			if me.IsOptional() {
				return nil, false
			}
			k, ok := constantValue(me.Key())
			ks, isStr := k.(string)
			if !ok || !isStr {
				return nil, false
			}
			v, ok := constantValue(me.Value())
			if _, dup := out[ks]; !ok || dup {
				return nil, false
			}
			out[ks] = v
		}
		return out, true
	}
	return nil, false
}

// planComprehension plans a fold over a list. The steps of map and filter (`accu + [x]`, maybe
// under a condition) append to a list of the comprehension's own instead of copying the
// accumulator, as cel-go's mutable lists do, and are charged as cel-go charges the steps they
// replace.
func (p *planner) planComprehension(e celast.Expr) *pnode {
	c := e.AsComprehension()
	// Two variables (transformList...): the index and the element of a list.
	twoVars := c.HasIterVar2()
	rangeType := p.typeOf(c.IterRange())
	if rangeType != nil && rangeType.Kind() == celtypes.MapKind {
		no()
	}
	iterRange := p.plan(c.IterRange(), false).val
	iterSlot, accuSlot, iter2Slot := p.nslots, p.nslots+1, p.nslots+2
	p.nslots += 2
	if twoVars {
		p.nslots++
	} else {
		// Unused, but cleared with the iteration variable: the same slot.
		iter2Slot = iterSlot
	}
	scopeLen := len(p.scope)
	p.scope = append(p.scope, scopeVar{c.AccuVar(), accuSlot})
	// The accumulator only: the result does not see the iteration variables.
	result := p.plan(c.Result(), false).val
	p.scope = append(p.scope, scopeVar{c.IterVar(), iterSlot})
	if twoVars {
		p.scope = append(p.scope, scopeVar{c.IterVar2(), iter2Slot})
	}
	cond := p.plan(c.LoopCondition(), false).bl
	elemStep := p.planAppendStep(c)
	var step func(*fastEval) (any, bool)
	var accuInit func(*fastEval) (any, bool)
	if elemStep == nil {
		step = p.plan(c.LoopStep(), false).val
		p.scope = p.scope[:scopeLen]
		accuInit = p.plan(c.AccuInit(), false).val
	} else {
		p.scope = p.scope[:scopeLen]
	}
	// bind sets the iteration variables to the i-th element x.
	bind := func(ev *fastEval, i int, x any) {
		ev.locals[iterSlot] = x
	}
	if twoVars {
		bind = func(ev *fastEval, i int, x any) {
			ev.locals[iterSlot] = int64(i)
			ev.locals[iter2Slot] = x
		}
	}
	iterate := func(ev *fastEval) ([]any, bool) {
		r, ok := iterRange(ev)
		list, isList := r.([]any)
		return list, ok && isList
	}
	// One loop for both kinds of step: appends is fixed when planning, so its branches cost
	// next to nothing.
	appends := elemStep != nil
	return &pnode{val: func(ev *fastEval) (any, bool) {
		list, ok := iterate(ev)
		if !ok {
			return nil, false
		}
		var acc []any
		if appends {
			// Room for every element: one allocation; map and filter keep at most that many.
			if len(list) > 0 {
				acc = make([]any, 0, len(list))
			}
		} else {
			accu, ok := accuInit(ev)
			if !ok {
				return nil, false
			}
			ev.locals[accuSlot] = accu
		}
		for i, x := range list {
			if !checkNative(x) {
				return nil, false
			}
			bind(ev, i, x)
			goOn, ok := cond(ev)
			if !ok {
				return nil, false
			}
			if !goOn {
				break
			}
			if appends {
				v, add, ok := elemStep(ev)
				if !ok || ev.cost > ev.limit {
					return nil, false
				}
				if add {
					acc = append(acc, v)
				}
				continue
			}
			a, ok := step(ev)
			if !ok || ev.cost > ev.limit {
				return nil, false
			}
			ev.locals[accuSlot] = a
		}
		ev.locals[iterSlot], ev.locals[iter2Slot] = nil, nil
		if appends {
			if len(acc) == 0 {
				ev.locals[accuSlot] = emptyList
			} else {
				ev.locals[accuSlot] = acc
			}
		}
		return result(ev)
	}}
}

// emptyList is the empty list, boxed once: it has no storage, so it can be shared.
var emptyList any = []any{}

// planAppendStep plans `accu + [x]` and `cond ? accu + [x] : accu` (the steps of map and
// filter), where accu starts as [] and neither the loop condition nor x nor cond reads it, as
// the element to append and whether to. Nil for other steps.
func (p *planner) planAppendStep(c celast.ComprehensionExpr) func(*fastEval) (any, bool, bool) {
	init := c.AccuInit()
	if init.Kind() != celast.ListKind || len(init.AsList().Elements()) != 0 || len(init.AsList().OptionalIndices()) != 0 {
		return nil
	}
	accu := c.AccuVar()
	if refersTo(c.LoopCondition(), accu) {
		return nil
	}
	isAccu := func(e celast.Expr) bool { return e.Kind() == celast.IdentKind && e.AsIdent() == accu }
	isAppend := func(e celast.Expr) (celast.Expr, bool) {
		if e.Kind() != celast.CallKind {
			return nil, false
		}
		call := e.AsCall()
		if call.FunctionName() != "_+_" || len(call.Args()) != 2 || !isAccu(call.Args()[0]) {
			return nil, false
		}
		l := call.Args()[1]
		if l.Kind() != celast.ListKind || len(l.AsList().Elements()) != 1 || len(l.AsList().OptionalIndices()) > 0 {
			return nil, false
		}
		return l.AsList().Elements()[0], true
	}
	step := c.LoopStep()
	var condExpr, elemExpr celast.Expr
	if el, ok := isAppend(step); ok {
		elemExpr = el
	} else if step.Kind() == celast.CallKind && step.AsCall().FunctionName() == "_?_:_" && len(step.AsCall().Args()) == 3 {
		args := step.AsCall().Args()
		el, ok := isAppend(args[1])
		if !ok || !isAccu(args[2]) {
			return nil
		}
		condExpr, elemExpr = args[0], el
	} else {
		return nil
	}
	if refersTo(elemExpr, accu) || (condExpr != nil && refersTo(condExpr, accu)) {
		return nil
	}
	elem := p.plan(elemExpr, false).val
	appendElem := func(ev *fastEval) (any, bool, bool) {
		v, ok := elem(ev)
		if !ok || !storable(v) {
			return nil, false, false
		}
		// accu (1), the list literal (10), the concatenation (1).
		ev.cost += 12
		return v, true, true
	}
	if condExpr == nil {
		return appendElem
	}
	cond := p.plan(condExpr, false).bl
	return func(ev *fastEval) (any, bool, bool) {
		b, ok := cond(ev)
		if !ok {
			return nil, false, false
		}
		if b {
			return appendElem(ev)
		}
		// accu, a branch of a conditional: free (see planBranch).
		return nil, false, true
	}
}

// planBranch plans a branch of a conditional. cel-go plans a conditional as an attribute whose
// branches, when they are attributes themselves (identifiers, selections, indexes), are
// resolved without observing their root: the identifier (or the relative attribute's base) is
// not charged, only the qualifiers after it.
func (p *planner) planBranch(e celast.Expr, patchOK bool) *pnode {
	n := p.plan(e, patchOK)
	attr := false
	switch e.Kind() {
	case celast.IdentKind:
		attr = true
	case celast.SelectKind:
		attr = !e.AsSelect().IsTestOnly()
	case celast.CallKind:
		switch e.AsCall().FunctionName() {
		case "_[_]", "_?._", "_[?_]":
			attr = true
		}
	}
	if !attr {
		return n
	}
	out := &pnode{
		val: refunded(n.val), str: refunded(n.str), bl: refunded(n.bl), i64: refunded(n.i64),
		constant: n.constant, isConst: n.isConst,
	}
	if f := n.opt; f != nil {
		out.opt = func(ev *fastEval) (any, bool, bool) {
			v, has, ok := f(ev)
			refund(ev)
			return v, has, ok
		}
	}
	return out
}

// relativeCost is what cel-go charges, beyond its qualifiers, for a chain of selections and
// indexes whose operand is not an identifier or such a chain (a literal, a call's result): the
// operand becomes a relative attribute, which costs 1.
func relativeCost(operand celast.Expr) uint64 {
	switch operand.Kind() {
	case celast.IdentKind:
		return 0
	case celast.SelectKind:
		return 0
	case celast.CallKind:
		switch operand.AsCall().FunctionName() {
		case "_[_]", "_?._", "_[?_]":
			return 0
		}
	}
	return 1
}

// refersTo says whether e mentions the identifier name anywhere.
func refersTo(e celast.Expr, name string) bool {
	found := false
	visitor := celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() == celast.IdentKind && x.AsIdent() == name {
			found = true
		}
	})
	celast.PostOrderVisit(e, visitor)
	return found
}

func (p *planner) planCall(e celast.Expr, patchOK bool) *pnode {
	call := e.AsCall()
	fn := call.FunctionName()
	args := call.Args()
	if call.IsMemberFunction() {
		args = append([]celast.Expr{call.Target()}, args...)
	}
	if fn == "dyn" || fn == "string" {
		if v, ok := constantValue(e); ok {
			return constNodeOf(v)
		}
	}
	switch fn {
	case "_&&_", "_||_":
		if len(args) != 2 {
			no()
		}
		l, r := p.plan(args[0], false).bl, p.plan(args[1], false).bl
		short := fn == "_||_"
		return &pnode{bl: func(ev *fastEval) (bool, bool) {
			a, ok := l(ev)
			if !ok {
				return false, false
			}
			if a == short {
				return a, true
			}
			return r(ev)
		}}
	case "!_":
		x := p.plan(args[0], false).bl
		return &pnode{bl: func(ev *fastEval) (bool, bool) {
			b, ok := x(ev)
			ev.cost++
			return !b, ok
		}}
	case "@not_strictly_false":
		x := p.plan(args[0], false).bl
		return &pnode{bl: func(ev *fastEval) (bool, bool) {
			b, ok := x(ev)
			ev.cost++
			return b, ok
		}}
	case "_?_:_":
		cond := p.plan(args[0], false).bl
		t, f := p.planBranch(args[1], patchOK), p.planBranch(args[2], patchOK)
		if isOptionalType(p.typeOf(e)) {
			to, fo := t.opt, f.opt
			return &pnode{opt: func(ev *fastEval) (any, bool, bool) {
				b, ok := cond(ev)
				if !ok {
					return nil, false, false
				}
				if b {
					return to(ev)
				}
				return fo(ev)
			}}
		}
		n := &pnode{val: choose(cond, t.val, f.val)}
		if k := p.typeOf(e); k != nil && k.Kind() == celtypes.StringKind {
			n.str = choose(cond, t.str, f.str)
		}
		return n
	case "_==_", "_!=_":
		return p.planEquality(args, fn == "_!=_")
	case "_<_", "_<=_", "_>_", "_>=_":
		return p.planCompare(fn, args)
	case "_+_":
		return p.planAdd(e, args, patchOK)
	case "_-_", "_*_", "_/_", "_%_":
		return p.planArith(fn, args)
	case "-_":
		x := p.plan(args[0], false).i64
		if t := p.typeOf(args[0]); t == nil || t.Kind() != celtypes.IntKind {
			no()
		}
		return &pnode{i64: func(ev *fastEval) (int64, bool) {
			i, ok := x(ev)
			ev.cost++
			return -i, ok && i != math.MinInt64
		}}
	case "size":
		x := p.plan(args[0], false).val
		return &pnode{i64: func(ev *fastEval) (int64, bool) {
			v, ok := x(ev)
			if !ok {
				return 0, false
			}
			ev.cost++
			switch t := v.(type) {
			case string:
				return int64(utf8.RuneCountInString(t)), true
			case []any:
				return int64(len(t)), true
			case map[string]any:
				return int64(len(t)), true
			}
			return 0, false
		}}
	case "@in":
		return p.planIn(args)
	case "_[_]":
		return p.planIndex(args, false)
	case "_[?_]":
		return p.planIndex(args, true)
	case "_?._":
		return p.planOptSelect(args)
	case "orValue":
		if len(args) != 2 {
			no()
		}
		o, d := p.plan(args[0], false).opt, p.plan(args[1], false)
		dv := d.val
		n := &pnode{val: func(ev *fastEval) (any, bool) {
			v, has, ok := o(ev)
			if !ok {
				return nil, false
			}
			if has {
				return v, true
			}
			return dv(ev)
		}}
		if t := p.typeOf(e); t != nil && t.Kind() == celtypes.StringKind {
			ds := d.str
			n.str = func(ev *fastEval) (string, bool) {
				v, has, ok := o(ev)
				if !ok {
					return "", false
				}
				if has {
					s, isStr := v.(string)
					return s, isStr
				}
				return ds(ev)
			}
		}
		return n
	case "hasValue":
		o := p.plan(args[0], false).opt
		return &pnode{bl: func(ev *fastEval) (bool, bool) {
			_, has, ok := o(ev)
			ev.cost++
			return has, ok
		}}
	case "value":
		if len(args) != 1 || !isOptionalType(p.typeOf(args[0])) {
			no()
		}
		o := p.plan(args[0], false).opt
		return &pnode{val: func(ev *fastEval) (any, bool) {
			v, has, ok := o(ev)
			ev.cost++
			return v, ok && has
		}}
	case "optional.of":
		x := p.plan(args[0], false).val
		return &pnode{opt: func(ev *fastEval) (any, bool, bool) {
			v, ok := x(ev)
			ev.cost++
			return v, true, ok && storable(v)
		}}
	case "optional.none":
		return &pnode{opt: func(ev *fastEval) (any, bool, bool) {
			ev.cost++
			return nil, false, true
		}}
	case "dyn":
		x := p.plan(args[0], false)
		xv := x.val
		return &pnode{val: func(ev *fastEval) (any, bool) {
			v, ok := xv(ev)
			ev.cost++
			return v, ok && storable(v)
		}}
	case "string":
		t := p.typeOf(args[0])
		if t == nil {
			no()
		}
		switch t.Kind() {
		case celtypes.StringKind:
			x := p.plan(args[0], false).str
			return &pnode{str: func(ev *fastEval) (string, bool) {
				s, ok := x(ev)
				ev.cost++
				return s, ok
			}}
		case celtypes.IntKind:
			x := p.plan(args[0], false).i64
			return &pnode{str: func(ev *fastEval) (string, bool) {
				i, ok := x(ev)
				ev.cost++
				return strconv.FormatInt(i, 10), ok
			}}
		case celtypes.DynKind:
			x := p.plan(args[0], false).val
			return &pnode{str: func(ev *fastEval) (string, bool) {
				v, ok := x(ev)
				ev.cost++
				switch t := v.(type) {
				case string:
					return t, ok
				case int64:
					return strconv.FormatInt(t, 10), ok
				}
				return "", false
			}}
		}
		no()
	case "startsWith", "endsWith", "contains":
		want := map[string]string{"startsWith": "starts_with_string", "endsWith": "ends_with_string", "contains": "contains_string"}[fn]
		if !call.IsMemberFunction() || len(args) != 2 || !p.hasOverload(e, want) {
			no()
		}
		s, sub := p.plan(args[0], false).str, p.plan(args[1], false).str
		var f func(string, string) bool
		switch fn {
		case "startsWith":
			f = strings.HasPrefix
		case "endsWith":
			f = strings.HasSuffix
		default:
			f = strings.Contains
		}
		product := fn == "contains"
		return &pnode{bl: both(s, sub, func(ev *fastEval, a, b string) (bool, bool) {
			if product {
				ev.cost += traversalCost(len(a)) * traversalCost(len(b))
			} else {
				ev.cost += traversalCost(len(a))
			}
			return f(a, b), true
		})}
	case "split", "trim", "substring", "lowerAscii", "upperAscii", "replace", "join", "matches":
		return p.planStringFunction(e, fn, args)
	case NodePoolFunction:
		if len(args) != 1 || call.IsMemberFunction() {
			no()
		}
		x := p.plan(args[0], false).str
		lookup := p.lookup
		return &pnode{str: func(ev *fastEval) (string, bool) {
			name, ok := x(ev)
			if !ok {
				return "", false
			}
			ev.cost++
			return lookup.NodePool(name), true
		}}
	case ServiceFunction:
		if len(args) != 2 || call.IsMemberFunction() {
			no()
		}
		ns, name := p.plan(args[0], false).str, p.plan(args[1], false).str
		lookup := p.lookup
		return &pnode{opt: func(ev *fastEval) (any, bool, bool) {
			a, ok := ns(ev)
			if !ok {
				return nil, false, false
			}
			b, ok := name(ev)
			if !ok {
				return nil, false, false
			}
			ev.cost++
			svc, found := lookup.Service(a, b)
			if !found {
				return nil, false, true
			}
			if svc == nil {
				// cel-go makes a nil map a null value: not modelled.
				return nil, false, false
			}
			return svc, true, true
		}}
	}
	no()
	return nil
}

// hasOverload says whether the checker resolved the call e to the overload id.
func (p *planner) hasOverload(e celast.Expr, id string) bool {
	for _, o := range p.ast.GetOverloadIDs(e.ID()) {
		if o == id {
			return true
		}
	}
	return false
}

// planStringFunction plans the functions of cel-go's strings extension the built-in filters use,
// and matches, charged as Kubernetes' cost estimator (or cel-go's default) charges them.
func (p *planner) planStringFunction(e celast.Expr, fn string, args []celast.Expr) *pnode {
	strArg := func(i int) func(*fastEval) (string, bool) { return p.plan(args[i], false).str }
	intArg := func(i int) func(*fastEval) (int64, bool) { return p.plan(args[i], false).i64 }
	// traversal is ceil(len*factor*0.1), Kubernetes' cost of a function traversing its receiver.
	traversal := func(n int, factor float64) uint64 {
		return uint64(math.Ceil(float64(n) * factor * stringTraversalCostFactor))
	}
	str1 := func(f func(string) (string, bool)) *pnode {
		x := strArg(0)
		return &pnode{str: func(ev *fastEval) (string, bool) {
			a, ok := x(ev)
			if !ok {
				return "", false
			}
			ev.cost += traversal(len(a), 1)
			return f(a)
		}}
	}
	switch {
	case fn == "trim" && p.hasOverload(e, "string_trim"):
		return str1(func(a string) (string, bool) { return strings.TrimSpace(a), true })
	case fn == "lowerAscii" && p.hasOverload(e, "string_lower_ascii"):
		return str1(func(a string) (string, bool) { return mapASCII(a, unicode.ToLower) })
	case fn == "upperAscii" && p.hasOverload(e, "string_upper_ascii"):
		return str1(func(a string) (string, bool) { return mapASCII(a, unicode.ToUpper) })
	case fn == "substring" && p.hasOverload(e, "string_substring_int"):
		return &pnode{str: both(strArg(0), intArg(1), func(ev *fastEval, a string, i int64) (string, bool) {
			if !utf8.ValidString(a) {
				return "", false
			}
			ev.cost += traversal(len(a), 1)
			runes := []rune(a)
			if i < 0 || i > int64(len(runes)) {
				return "", false
			}
			return string(runes[i:]), true
		})}
	case fn == "substring" && p.hasOverload(e, "string_substring_int_int"):
		return &pnode{str: both(strArg(0), pairOf(intArg(1), intArg(2)), func(ev *fastEval, a string, ij pair[int64, int64]) (string, bool) {
			if !utf8.ValidString(a) {
				return "", false
			}
			ev.cost += traversal(len(a), 1)
			runes := []rune(a)
			i, j := ij.a, ij.b
			if i > j || i < 0 || i > int64(len(runes)) || j < 0 || j > int64(len(runes)) {
				return "", false
			}
			return string(runes[i:j]), true
		})}
	case fn == "split" && p.hasOverload(e, "string_split_string"):
		return &pnode{val: both(strArg(0), strArg(1), func(ev *fastEval, a, b string) (any, bool) {
			ev.cost += traversal(len(a), 2)
			parts := strings.Split(a, b)
			out := make([]any, len(parts))
			for i, s := range parts {
				out[i] = s
			}
			return out, true
		})}
	case fn == "replace" && p.hasOverload(e, "string_replace_string_string"):
		return &pnode{str: both(strArg(0), pairOf(strArg(1), strArg(2)), func(ev *fastEval, a string, oldNew pair[string, string]) (string, bool) {
			ev.cost += traversal(len(a), 2)
			return strings.ReplaceAll(a, oldNew.a, oldNew.b), true
		})}
	case fn == "replace" && p.hasOverload(e, "string_replace_string_string_int"):
		return &pnode{str: both(pairOf(strArg(0), strArg(1)), pairOf(strArg(2), intArg(3)), func(ev *fastEval, ao pair[string, string], rn pair[string, int64]) (string, bool) {
			if rn.b != int64(int(rn.b)) {
				return "", false
			}
			ev.cost += traversal(len(ao.a), 2)
			return strings.Replace(ao.a, ao.b, rn.a, int(rn.b)), true
		})}
	case fn == "join" && (p.hasOverload(e, "list_join") || p.hasOverload(e, "list_join_string")):
		x := p.plan(args[0], false).val
		var sep func(*fastEval) (string, bool)
		if len(args) == 2 {
			sep = strArg(1)
		} else {
			sep = func(*fastEval) (string, bool) { return "", true }
		}
		return &pnode{str: func(ev *fastEval) (string, bool) {
			v, ok := x(ev)
			l, isList := v.([]any)
			if !ok || !isList {
				return "", false
			}
			d, ok := sep(ev)
			if !ok {
				return "", false
			}
			var sb strings.Builder
			for i, el := range l {
				s, isStr := el.(string)
				if !isStr {
					return "", false
				}
				if i > 0 {
					sb.WriteString(d)
				}
				sb.WriteString(s)
			}
			out := sb.String()
			ev.cost += traversal(len(out), 2)
			return out, true
		}}
	case fn == "matches" && len(args) == 2 && (p.hasOverload(e, "matches_string") || p.hasOverload(e, "matches")):
		x := strArg(0)
		// cel-go's default cost: ceil((1+len(s))*0.1) * ceil(len(re)*0.25).
		cost := func(s, re string) uint64 {
			return uint64(math.Ceil((1.0+float64(len(s)))*stringTraversalCostFactor)) *
				uint64(math.Ceil(float64(len(re))*regexStringLengthCostFactor))
		}
		if c, ok := constantValue(args[1]); ok {
			pattern, isStr := c.(string)
			if !isStr {
				no()
			}
			re, err := regexp.Compile(pattern)
			if err != nil {
				no()
			}
			return &pnode{bl: func(ev *fastEval) (bool, bool) {
				a, ok := x(ev)
				if !ok {
					return false, false
				}
				ev.cost += cost(a, pattern)
				return re.MatchString(a), true
			}}
		}
		return &pnode{bl: both(x, strArg(1), func(ev *fastEval, a, pattern string) (bool, bool) {
			re, err := regexp.Compile(pattern)
			if err != nil {
				return false, false
			}
			ev.cost += cost(a, pattern)
			return re.MatchString(a), true
		})}
	}
	no()
	return nil
}

const regexStringLengthCostFactor = 0.25

// mapASCII is cel-go's lowerASCII/upperASCII: ASCII runes mapped, others kept; invalid UTF-8
// (which cel-go would replace) is not modelled.
func mapASCII(s string, f func(rune) rune) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	runes := []rune(s)
	for i, r := range runes {
		if r <= unicode.MaxASCII {
			runes[i] = f(r)
		}
	}
	return string(runes), true
}

// sizeOf is cel-go's actualSize, with strings measured in bytes (at least their rune count).
func sizeOf(v any) int {
	switch t := v.(type) {
	case string:
		return len(t)
	case []any:
		return len(t)
	case map[string]any:
		return len(t)
	}
	return 1
}

func (p *planner) planEquality(args []celast.Expr, negate bool) *pnode {
	lt, rt := p.typeOf(args[0]), p.typeOf(args[1])
	if lt != nil && rt != nil && (lt.Kind() == celtypes.StringKind || rt.Kind() == celtypes.StringKind) {
		// The commonest test in filters' loops (servicetopology's nodeName == node.name): one
		// closure, not both's, which would add a call per element.
		l, r := p.plan(args[0], false).str, p.plan(args[1], false).str
		return &pnode{bl: func(ev *fastEval) (bool, bool) {
			a, ok := l(ev)
			if !ok {
				return false, false
			}
			b, ok := r(ev)
			if !ok {
				return false, false
			}
			ev.cost += traversalCost(min(len(a), len(b)))
			return (a == b) != negate, true
		}}
	}
	l, r := p.plan(args[0], false).val, p.plan(args[1], false).val
	return &pnode{bl: both(l, r, func(ev *fastEval, a, b any) (bool, bool) {
		eq, ok := equal(a, b)
		if !ok {
			return false, false
		}
		ev.cost += traversalCost(min(sizeOf(a), sizeOf(b)))
		return eq != negate, true
	})}
}

// equal is CEL's equality of two values of the fast path; false ok when it is not modelled
// (numbers of different kinds, lists and maps, optionals, patches; and, conservatively, a
// string or bool against an int, though an int against a string or bool is modelled).
func equal(a, b any) (bool, bool) {
	ka, kb := scalarKind(a), scalarKind(b)
	switch {
	case ka == kindOther || kb == kindOther:
		return false, false
	case ka == kb:
		// Same dynamic type: interface equality is the values' equality (nil equals nil).
		return a == b, true
	case kb == kindInt && ka != kindNull:
		return false, false
	}
	return false, true
}

const (
	kindOther = iota
	kindNull
	kindString
	kindBool
	kindInt
)

// scalarKind is the kind of the scalars equal models.
func scalarKind(v any) int {
	switch v.(type) {
	case nil:
		return kindNull
	case string:
		return kindString
	case bool:
		return kindBool
	case int64:
		return kindInt
	}
	return kindOther
}

func (p *planner) planCompare(fn string, args []celast.Expr) *pnode {
	lt, rt := p.typeOf(args[0]), p.typeOf(args[1])
	if lt == nil || rt == nil {
		no()
	}
	// A dyn operand compared with an int or a string: the other's kind, bailing at run time
	// on another type (cel-go compares ints with doubles and uints).
	kind := lt.Kind()
	if kind == celtypes.DynKind {
		kind = rt.Kind()
	}
	if (lt.Kind() != kind && lt.Kind() != celtypes.DynKind) || (rt.Kind() != kind && rt.Kind() != celtypes.DynKind) {
		no()
	}
	var lessEq func(c int) bool
	switch fn {
	case "_<_":
		lessEq = func(c int) bool { return c < 0 }
	case "_<=_":
		lessEq = func(c int) bool { return c <= 0 }
	case "_>_":
		lessEq = func(c int) bool { return c > 0 }
	default:
		lessEq = func(c int) bool { return c >= 0 }
	}
	switch kind {
	case celtypes.IntKind:
		l, r := p.plan(args[0], false).i64, p.plan(args[1], false).i64
		return &pnode{bl: both(l, r, func(ev *fastEval, a, b int64) (bool, bool) {
			ev.cost++
			return lessEq(cmp.Compare(a, b)), true
		})}
	case celtypes.StringKind:
		l, r := p.plan(args[0], false).str, p.plan(args[1], false).str
		return &pnode{bl: both(l, r, func(ev *fastEval, a, b string) (bool, bool) {
			ev.cost += traversalCost(min(len(a), len(b)))
			return lessEq(strings.Compare(a, b)), true
		})}
	}
	no()
	return nil
}

func (p *planner) planAdd(e celast.Expr, args []celast.Expr, patchOK bool) *pnode {
	t := p.typeOf(e)
	if t == nil {
		no()
	}
	switch t.Kind() {
	case celtypes.IntKind:
		l, r := p.plan(args[0], false).i64, p.plan(args[1], false).i64
		return &pnode{i64: both(l, r, func(ev *fastEval, a, b int64) (int64, bool) {
			ev.cost++
			s := a + b
			// Overflow: cel-go's error.
			return s, !((a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0))
		})}
	case celtypes.StringKind:
		l, r := p.plan(args[0], false).str, p.plan(args[1], false).str
		return &pnode{str: both(l, r, func(ev *fastEval, a, b string) (string, bool) {
			ev.cost += traversalCost(len(a) + len(b))
			return a + b, true
		})}
	case celtypes.ListKind:
		l, r := p.plan(args[0], patchOK).val, p.plan(args[1], patchOK).val
		return &pnode{val: func(ev *fastEval) (any, bool) {
			a, ok := l(ev)
			la, isList := a.([]any)
			if !ok || !isList {
				return nil, false
			}
			b, ok := r(ev)
			lb, isList := b.([]any)
			if !ok || !isList {
				return nil, false
			}
			ev.cost++
			out := make([]any, 0, len(la)+len(lb))
			return append(append(out, la...), lb...), true
		}}
	}
	no()
	return nil
}

func (p *planner) planArith(fn string, args []celast.Expr) *pnode {
	lt, rt := p.typeOf(args[0]), p.typeOf(args[1])
	intOrDyn := func(t *celtypes.Type) bool {
		return t != nil && (t.Kind() == celtypes.IntKind || t.Kind() == celtypes.DynKind)
	}
	// Ints, or dyn with an int (bailing at run time on another type).
	if !intOrDyn(lt) || !intOrDyn(rt) || (lt.Kind() != celtypes.IntKind && rt.Kind() != celtypes.IntKind) {
		no()
	}
	l, r := p.plan(args[0], false).i64, p.plan(args[1], false).i64
	var op func(a, b int64) (int64, bool)
	switch fn {
	case "_-_":
		op = func(a, b int64) (int64, bool) {
			d := a - b
			return d, !((b > 0 && d > a) || (b < 0 && d < a))
		}
	case "_*_":
		op = func(a, b int64) (int64, bool) {
			if a == 0 || b == 0 {
				return 0, true
			}
			m := a * b
			if (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) || m/b != a {
				return 0, false
			}
			return m, true
		}
	case "_/_":
		op = func(a, b int64) (int64, bool) {
			if b == 0 || (a == math.MinInt64 && b == -1) {
				return 0, false
			}
			return a / b, true
		}
	default:
		op = func(a, b int64) (int64, bool) {
			if b == 0 || (a == math.MinInt64 && b == -1) {
				return 0, false
			}
			return a % b, true
		}
	}
	return &pnode{i64: both(l, r, func(ev *fastEval, a, b int64) (int64, bool) {
		ev.cost++
		return op(a, b)
	})}
}

func (p *planner) planIn(args []celast.Expr) *pnode {
	x, cn := p.plan(args[0], false).val, p.plan(args[1], false)
	c := cn.val
	// cel-go turns `x in [constants]` into a set lookup, which costs nothing beyond x, and
	// `x in []` into false, without evaluating x.
	setLookup := false
	if cn.isConst {
		v := cn.constant
		c = func(*fastEval) (any, bool) { return v, true }
		if l, isList := v.([]any); isList {
			if len(l) == 0 {
				return &pnode{bl: func(*fastEval) (bool, bool) { return false, true }}
			}
			setLookup = true
			for _, e := range l {
				switch e.(type) {
				case string, int64, bool, float64:
				default:
					setLookup = false
				}
			}
		}
	}
	return &pnode{bl: both(x, c, func(ev *fastEval, v, cv any) (bool, bool) {
		switch t := cv.(type) {
		case []any:
			if !setLookup {
				ev.cost += uint64(len(t))
			}
			for _, e := range t {
				if !checkNative(e) {
					return false, false
				}
				eq, ok := equal(v, e)
				if !ok {
					return false, false
				}
				if eq {
					return true, true
				}
			}
			return false, true
		case map[string]any:
			k, isStr := v.(string)
			if !isStr {
				return false, false
			}
			ev.cost++
			_, found := t[k]
			return found, true
		}
		return false, false
	})}
}

// planIndex plans x[k] and x[?k] on maps with string keys and lists with int indexes.
func (p *planner) planIndex(args []celast.Expr, optional bool) *pnode {
	xn := p.plan(args[0], false)
	k := p.plan(args[1], false).val
	x := xn.val
	extra := relativeCost(args[0])
	if xn.isConst {
		// Read the constant itself; an element that is a container is copied.
		c := xn.constant
		x = func(*fastEval) (any, bool) { return c, true }
	}
	operandOptional := isOptionalType(p.typeOf(args[0]))
	var xo func(*fastEval) (any, bool, bool)
	if operandOptional {
		xo = xn.opt
	}
	lookup := func(ev *fastEval, c any) (any, bool, bool) {
		kv, ok := k(ev)
		if !ok {
			return nil, false, false
		}
		// An optional qualifier that finds nothing costs nothing in cel-go (only the relative
		// attribute's base, if any).
		ev.cost += extra
		if !optional {
			ev.cost++
		}
		switch t := c.(type) {
		case map[string]any:
			ks, isStr := kv.(string)
			if !isStr {
				return nil, false, false
			}
			v, found := t[ks]
			if !found {
				return nil, false, optional
			}
			if optional {
				ev.cost++
			}
			if xn.isConst {
				v = deepCopy(v)
			}
			return v, true, checkNative(v)
		case []any:
			i, isInt := kv.(int64)
			if !isInt {
				return nil, false, false
			}
			if i < 0 || i >= int64(len(t)) {
				return nil, false, optional
			}
			if optional {
				ev.cost++
			}
			v := t[i]
			if xn.isConst {
				v = deepCopy(v)
			}
			return v, true, checkNative(v)
		}
		return nil, false, false
	}
	if !optional {
		if operandOptional {
			no()
		}
		return &pnode{val: func(ev *fastEval) (any, bool) {
			c, ok := x(ev)
			if !ok {
				return nil, false
			}
			v, found, ok := lookup(ev, c)
			return v, ok && found
		}}
	}
	if xo != nil {
		return &pnode{opt: onOptional(xo, extra, lookup)}
	}
	return &pnode{opt: onValue(x, lookup)}
}

// onOptional is f applied to the value of an optional operand xo, for x[?k] and x.?f chained
// on an optional: none stays none, charging the relative attribute's base (extra) if any.
func onOptional(xo func(*fastEval) (any, bool, bool), extra uint64, f func(*fastEval, any) (any, bool, bool)) func(*fastEval) (any, bool, bool) {
	return func(ev *fastEval) (any, bool, bool) {
		v, has, ok := xo(ev)
		if !ok {
			return nil, false, false
		}
		if !has {
			ev.cost += extra
			return nil, false, true
		}
		return f(ev, v)
	}
}

// onValue is f applied to the value of an operand x, for x[?k] and x.?f.
func onValue(x func(*fastEval) (any, bool), f func(*fastEval, any) (any, bool, bool)) func(*fastEval) (any, bool, bool) {
	return func(ev *fastEval) (any, bool, bool) {
		v, ok := x(ev)
		if !ok {
			return nil, false, false
		}
		return f(ev, v)
	}
}

// planOptSelect plans x.?f on maps, and on optional maps (chained).
func (p *planner) planOptSelect(args []celast.Expr) *pnode {
	if len(args) != 2 || args[1].Kind() != celast.LiteralKind {
		no()
	}
	f, isStr := args[1].AsLiteral().(celtypes.String)
	if !isStr {
		no()
	}
	field := string(f)
	xn := p.plan(args[0], false)
	extra := relativeCost(args[0])
	sel := func(ev *fastEval, c any) (any, bool, bool) {
		m, isMap := c.(map[string]any)
		if !isMap {
			return nil, false, false
		}
		ev.cost += extra
		v, found := m[field]
		if !found {
			return nil, false, true
		}
		ev.cost++
		return v, true, checkNative(v)
	}
	if isOptionalType(p.typeOf(args[0])) {
		return &pnode{opt: onOptional(xn.opt, extra, sel)}
	}
	return &pnode{opt: onValue(xn.val, sel)}
}
