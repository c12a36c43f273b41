package local

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

func TestApplyRetrying(t *testing.T) {
	gvr := schema.GroupVersionResource{Group: "apps.openyurt.io", Version: "v1alpha1", Resource: "responsefilters"}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps.openyurt.io/v1alpha1", "kind": "ResponseFilter", "metadata": map[string]any{"name": "f"},
	}}
	status := func(code int, reason string) string {
		return `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"` + reason + `","code":` + strconv.Itoa(code) + `}`
	}
	for _, tc := range []struct {
		name      string
		answers   []int // status codes of successive answers; the last repeats
		wantCalls int32
		wantErr   func(error) bool
	}{
		{"503 twice then ok", []int{503, 503, 200}, 3, nil},
		{"invalid at once", []int{422}, 1, apierrors.IsInvalid},
		{"forbidden at once", []int{403}, 1, apierrors.IsForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				n := int(calls.Add(1))
				code := tc.answers[min(n, len(tc.answers))-1]
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				switch code {
				case 200:
					_, _ = w.Write([]byte(`{"apiVersion":"apps.openyurt.io/v1alpha1","kind":"ResponseFilter","metadata":{"name":"f"}}`))
				case 503:
					_, _ = w.Write([]byte(status(code, "ServiceUnavailable")))
				case 422:
					_, _ = w.Write([]byte(status(code, "Invalid")))
				default:
					_, _ = w.Write([]byte(status(code, "Forbidden")))
				}
			}))
			defer srv.Close()
			dyn, err := dynamic.NewForConfig(&rest.Config{Host: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			err = applyRetrying(context.Background(), dyn.Resource(gvr), obj)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.wantErr != nil && !tc.wantErr(err) {
				t.Fatalf("err = %v, not the expected kind", err)
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Fatalf("%d requests, want %d", got, tc.wantCalls)
			}
		})
	}
}
