// Package memory sets a hub's Go runtime memory policy. A hub lives on small edge machines
// beside the workloads it serves, and by default the Go runtime lets the heap grow to twice
// what is live before collecting and keeps freed pages for a while: a burst (a relist of a
// thousand EndpointSlices) leaves the process holding several times its steady-state need.
// A soft memory limit makes the collector run earlier as the limit nears and the scavenger
// return freed pages to the OS promptly; it is soft, so a hub whose live data outgrows it keeps
// working (spending more CPU on collection, at most about half a core by the runtime's own cap)
// instead of failing.
package memory

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"
)

// DefaultLimit is the default soft limit on the Go runtime's memory (heap, stacks, runtime
// structures; not the binary's mapped code). A hub caching the anchor workload (1,000 Services
// and EndpointSlices) holds about 10 MiB live, and about 40 MiB of Go memory with garbage at
// the default GOGC. Above the limit the collector runs back to back (up to half the CPU), so
// the default leaves room for a live set ten times the anchor workload's; it mostly caps the
// garbage of start-up and relist peaks. Edge nodes short of memory can set it lower.
const DefaultLimit = "128Mi"

// Options are the memory flags.
type Options struct {
	// Limit is the soft memory limit as a quantity ("128Mi"); "0" leaves the runtime's default
	// (no limit). GOMEMLIMIT in the environment takes precedence.
	Limit string
	// GCPercent is the GC target (GOGC): the heap grows by this percentage of the live heap
	// before a collection; 0 keeps the runtime's default (100). GOGC in the environment takes
	// precedence.
	GCPercent int
	// ReleaseStartupMemory makes ReleaseStartup give back start-up memory once the hub is ready.
	ReleaseStartupMemory bool

	limitBytes int64
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{Limit: DefaultLimit, ReleaseStartupMemory: true}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Limit, "memory-limit", o.Limit,
		"Soft limit on the Go runtime's memory (a quantity such as 128Mi; 0 for none): the collector runs sooner and freed memory goes back to the OS as it nears. Not a hard cap: a hub that needs more keeps working. GOMEMLIMIT in the environment takes precedence.")
	fs.IntVar(&o.GCPercent, "gc-percent", o.GCPercent,
		"Heap growth between collections, in percent of the live heap (GOGC); 0 keeps the Go default of 100. GOGC in the environment takes precedence.")
	fs.BoolVar(&o.ReleaseStartupMemory, "release-startup-memory", o.ReleaseStartupMemory,
		"Once ready, give back the memory only start-up used: the start-up garbage of the heap, and the hub's own code and read-only data that start-up read but a running hub does not need (the kernel reads them back from the executable on use). Saves about 30 MiB of resident memory.")
}

// Complete parses the limit.
func (o *Options) Complete() error {
	q, err := resource.ParseQuantity(o.Limit)
	if err != nil {
		return fmt.Errorf("--memory-limit %q: %w", o.Limit, err)
	}
	o.limitBytes = q.Value()
	return nil
}

// Validate checks the flags; Complete must have been called.
func (o *Options) Validate() []error {
	var errs []error
	if o.limitBytes < 0 {
		errs = append(errs, fmt.Errorf("--memory-limit %q is negative", o.Limit))
	} else if o.limitBytes > 0 && o.limitBytes < 16<<20 {
		// Below the hub's own start-up footprint the collector would run without pause.
		errs = append(errs, fmt.Errorf("--memory-limit %q is below 16Mi, less than a hub needs to start", o.Limit))
	}
	if o.GCPercent < 0 {
		errs = append(errs, fmt.Errorf("--gc-percent %d is negative", o.GCPercent))
	}
	return errs
}

// Apply sets the runtime's memory limit and GC target (process-wide; call once, from main).
// getenv is os.Getenv outside tests.
func (o *Options) Apply(logger klog.Logger, getenv func(string) string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv("GOMEMLIMIT") == "" && o.limitBytes > 0 {
		debug.SetMemoryLimit(o.limitBytes)
	}
	if getenv("GOGC") == "" && o.GCPercent > 0 {
		debug.SetGCPercent(o.GCPercent)
	}
	limit := debug.SetMemoryLimit(-1) // -1 reads without changing
	logger.V(1).Info("Go runtime memory policy", "memoryLimitBytes", limitOrNone(limit), "gcPercent", o.GCPercent)
}

func limitOrNone(v int64) any {
	if v == math.MaxInt64 {
		return "none"
	}
	return v
}
