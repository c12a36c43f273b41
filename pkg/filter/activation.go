package filter

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"

	apiservercel "k8s.io/apiserver/pkg/cel"
)

// inputs are a request and a node, and their CEL values. They are the same for every object of
// a response, so a list is filtered with one inputs value. The CEL values are made once, when a
// cel-go program first needs them (fast plans read req and nd directly): a filter reads
// node.pool or node.name once per endpoint, and reading a field of a map wrapped by the default
// type adapter converts (and allocates) on every read.
type inputs struct {
	req Request
	nd  Node
	// cel is shared by the copies of one inputs value.
	cel *celInputs
}

type celInputs struct {
	once          sync.Once
	request, node ref.Val
}

func newInputs(req Request, node Node) inputs {
	return inputs{req: req, nd: node, cel: &celInputs{}}
}

// celValues returns the CEL values of the request and the node.
func (in inputs) celValues() (request, node ref.Val) {
	c := in.cel
	c.once.Do(func() {
		req, node := in.req, in.nd
		labels := make(map[ref.Val]ref.Val, len(node.Labels))
		for k, v := range node.Labels {
			labels[celtypes.String(k)] = celtypes.String(v)
		}
		adapter := celtypes.DefaultTypeAdapter
		c.request = celtypes.NewRefValMap(adapter, map[ref.Val]ref.Val{
			celtypes.String("userAgent"): celtypes.String(req.UserAgent),
			celtypes.String("verb"):      celtypes.String(req.Verb),
			celtypes.String("group"):     celtypes.String(req.Group),
			celtypes.String("version"):   celtypes.String(req.Version),
			celtypes.String("resource"):  celtypes.String(req.Resource),
			celtypes.String("namespace"): celtypes.String(req.Namespace),
			celtypes.String("name"):      celtypes.String(req.Name),
		})
		c.node = celtypes.NewRefValMap(adapter, map[ref.Val]ref.Val{
			celtypes.String("name"):   celtypes.String(node.Name),
			celtypes.String("labels"): celtypes.NewRefValMap(adapter, labels),
			celtypes.String("pool"):   celtypes.String(node.Pool),
		})
	})
	return c.request, c.node
}

