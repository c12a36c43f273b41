package memory

import (
	"runtime/debug"

	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/procstatus"
)

// ReleaseStartup gives back what only start-up needed, once a hub is ready: the garbage of
// start-up (the heap is collected and its free pages returned to the OS), and the pages of the
// hub's own executable that start-up read (package initialisation, the first compilation of
// the filters, the first lists) but steady state does not. Start-up touches about 45 MiB of the
// executable's code and tables; a ready hub uses about a third of that, which the kernel reads
// back on first use. Only pages this process maps alone are reclaimed: an edge node runs one hub,
// but hubs sharing one executable on a machine (make local-up's demo pool) keep its shared pages.
// Call it once, after start-up: pages read back are not released again.
func (o *Options) ReleaseStartup(logger klog.Logger) {
	if !o.ReleaseStartupMemory {
		return
	}
	before, berr := procstatus.Read(0)
	debug.FreeOSMemory()
	released, err := pageOutExecutable()
	after, aerr := procstatus.Read(0)
	if err != nil {
		logger.Info("Could not release the executable's start-up pages; the hub keeps them mapped", "err", err)
	}
	if berr == nil && aerr == nil {
		logger.V(1).Info("Released start-up memory", "rssBefore", before.RSS, "rssAfter", after.RSS,
			"fileBefore", before.File, "fileAfter", after.File, "executableRangesAdvised", released)
	}
}
