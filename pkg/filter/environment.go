package filter

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"k8s.io/apimachinery/pkg/util/version"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/apiserver/pkg/cel/mutation"
)

// Names of the CEL variables and functions a filter sees.
const (
	ObjectVarName    = "object"
	RequestVarName   = "request"
	NodeVarName      = "node"
	VariablesVarName = "variables"

	NodePoolFunction = "nodePool"
	ServiceFunction  = "service"

	nodePoolOverload = "node_pool_string"
	serviceOverload  = "service_string_string"
)

// Lookup backs the functions nodePool and service. The hub implements it with its informers
// (which survive offline restarts through its cache); yurtctl preview with flags and files.
// Implementations must be safe for concurrent use and must not block on the network.
type Lookup interface {
	// NodePool returns the pool of a node, or "" if the node is in no pool or unknown.
	NodePool(nodeName string) string
	// Service returns a Service as unstructured content (as from JSON), or false if it is not
	// known.
	Service(namespace, name string) (map[string]any, bool)
}

// noLookup is the Lookup of a compiler that only checks expressions (yurt-apiserver).
type noLookup struct{}

func (noLookup) NodePool(string) string                        { return "" }
func (noLookup) Service(string, string) (map[string]any, bool) { return nil, false }

func requestDeclType() *apiservercel.DeclType {
	return apiservercel.NewObjectType("yurt.Request", declFields(
		apiservercel.NewDeclField("userAgent", apiservercel.StringType, true, nil, nil),
		apiservercel.NewDeclField("verb", apiservercel.StringType, true, nil, nil),
		apiservercel.NewDeclField("group", apiservercel.StringType, true, nil, nil),
		apiservercel.NewDeclField("version", apiservercel.StringType, true, nil, nil),
		apiservercel.NewDeclField("resource", apiservercel.StringType, true, nil, nil),
		apiservercel.NewDeclField("namespace", apiservercel.StringType, true, nil, nil),
		apiservercel.NewDeclField("name", apiservercel.StringType, true, nil, nil),
	))
}

func nodeDeclType() *apiservercel.DeclType {
	return apiservercel.NewObjectType("yurt.Node", declFields(
		apiservercel.NewDeclField("name", apiservercel.StringType, true, nil, nil),
		apiservercel.NewDeclField("labels", apiservercel.NewMapType(apiservercel.StringType, apiservercel.StringType, -1), true, nil, nil),
		apiservercel.NewDeclField("pool", apiservercel.StringType, true, nil, nil),
	))
}

func declFields(fields ...*apiservercel.DeclField) map[string]*apiservercel.DeclField {
	out := make(map[string]*apiservercel.DeclField, len(fields))
	for _, f := range fields {
		out[f.Name] = f
	}
	return out
}

// newFilterEnvSet builds the environment of one filter: the base environment, a variables
// type whose fields are added as the filter's variables compile (so later expressions are
// type checked against them), the filter's inputs and functions, and the mutation types.
// The order of the extensions follows k8s.io/apiserver's composited admission compiler.
func newFilterEnvSet(base *environment.EnvSet, lookup Lookup) (*environment.EnvSet, *apiservercel.DeclType, error) {
	variablesType := apiservercel.NewObjectType("yurt.Variables", map[string]*apiservercel.DeclField{})
	requestType, nodeType := requestDeclType(), nodeDeclType()
	v1 := version.MajorMinor(1, 0)
	env, err := base.Extend(
		environment.VersionedOptions{
			IntroducedVersion: v1,
			EnvOptions:        []cel.EnvOption{cel.Variable(VariablesVarName, variablesType.CelType())},
			DeclTypes:         []*apiservercel.DeclType{variablesType},
		},
		environment.VersionedOptions{
			IntroducedVersion: v1,
			EnvOptions: []cel.EnvOption{
				cel.Variable(ObjectVarName, cel.DynType),
				cel.Variable(RequestVarName, requestType.CelType()),
				cel.Variable(NodeVarName, nodeType.CelType()),
				lookupFunctions(lookup),
			},
			DeclTypes: []*apiservercel.DeclType{requestType, nodeType},
		},
	)
	if err != nil {
		return nil, nil, fmt.Errorf("extending the CEL environment with the filter inputs: %w", err)
	}
	env, err = env.Extend(environment.VersionedOptions{
		IntroducedVersion: v1,
		EnvOptions: []cel.EnvOption{
			// Object{...} and JSONPatch{...}, as in MutatingAdmissionPolicy.
			common.ResolverEnvOption(&mutation.DynamicTypeResolver{}),
			environment.UnversionedLib(library.JSONPatch),
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("extending the CEL environment with the mutation types: %w", err)
	}
	return env, variablesType, nil
}

// lookupFunctions declares nodePool and service, bound to the lookup.
func lookupFunctions(lookup Lookup) cel.EnvOption {
	return cel.Lib(&lookupLib{lookup: lookup, pools: &poolNames{}})
}

type lookupLib struct {
	lookup Lookup
	pools  *poolNames
}

// poolNames interns the CEL values of pool names: servicetopology calls nodePool once per
// endpoint, and a cluster has few pools, so the values are made once instead of on every call.
// The set is replaced, not changed, when a name is added, so reads take no lock; it stops
// growing at maxPoolNames (names beyond are converted on each call).
type poolNames struct {
	names atomic.Pointer[map[string]ref.Val]
	mu    sync.Mutex
	// max is the most names kept; 0 is maxPoolNames.
	max int
}

const maxPoolNames = 4096

func (p *poolNames) value(name string) ref.Val {
	if m := p.names.Load(); m != nil {
		if v, ok := (*m)[name]; ok {
			return v
		}
	}
	v := types.String(name)
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.names.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	limit := p.max
	if limit == 0 {
		limit = maxPoolNames
	}
	if n >= limit {
		return v
	}
	next := make(map[string]ref.Val, n+1)
	if old != nil {
		for k, val := range *old {
			next[k] = val
		}
	}
	next[name] = v
	p.names.Store(&next)
	return v
}

func (l *lookupLib) LibraryName() string { return "yurt.lookup" }

func (l *lookupLib) CompileOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function(NodePoolFunction,
			cel.Overload(nodePoolOverload, []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(name ref.Val) ref.Val {
					s, ok := name.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(name)
					}
					return l.pools.value(l.lookup.NodePool(string(s)))
				}))),
		cel.Function(ServiceFunction,
			cel.Overload(serviceOverload, []*cel.Type{cel.StringType, cel.StringType}, cel.OptionalType(cel.DynType),
				cel.BinaryBinding(func(namespace, name ref.Val) ref.Val {
					ns, ok1 := namespace.(types.String)
					n, ok2 := name.(types.String)
					if !ok1 || !ok2 {
						return types.MaybeNoSuchOverloadErr(namespace)
					}
					svc, found := l.lookup.Service(string(ns), string(n))
					if !found {
						return types.OptionalNone
					}
					return types.OptionalOf(types.DefaultTypeAdapter.NativeToValue(svc))
				}))),
	}
}

func (l *lookupLib) ProgramOptions() []cel.ProgramOption { return nil }
