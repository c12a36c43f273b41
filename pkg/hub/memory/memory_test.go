package memory

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2/ktesting"
)

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantLimit int64
		wantErr   bool
	}{
		{name: "default", wantLimit: 128 << 20},
		{name: "explicit", args: []string{"--memory-limit=128Mi"}, wantLimit: 128 << 20},
		{name: "off", args: []string{"--memory-limit=0"}, wantLimit: 0},
		{name: "decimal units", args: []string{"--memory-limit=100M"}, wantLimit: 100e6},
		{name: "too small", args: []string{"--memory-limit=1Mi"}, wantErr: true},
		{name: "negative", args: []string{"--memory-limit=-5Mi"}, wantErr: true},
		{name: "garbage", args: []string{"--memory-limit=lots"}, wantErr: true},
		{name: "negative gc percent", args: []string{"--gc-percent=-1"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.Complete()
			var errs []error
			if err == nil {
				errs = o.Validate()
			}
			if gotErr := err != nil || len(errs) > 0; gotErr != tc.wantErr {
				t.Fatalf("error %v %v, want error %v", err, errs, tc.wantErr)
			}
			if err == nil && !tc.wantErr && o.limitBytes != tc.wantLimit {
				t.Errorf("limit %d, want %d", o.limitBytes, tc.wantLimit)
			}
		})
	}
}

// TestApply checks that the flags reach the runtime and that the environment's GOMEMLIMIT
// and GOGC win over them.
func TestApply(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(-1)
	oldGC := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(oldLimit); debug.SetGCPercent(oldGC) })
	logger, _ := ktesting.NewTestContext(t)

	for _, tc := range []struct {
		name      string
		env       map[string]string
		limit     string
		gc        int
		wantLimit int64
		wantGC    int
	}{
		{name: "flags", limit: "96Mi", gc: 50, wantLimit: 96 << 20, wantGC: 50},
		{name: "environment wins", env: map[string]string{"GOMEMLIMIT": "1GiB", "GOGC": "200"}, limit: "96Mi", gc: 50, wantLimit: math.MaxInt64, wantGC: 100},
		{name: "zero leaves defaults", limit: "0", wantLimit: math.MaxInt64, wantGC: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			debug.SetGCPercent(100)
			o := &Options{Limit: tc.limit, GCPercent: tc.gc}
			if err := o.Complete(); err != nil {
				t.Fatal(err)
			}
			o.Apply(logger, func(k string) string { return tc.env[k] })
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tc.wantLimit)
			}
			if got := debug.SetGCPercent(100); got != tc.wantGC {
				t.Errorf("GC percent %d, want %d", got, tc.wantGC)
			}
		})
	}
}