// activation resolves the inputs of one evaluation of a filter on one object.
type activation struct {
	// object wraps the unstructured content so that each part read is converted once per
	// evaluation, however many expressions and loop iterations read it (see unstructuredMap).
	object    ref.Val
	request   ref.Val
	node      ref.Val
	variables *lazyVariables
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case ObjectVarName:
		return a.object, true
	case RequestVarName:
		return a.request, true
	case NodeVarName:
		return a.node, true
	case VariablesVarName:
		return a.variables, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// newActivation binds an object and the inputs; the filter's variables are evaluated when an
// expression first reads them, at most once.
func (ev *evaluation) newActivation(ctx context.Context, object map[string]any, in inputs) *activation {
	request, node := in.celValues()
	act := &activation{object: &unstructuredMap{m: object}, request: request, node: node}
	vars := ev.filter.variableSet
	act.variables = &lazyVariables{set: vars, ev: ev, ctx: ctx, act: act}
	if n := len(vars.names); n > 0 {
		act.variables.values = make([]ref.Val, n)
	}
	return act
}

// variableSet is what a compiled filter knows of its variables: their names, positions and
// programs, and the CEL type of the variables object.
type variableSet struct {
	typ      *celtypes.Type
	names    []string
	index    map[string]int
	programs []cel.Program
	// fast holds the variables' fast plans (nil for a variable outside the planned subset).
	fast []*fastProgram
}

func newVariableSet(typeName string) *variableSet {
	return &variableSet{
		// As k8s.io/apiserver/pkg/cel/lazy.MapValue types it.
		typ:   celtypes.NewTypeValue(typeName, traits.IndexerType|traits.FieldTesterType|traits.IterableType),
		index: map[string]int{},
	}
}

func (s *variableSet) add(name string, p cel.Program) {
	s.index[name] = len(s.names)
	s.names = append(s.names, name)
	s.programs = append(s.programs, p)
	s.fast = append(s.fast, nil)
}

// lazyVariables is the `variables` object of one evaluation: a variable is evaluated the first
// time an expression reads it and its cost is charged to that expression. It behaves as
// k8s.io/apiserver/pkg/cel/lazy.MapValue, with its state in slices instead of per-object maps
// and closures.
type lazyVariables struct {
	set    *variableSet
	ev     *evaluation
	ctx    context.Context
	act    *activation
	values []ref.Val
}

func (m *lazyVariables) resolve(i int) ref.Val {
	if v := m.values[i]; v != nil {
		return v
	}
	val, details, err := m.set.programs[i].ContextEval(m.ctx, m.act)
	m.ev.varCost += actualCost(details)
	if err != nil {
		val = celtypes.NewErr("variable %q: %v", m.set.names[i], err)
	}
	m.values[i] = val
	return val
}

func (m *lazyVariables) Find(key ref.Val) (ref.Val, bool) {
	n, ok := key.(celtypes.String)
	if !ok {
		return celtypes.MaybeNoSuchOverloadErr(key), true
	}
	name := string(n)
	if strings.Contains(name, "__") {
		// Escaped field names, as lazy.MapValue reads them.
		if name, ok = apiservercel.Unescape(name); !ok {
			return nil, false
		}
	}
	i, ok := m.set.index[name]
	if !ok {
		return nil, false
	}
	return m.resolve(i), true
}

func (m *lazyVariables) Get(key ref.Val) ref.Val {
	if v, found := m.Find(key); found {
		return v
	}
	return celtypes.ValOrErr(key, "no such key: %v", key)
}

func (m *lazyVariables) Contains(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if v != nil && celtypes.IsUnknownOrError(v) {
		return v
	}
	return celtypes.Bool(found)
}

func (m *lazyVariables) IsSet(field ref.Val) ref.Val { return m.Contains(field) }

func (m *lazyVariables) Size() ref.Val { return celtypes.Int(len(m.set.index)) }

func (m *lazyVariables) Iterator() traits.Iterator { return &variablesIterator{parent: m} }

func (m *lazyVariables) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, fmt.Errorf("disallowed conversion from %q to %q", m.set.typ.TypeName(), typeDesc.Name())
}

func (m *lazyVariables) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case m.set.typ:
		return m
	case celtypes.TypeType:
		return m.set.typ
	}
	return celtypes.NewErr("disallowed conversion from %q to %q", m.set.typ.TypeName(), typeVal.TypeName())
}

func (m *lazyVariables) Equal(other ref.Val) ref.Val {
	o, ok := other.(*lazyVariables)
	if !ok {
		return celtypes.MaybeNoSuchOverloadErr(other)
	}
	return celtypes.Bool(m == o)
}

func (m *lazyVariables) Type() ref.Type { return m.set.typ }

func (m *lazyVariables) Value() any { return celtypes.NoSuchOverloadErr() }

type variablesIterator struct {
	parent *lazyVariables
	index  int
}

func (i *variablesIterator) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, fmt.Errorf("disallowed conversion to %q", typeDesc.Name())
}

func (i *variablesIterator) ConvertToType(typeValue ref.Type) ref.Val {
	return celtypes.NewErr("disallowed conversion to %q", typeValue.TypeName())
}

func (i *variablesIterator) Equal(other ref.Val) ref.Val {
	o, ok := other.(*variablesIterator)
	if !ok {
		return celtypes.MaybeNoSuchOverloadErr(other)
	}
	return celtypes.Bool(o == i)
}

func (i *variablesIterator) Type() ref.Type { return celtypes.IteratorType }

func (i *variablesIterator) Value() any { return nil }

func (i *variablesIterator) HasNext() ref.Val {
	return celtypes.Bool(i.index < len(i.parent.set.names))
}

func (i *variablesIterator) Next() ref.Val {
	if i.index >= len(i.parent.set.names) {
		return celtypes.NewErr("no more elements")
	}
	// Values, not names, as lazy.MapValue's iterator returns.
	ret := i.parent.Get(celtypes.String(i.parent.set.names[i.index]))
	i.index++
	return ret
}
