// Package procstatus reads a process's memory figures from /proc/<pid>/status (Linux).
package procstatus

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident memory, in bytes.
type Memory struct {
	// RSS is the resident set (VmRSS); Peak its high-water mark (VmHWM).
	RSS, Peak int64
	// Anon is heap, stacks and runtime (RssAnon); File is pages of mapped files, mostly the
	// executable's own code and read-only data (RssFile).
	Anon, File int64
}

// MiB formats bytes as mebibytes with one decimal.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Read reads the memory of a process; pid 0 is the calling process.
func Read(pid int) (Memory, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return Memory{}, fmt.Errorf("reading memory usage: %w", err)
	}
	defer f.Close()
	var m Memory
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
			m.RSS = v << 10
		case "VmHWM:":
			m.Peak = v << 10
		case "RssAnon:":
			m.Anon = v << 10
		case "RssFile:":
			m.File = v << 10
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("reading %s: %w", path, err)
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("no VmRSS in %s", path)
	}
	return m, nil
}
