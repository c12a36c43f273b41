package validation

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// errorKeys renders an ErrorList as sorted "Type field" strings, so that tests can state the
// exact errors they expect, independent of map iteration order.
func errorKeys(errs field.ErrorList) []string {
	keys := make([]string, 0, len(errs))
	for _, err := range errs {
		keys = append(keys, string(err.Type)+" "+err.Field)
	}
	slices.Sort(keys)
	return keys
}

// expectErrors fails the test unless errs holds exactly the wanted "Type field" errors, in
// any order. Types are written as their field.ErrorType values, e.g. "FieldValueRequired".
func expectErrors(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if got := errorKeys(errs); !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q\nfull: %v", got, want, errs)
	}
}

const (
	required     = string(field.ErrorTypeRequired)
	invalid      = string(field.ErrorTypeInvalid)
	notSupported = string(field.ErrorTypeNotSupported)
	forbidden    = string(field.ErrorTypeForbidden)
	duplicate    = string(field.ErrorTypeDuplicate)
	notFound     = string(field.ErrorTypeNotFound)
)
