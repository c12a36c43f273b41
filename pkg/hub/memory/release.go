package memory

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"k8s.io/klog/v2"
)

// Usage is a process's resident memory (/proc/<pid>/status), in bytes: anonymous (heap,
// stacks, runtime) and file-backed (mostly the executable's own code and read-only data).
type Usage struct {
	RSS, Anon, File int64
}

// ReadUsage reads the resident memory of a process (0 for the calling process).
func ReadUsage(pid int) (Usage, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return Usage{}, fmt.Errorf("reading memory usage: %w", err)
	}
	defer f.Close()
	var u Usage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[2] != "kB" {
			continue
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			u.RSS = v << 10
		case "RssAnon:":
			u.Anon = v << 10
		case "RssFile:":
			u.File = v << 10
		}
	}
	if err := sc.Err(); err != nil {
		return u, fmt.Errorf("reading %s: %w", path, err)
	}
	if u.RSS == 0 {
		return u, fmt.Errorf("no VmRSS in %s", path)
	}
	return u, nil
}

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
	before, berr := ReadUsage(0)
	debug.FreeOSMemory()
	released, err := pageOutExecutable()
	after, aerr := ReadUsage(0)
	if err != nil {
		logger.Info("Could not release the executable's start-up pages; the hub keeps them mapped", "err", err)
	}
	if berr == nil && aerr == nil {
		logger.V(1).Info("Released start-up memory", "rssBefore", before.RSS, "rssAfter", after.RSS,
			"fileBefore", before.File, "fileAfter", after.File, "executableRangesAdvised", released)
	}
}
