package filter

import (
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/traits"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// CompilerOptions configure a Compiler. The zero value is valid: a compiler for stored
// filters whose nodePool and service functions find nothing.
type CompilerOptions struct {
	// Lookup backs nodePool and service; nil finds no pool and no service.
	Lookup Lookup
	// NewExpressions compiles with the environment for expressions being written (only the
	// libraries every supported Kubernetes version has, as yurt-apiserver must when it
	// validates a create or update); otherwise with the environment for stored expressions.
	NewExpressions bool
	// EstimatedMaxSize, EstimatedCostLimit and RuntimeCostBudget default to the Default*
	// constants.
	EstimatedMaxSize   uint64
	EstimatedCostLimit uint64
	RuntimeCostBudget  int64
	// TypeConverter types objects for ApplyConfiguration mutations; nil uses the schemas of
	// the Kubernetes and Yurt APIs, and a deduced schema for other kinds.
	TypeConverter managedfields.TypeConverter
}

// Compiler compiles ResponseFilters. It is safe for concurrent use.
type Compiler struct {
	base            *environment.EnvSet
	envType         environment.Type
	lookup          Lookup
	estimator       *library.CostEstimator
	costLimit       uint64
	estimatedMax    uint64
	budget          int64
	typeConverter   managedfields.TypeConverter
	returnTypeBool  []*cel.Type
	applyConfigType *cel.Type
	jsonPatchType   *cel.Type

	// noFastPlans turns the fast plans off (tests compare them with cel-go's programs).
	noFastPlans bool

	mu    sync.Mutex
	cache map[string]cacheEntry
}

// callLimit is the cost limit of one expression's program (see compileAST).
func (c *Compiler) callLimit() int64 {
	if c.budget > 0 && uint64(c.budget) < celconfig.PerCallLimit {
		return c.budget
	}
	return int64(celconfig.PerCallLimit)
}

type cacheEntry struct {
	uid        types.UID
	generation int64
	filter     *Filter
	errs       field.ErrorList
}

// NewCompiler builds a compiler.
func NewCompiler(opts CompilerOptions) (*Compiler, error) {
	if opts.Lookup == nil {
		opts.Lookup = noLookup{}
	}
	if opts.EstimatedMaxSize == 0 {
		opts.EstimatedMaxSize = DefaultEstimatedMaxSize
	}
	if opts.EstimatedCostLimit == 0 {
		opts.EstimatedCostLimit = DefaultEstimatedCostLimit
	}
	if opts.RuntimeCostBudget == 0 {
		opts.RuntimeCostBudget = DefaultRuntimeCostBudget
	}
	if opts.TypeConverter == nil {
		tc, err := newTypeConverter()
		if err != nil {
			return nil, err
		}
		opts.TypeConverter = tc
	}
	envType := environment.StoredExpressions
	if opts.NewExpressions {
		envType = environment.NewExpressions
	}
	c := &Compiler{
		// The default compatibility version is well formed, so this does not panic.
		base:            environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()),
		envType:         envType,
		lookup:          opts.Lookup,
		estimator:       &library.CostEstimator{SizeEstimator: sizeEstimator{max: opts.EstimatedMaxSize}},
		costLimit:       opts.EstimatedCostLimit,
		estimatedMax:    opts.EstimatedMaxSize,
		budget:          opts.RuntimeCostBudget,
		typeConverter:   opts.TypeConverter,
		returnTypeBool:  []*cel.Type{cel.BoolType},
		applyConfigType: celtypes.NewObjectType("Object"),
		jsonPatchType:   cel.ListType(celtypes.NewObjectType("JSONPatch")),
		cache:           map[string]cacheEntry{},
	}
	// Fail now, not on the first filter, if the environment cannot be built.
	if _, _, err := newFilterEnvSet(c.base, c.lookup); err != nil {
		return nil, err
	}
	return c, nil
}

// Compile compiles a filter, or returns the compiled filter cached for the same name, UID
// and generation. The errors name the fields of the filter (spec.keep,
// spec.mutations[0].jsonPatch.expression, ...); a filter with errors is nil. Objects without a
// UID or generation (e.g. read from a file) are not cached.
func (c *Compiler) Compile(rf *appsv1alpha1.ResponseFilter) (*Filter, field.ErrorList) {
	cacheable := rf.UID != "" && rf.Generation != 0
	if cacheable {
		c.mu.Lock()
		e, ok := c.cache[rf.Name]
		c.mu.Unlock()
		if ok && e.uid == rf.UID && e.generation == rf.Generation {
			return e.filter, e.errs
		}
	}
	f, errs := c.compile(rf)
	if cacheable {
		c.mu.Lock()
		c.cache[rf.Name] = cacheEntry{uid: rf.UID, generation: rf.Generation, filter: f, errs: errs}
		c.mu.Unlock()
	}
	return f, errs
}

// Forget drops the cached filter of a name, e.g. when the ResponseFilter is deleted.
func (c *Compiler) Forget(name string) {
	c.mu.Lock()
	delete(c.cache, name)
	c.mu.Unlock()
}

