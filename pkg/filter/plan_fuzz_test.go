package filter

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
)

// exprGen generates CEL expressions and objects from fuzz input: many do not compile, and those
// that do exercise the fast plans' subset and its edges (missing keys, type mismatches,
// overflow, optionals, loops).
type exprGen struct {
	data []byte
	vars []string
}

func (g *exprGen) next(n int) int {
	if len(g.data) == 0 {
		return 0
	}
	b := int(g.data[0])
	g.data = g.data[1:]
	return b % n
}

var genFields = []string{"name", "namespace", "metadata", "spec", "ports", "port", "labels", "a", "missing", "nodeName", "type"}

func (g *exprGen) field() string { return genFields[g.next(len(genFields))] }

func (g *exprGen) atom() string {
	atoms := []string{"object", "object.metadata", "object.metadata.name", "object.spec.ports", "'web'", "''", "1", "0", "-1",
		"9223372036854775807", "true", "false", "null", "2.5", "[]", "{}", "node.name", "node.pool", "request.resource",
		"variables.v", "node.labels", "'a'", "object.metadata.labels", "80"}
	if len(g.vars) > 0 && g.next(2) == 0 {
		return g.vars[g.next(len(g.vars))]
	}
	return atoms[g.next(len(atoms))]
}

// expr is a generated expression, often wrapped in dyn() so that the checker accepts it and
// its type is found at run time.
func (g *exprGen) expr(depth int) string {
	e := g.rawExpr(depth)
	if g.next(4) != 0 {
		return "dyn(" + e + ")"
	}
	return e
}

func (g *exprGen) rawExpr(depth int) string {
	if depth <= 0 || len(g.data) == 0 {
		return g.atom()
	}
	d := depth - 1
	switch g.next(41) {
	case 34:
		return g.expr(d) + ".split(" + g.expr(d) + ")"
	case 35:
		return g.expr(d) + ".trim()"
	case 36:
		return g.expr(d) + ".substring(" + g.expr(d) + ")"
	case 37:
		return g.expr(d) + ".join(" + g.expr(d) + ")"
	case 38:
		return g.expr(d) + ".matches(" + []string{"'^w'", "'['", "'e.*'", g.expr(d)}[g.next(4)] + ")"
	case 39:
		return g.expr(d) + ".lowerAscii().replace(" + g.expr(d) + ", " + g.expr(d) + ")"
	case 40:
		v, w := fmt.Sprintf("x%d", len(g.vars)), fmt.Sprintf("x%d", len(g.vars)+1)
		r := g.expr(d)
		g.vars = append(g.vars, v, w)
		cond, body := g.expr(d), g.expr(d)
		g.vars = g.vars[:len(g.vars)-2]
		return r + ".transformList(" + v + ", " + w + ", " + cond + ", " + body + ")"
	case 0:
		return "!" + g.expr(d)
	case 1:
		return "-" + g.expr(d)
	case 2:
		return "size(" + g.expr(d) + ")"
	case 3:
		return "dyn(" + g.expr(d) + ")"
	case 4:
		return "has(" + g.expr(d) + "." + g.field() + ")"
	case 5:
		return "string(" + g.expr(d) + ")"
	case 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16:
		ops := []string{"==", "!=", "<", ">=", "+", "-", "*", "/", "%", "&&", "||", "in"}
		return "(" + g.expr(d) + " " + ops[g.next(len(ops))] + " " + g.expr(d) + ")"
	case 17:
		return g.expr(d) + "." + g.field()
	case 18:
		return g.expr(d) + ".?" + g.field()
	case 19:
		return g.expr(d) + "[?" + g.expr(d) + "]"
	case 20:
		return g.expr(d) + "[" + g.expr(d) + "]"
	case 21:
		return g.expr(d) + ".?" + g.field() + ".orValue(" + g.expr(d) + ")"
	case 22:
		return g.expr(d) + "[?" + g.expr(d) + "].orValue(" + g.expr(d) + ")"
	case 23:
		return "(" + g.expr(d) + " ? " + g.expr(d) + " : " + g.expr(d) + ")"
	case 24:
		return "[" + g.expr(d) + ", " + g.expr(d) + "]"
	case 25:
		return "{'k': " + g.expr(d) + ", " + g.expr(d) + ": " + g.expr(d) + "}"
	case 26, 27, 28, 29:
		macro := []string{"filter", "map", "exists", "all"}[g.next(4)]
		v := fmt.Sprintf("x%d", len(g.vars))
		r := g.expr(d)
		g.vars = append(g.vars, v)
		body := g.expr(d)
		g.vars = g.vars[:len(g.vars)-1]
		return r + "." + macro + "(" + v + ", " + body + ")"
	case 30:
		return "nodePool(" + g.expr(d) + ")"
	case 31:
		return "service(" + g.expr(d) + ", " + g.expr(d) + ")"
	case 32:
		return g.expr(d) + ".startsWith(" + g.expr(d) + ")"
	default:
		return "optional.of(" + g.expr(d) + ").hasValue()"
	}
}

func (g *exprGen) value(depth int) any {
	switch g.next(9) {
	case 0:
		return "web"
	case 1:
		return int64(g.next(256) - 128)
	case 2:
		return g.next(2) == 0
	case 3:
		return nil
	case 4:
		return 2.5
	case 5, 6:
		if depth > 0 {
			m := map[string]any{}
			for i := g.next(4); i > 0; i-- {
				m[g.field()] = g.value(depth - 1)
			}
			return m
		}
	case 7, 8:
		if depth > 0 {
			var l []any
			for i := g.next(4); i > 0; i-- {
				l = append(l, g.value(depth-1))
			}
			return l
		}
	}
	return "n1"
}

