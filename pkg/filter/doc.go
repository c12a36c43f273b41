// Package filter compiles ResponseFilters (apps.openyurt.io/v1alpha1) into CEL programs and
// evaluates them on the objects a hub returns to local components.
//
// The CEL environment is Kubernetes' own (k8s.io/apiserver/pkg/cel/environment base set, its
// libraries and cost estimator), extended with:
//
//	object     dyn     the object being returned (unstructured content)
//	request    object  userAgent, verb, group, version, resource, namespace, name (all strings)
//	node       object  name (string), labels (map(string, string)), pool (string, "" if none)
//	variables  object  spec.variables, each evaluated lazily, at most once per evaluation
//	nodePool(nodeName string) string                    the pool of any node ("" if none)
//	service(namespace string, name string) optional(dyn) a Service from the hub's cache
//
// plus the Object{...} and JSONPatch{...} types of MutatingAdmissionPolicy for mutations.
//
// Use: a Compiler (one per process, built with the Lookup backing nodePool and service)
// compiles a ResponseFilter into a *Filter and caches it per (name, uid, generation). A Chain
// holds the compiled filters in priority order and applies those matching a request to each
// object:
//
//	compiler, err := filter.NewCompiler(filter.CompilerOptions{Lookup: hubLookup})
//	f, errs := compiler.Compile(rf)          // errs name fields: spec.keep, spec.mutations[0]...
//	chain := filter.NewChain(f1, f2)           // priority, then name
//	perRequest := chain.For(req)              // the filters matching user agent/resource/verb
//	out, err := perRequest.Apply(ctx, obj, req, node)       // out.Keep false: drop obj
//	lout, err := perRequest.ApplyList(ctx, list, req, node) // lists: items dropped, RV unchanged
//
// err is non-nil only when a failurePolicy: Fail filter failed (fail the request); errors of
// Ignore filters are in Outcome.Ignored (log and count them). Results may share unchanged
// parts with the input: treat both as read-only. Filter.UsesService says which filters must be
// re-run on open watches when a Service changes. List/watch semantics (DELETED for a seen
// object that is now dropped, ADDED when it stops being dropped, bookmarks untouched) and
// encoding are the hub's.
//
// Evaluation: each expression is compiled twice, into a cel-go program and, when it stays
// within a subset of CEL (plan.go: selections and optionals, literals, comprehensions over
// lists, comparisons, integer arithmetic, the strings extension, nodePool, service, JSONPatch
// literals), into a fast plan: Go closures over the unstructured content that neither box
// values into ref.Val nor track cost step by step. A plan gives the expression back to its
// cel-go program whenever cel-go's semantics are not obviously its own (errors, unexpected
// types, overflow...), so results and error messages are cel-go's; it counts at least the cost
// cel-go would, and a filter whose budget runs out is evaluated again by cel-go alone. Result.Cost
// may therefore be an upper bound (it is exact for the built-in filters). FuzzPlanDifferential
// checks plans against cel-go.
package filter