// CompileSpec checks a filter spec and returns its errors, for validation.
func (c *Compiler) CompileSpec(spec *appsv1alpha1.ResponseFilterSpec, fldPath *field.Path) field.ErrorList {
	_, errs := c.compileSpec(&appsv1alpha1.ResponseFilter{Spec: *spec}, fldPath)
	return errs
}

func (c *Compiler) compile(rf *appsv1alpha1.ResponseFilter) (*Filter, field.ErrorList) {
	return c.compileSpec(rf, field.NewPath("spec"))
}

func (c *Compiler) compileSpec(rf *appsv1alpha1.ResponseFilter, specPath *field.Path) (*Filter, field.ErrorList) {
	spec := &rf.Spec
	envSet, variablesType, err := newFilterEnvSet(c.base, c.lookup)
	if err != nil {
		return nil, field.ErrorList{field.InternalError(specPath, err)}
	}
	env, err := envSet.Env(c.envType)
	if err != nil {
		return nil, field.ErrorList{field.InternalError(specPath, err)}
	}

	policy := appsv1alpha1.Fail
	if spec.FailurePolicy != nil {
		policy = *spec.FailurePolicy
	}
	f := &Filter{
		Name:          rf.Name,
		UID:           rf.UID,
		Generation:    rf.Generation,
		Priority:      spec.Priority,
		FailurePolicy: policy,
		match:         *spec.Match.DeepCopy(),
		variablesType: variablesType,
		variableSet:   newVariableSet(variablesType.TypeName()),
		budget:        c.budget,
		callLimit:     c.callLimit(),
		typeConverter: c.typeConverter,
	}
	uses := map[string]bool{}
	// compile also plans the expression for the fast path (plan.go), with the variables
	// compiled so far.
	compile := func(expr string, path *field.Path, want []*cel.Type) (cel.Program, *cel.Type, *fastProgram, field.ErrorList) {
		p, out, ast, u, errs := c.compileExpressionUses(env, expr, path, want)
		for id := range u {
			uses[id] = true
		}
		var fast *fastProgram
		if len(errs) == 0 && !c.noFastPlans {
			fast = planExpression(ast, f.variableSet, c.lookup)
			if fast != nil {
				f.hasFast = true
			}
		}
		return p, out, fast, errs
	}
	var errs field.ErrorList
	switch policy {
	case appsv1alpha1.Ignore, appsv1alpha1.Fail:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("failurePolicy"), policy, []appsv1alpha1.FailurePolicyType{appsv1alpha1.Ignore, appsv1alpha1.Fail}))
	}

	// Variables first: each one's type is known to the expressions after it.
	varsPath := specPath.Child("variables")
	for i, v := range spec.Variables {
		p, outType, fast, verrs := compile(v.Expression, varsPath.Index(i).Child("expression"), nil)
		errs = append(errs, verrs...)
		variablesType.Fields[v.Name] = apiservercel.NewDeclField(v.Name, declTypeOf(outType), true, nil, nil)
		f.variableSet.add(v.Name, p)
		f.variableSet.fast[len(f.variableSet.fast)-1] = fast
	}

	condPath := specPath.Child("matchConditions")
	for i, mc := range spec.MatchConditions {
		path := condPath.Index(i).Child("expression")
		p, _, fast, cerrs := compile(mc.Expression, path, c.returnTypeBool)
		errs = append(errs, cerrs...)
		f.conditions = append(f.conditions, compiledExpression{name: mc.Name, path: path.String(), program: p, fast: fast})
	}

	if spec.Keep != "" {
		path := specPath.Child("keep")
		p, _, fast, kerrs := compile(spec.Keep, path, c.returnTypeBool)
		errs = append(errs, kerrs...)
		f.keep = &compiledExpression{name: "keep", path: path.String(), program: p, fast: fast}
	}

	mutPath := specPath.Child("mutations")
	for i, m := range spec.Mutations {
		idx := mutPath.Index(i)
		var expr string
		var path *field.Path
		var want []*cel.Type
		switch m.PatchType {
		case appsv1alpha1.PatchTypeApplyConfiguration:
			path = idx.Child("applyConfiguration", "expression")
			if m.ApplyConfiguration == nil {
				errs = append(errs, field.Required(idx.Child("applyConfiguration"), "must be set when patchType is ApplyConfiguration"))
				continue
			}
			expr, want = m.ApplyConfiguration.Expression, []*cel.Type{c.applyConfigType}
		case appsv1alpha1.PatchTypeJSONPatch:
			path = idx.Child("jsonPatch", "expression")
			if m.JSONPatch == nil {
				errs = append(errs, field.Required(idx.Child("jsonPatch"), "must be set when patchType is JSONPatch"))
				continue
			}
			expr, want = m.JSONPatch.Expression, []*cel.Type{c.jsonPatchType}
		default:
			errs = append(errs, field.NotSupported(idx.Child("patchType"), m.PatchType,
				[]appsv1alpha1.PatchType{appsv1alpha1.PatchTypeApplyConfiguration, appsv1alpha1.PatchTypeJSONPatch}))
			continue
		}
		p, _, fast, merrs := compile(expr, path, want)
		errs = append(errs, merrs...)
		if m.PatchType != appsv1alpha1.PatchTypeJSONPatch {
			fast = nil
		}
		f.mutations = append(f.mutations, compiledMutation{
			compiledExpression: compiledExpression{name: fmt.Sprintf("mutations[%d]", i), path: path.String(), program: p, fast: fast},
			patchType:          m.PatchType,
		})
	}
	if spec.Keep == "" && len(spec.Mutations) == 0 {
		errs = append(errs, field.Required(specPath.Child("keep"), "at least one of keep or mutations must be set"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	f.usesService, f.usesNodePool = uses[serviceOverload], uses[nodePoolOverload]
	return f, nil
}

// compileExpression parses, type checks, estimates the cost of and plans one expression.
// want lists the accepted result types; nil accepts any.
func (c *Compiler) compileExpression(env *cel.Env, expr string, path *field.Path, want []*cel.Type) (cel.Program, *cel.Type, field.ErrorList) {
	p, out, _, _, errs := c.compileExpressionUses(env, expr, path, want)
	return p, out, errs
}

// compileExpressionUses also returns the overloads the expression calls.
func (c *Compiler) compileExpressionUses(env *cel.Env, expr string, path *field.Path, want []*cel.Type) (cel.Program, *cel.Type, *cel.Ast, map[string]bool, field.ErrorList) {
	prog, out, ast, errs := c.compileAST(env, expr, path, want)
	if ast == nil {
		return prog, out, nil, nil, errs
	}
	uses := map[string]bool{}
	for _, ref := range ast.NativeRep().ReferenceMap() {
		for _, id := range ref.OverloadIDs {
			uses[id] = true
		}
	}
	return prog, out, ast, uses, errs
}

func (c *Compiler) compileAST(env *cel.Env, expr string, path *field.Path, want []*cel.Type) (cel.Program, *cel.Type, *cel.Ast, field.ErrorList) {
	if expr == "" {
		return nil, nil, nil, field.ErrorList{field.Required(path, "must be a CEL expression")}
	}
	ast, issues := env.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return nil, nil, nil, field.ErrorList{field.Invalid(path, expr, "compilation failed: "+issues.String())}
	}
	out := ast.OutputType()
	if want != nil {
		ok := false
		for _, t := range want {
			if out.IsExactType(t) {
				ok = true
				break
			}
		}
		if !ok {
			return nil, out, nil, field.ErrorList{field.Invalid(path, expr, fmt.Sprintf("must evaluate to %v but evaluates to %v", want[0], out))}
		}
	}
	est, err := env.EstimateCost(ast, c.estimator)
	if err != nil {
		return nil, out, nil, field.ErrorList{field.Invalid(path, expr, "estimating the cost failed: "+err.Error())}
	}
	if est.Max > c.costLimit {
		return nil, out, nil, field.ErrorList{field.Invalid(path, expr, fmt.Sprintf(
			"estimated cost %d exceeds the limit of %d (lists, maps and strings of unknown size are assumed to hold up to %d elements); avoid nested loops over the object",
			est.Max, c.costLimit, c.estimatedMax))}
	}
	// The base environment interrupts an expression at Kubernetes' per-call limit; a filter
	// budget below that interrupts it at the budget instead, since no single expression may
	// spend more than the filter's whole per-object budget anyway.
	opts := []cel.ProgramOption{cel.InterruptCheckFrequency(celconfig.CheckFrequency)}
	if c.budget > 0 && uint64(c.budget) < celconfig.PerCallLimit {
		opts = append(opts, cel.CostLimit(uint64(c.budget)))
	}
	prog, err := env.Program(ast, opts...)
	if err != nil {
		return nil, out, nil, field.ErrorList{field.Invalid(path, expr, "program instantiation failed: "+err.Error())}
	}
	return prog, out, ast, nil
}

// declTypeOf converts a checked CEL type to the declared type of a variables field, as
// k8s.io/apiserver's composited compiler does.
func declTypeOf(t *cel.Type) *apiservercel.DeclType {
	if t == nil {
		return apiservercel.DynType
	}
	switch t {
	case cel.AnyType:
		return apiservercel.AnyType
	case cel.BoolType:
		return apiservercel.BoolType
	case cel.BytesType:
		return apiservercel.BytesType
	case cel.DoubleType:
		return apiservercel.DoubleType
	case cel.DurationType:
		return apiservercel.DurationType
	case cel.IntType:
		return apiservercel.IntType
	case cel.NullType:
		return apiservercel.NullType
	case cel.StringType:
		return apiservercel.StringType
	case cel.TimestampType:
		return apiservercel.TimestampType
	case cel.UintType:
		return apiservercel.UintType
	}
	if t.HasTrait(traits.ContainerType) && t.HasTrait(traits.IndexerType) {
		params := t.Parameters()
		switch len(params) {
		case 1:
			return apiservercel.NewListType(declTypeOf(params[0]), -1)
		case 2:
			return apiservercel.NewMapType(declTypeOf(params[0]), declTypeOf(params[1]), -1)
		}
	}
	return apiservercel.DynType
}