func (g *exprGen) object() *unstructured.Unstructured {
	obj := service("web", map[string]any{"a": "b"})
	for i := g.next(4); i > 0; i-- {
		switch g.next(3) {
		case 0:
			obj.Object["spec"].(map[string]any)[g.field()] = g.value(2)
		case 1:
			obj.Object["metadata"].(map[string]any)[g.field()] = g.value(2)
		default:
			obj.Object["spec"].(map[string]any)["ports"] = g.value(3)
		}
	}
	return obj
}

// FuzzPlanDifferential checks that filters evaluate alike with and without fast plans: the
// same result or error message, and a cost at least cel-go's.
func FuzzPlanDifferential(f *testing.F) {
	for _, seed := range []string{"", "\x06\x11\x00\x05\x02", "\x1a\x03\x07\x05\x0a", "\x17\x04\x08\x14\x02\x00\x01\x09"} {
		f.Add([]byte(seed), uint8(0))
		f.Add([]byte(seed), uint8(1))
	}
	cf, err := NewCompiler(CompilerOptions{Lookup: topologyLookup(), RuntimeCostBudget: 5000})
	if err != nil {
		f.Fatal(err)
	}
	cs, err := NewCompiler(CompilerOptions{Lookup: topologyLookup(), RuntimeCostBudget: 5000})
	if err != nil {
		f.Fatal(err)
	}
	cs.noFastPlans = true
	f.Fuzz(func(t *testing.T, data []byte, form uint8) {
		g := &exprGen{data: data}
		v := g.expr(3)
		expr := g.expr(4)
		obj := g.object()
		rf := newFilter("diff", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "v", Expression: v}}
			// Read v first (fast if it has a plan), so that a cel-go expression reading it
			// after gets the plan's value.
			s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "reads-v", Expression: "size([variables.v]) > 0"}}
			switch form % 3 {
			case 0:
				s.Keep = "dyn(" + expr + ") == true"
			case 1:
				s.Mutations = []appsv1alpha1.Mutation{jsonPatch("[JSONPatch{op: 'add', path: '/result', value: " + expr + "}]")}
			default:
				s.MatchConditions = append(s.MatchConditions, appsv1alpha1.MatchCondition{Name: "c", Expression: "dyn(" + expr + ") != false"})
			}
		})
		fast, errs1 := cf.Compile(rf)
		slow, errs2 := cs.Compile(rf)
		if len(errs1) > 0 || len(errs2) > 0 {
			// Planning never fails a compilation. (The messages may differ: the checker numbers
			// its type variables per compilation.)
			if len(errs1) != len(errs2) {
				t.Fatalf("compile errors differ: %v / %v", errs1, errs2)
			}
			return
		}
		for _, node := range []Node{{Name: "n1", Pool: "pool-a", Labels: map[string]string{"a": "b"}}, {Name: "n3"}} {
			if diff, _, _ := sameEvaluation(fast, slow, obj, svcList, node); diff != "" {
				t.Fatalf("variable %s\nexpression %s\nobject %v\nplanned %v\n%s", v, expr, strings.TrimSpace(fmt.Sprint(obj.Object)), planned(fast), diff)
			}
		}
	})
}

// TestPlanDifferentialSample runs the differential check on a deterministic sample of generated
// expressions, so that `go test` covers it without -fuzz.
func TestPlanDifferentialSample(t *testing.T) {
	cf := newCompiler(t, CompilerOptions{Lookup: topologyLookup(), RuntimeCostBudget: 5000})
	cs := newCompiler(t, CompilerOptions{Lookup: topologyLookup(), RuntimeCostBudget: 5000})
	cs.noFastPlans = true
	state := uint64(1)
	compiled, withPlans := 0, 0
	for i := 0; i < 4000; i++ {
		data := make([]byte, 48)
		for j := range data {
			state = state*6364136223846793005 + 1442695040888963407
			data[j] = byte(state >> 56)
		}
		g := &exprGen{data: data}
		v, expr, obj := g.expr(2), g.expr(3), g.object()
		rf := newFilter("diff", func(s *appsv1alpha1.ResponseFilterSpec) {
			s.Variables = []appsv1alpha1.Variable{{Name: "v", Expression: v}}
			if i%3 == 0 {
				s.MatchConditions = []appsv1alpha1.MatchCondition{{Name: "reads-v", Expression: "size([variables.v]) > 0"}}
			}
			if i%2 == 0 {
				s.Keep = "dyn(" + expr + ") == true"
			} else {
				s.Mutations = []appsv1alpha1.Mutation{jsonPatch("[JSONPatch{op: 'add', path: '/result', value: " + expr + "}]")}
			}
		})
		fast, errs := cf.Compile(rf)
		if len(errs) > 0 {
			continue
		}
		slow, _ := cs.Compile(rf)
		compiled++
		if len(planned(fast)) > 1 {
			withPlans++
		}
		if diff, _, _ := sameEvaluation(fast, slow, obj, svcList, Node{Name: "n1", Pool: "pool-a"}); diff != "" {
			t.Errorf("variable %s\nexpression %s\nobject %v\n%s", v, expr, obj.Object, diff)
		}
	}
	t.Logf("%d filters compiled, %d with planned expressions", compiled, withPlans)
}
