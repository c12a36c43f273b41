// Package conformance checks that a served resource behaves the way kubectl, client-go, the
// garbage collector and the namespace controller expect of a built-in one: discovery, create,
// get, list, watch from a resourceVersion with bookmarks, update, every patch type, server-side
// apply, the status subresource, finalizers, deletion and deletecollection, pagination,
// selectors, Table output and OpenAPI v3.
//
// Every check returns an observation, a short description of what the server did. The tests
// run the same checks against yurt-apiserver's resources and against the same NodePool schema
// served by a CustomResourceDefinition on the same kube-apiserver, and fail on any observation
// where the two differ that is not listed, with its reason, in KnownDifferences (and in the
// README).
package conformance
