package memory

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pageOutExecutable advises the kernel to reclaim (MADV_PAGEOUT, Linux 5.4+) the read-only
// mappings of the running executable: its code and read-only data. Clean file pages are
// simply dropped and read back from the executable on next use, so nothing is lost; writable
// mappings (data, heap) are left alone. It returns how many mappings were advised.
func pageOutExecutable() (int, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("finding the executable: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("reading the process's mappings: %w", err)
	}
	defer f.Close()
	type span struct{ start, end uintptr }
	var spans []span
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode pathname
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		start, end, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		s, err1 := strconv.ParseUint(start, 16, 64)
		e, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil || e <= s {
			continue
		}
		spans = append(spans, span{uintptr(s), uintptr(e)})
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading the process's mappings: %w", err)
	}
	// Advise after reading: the advice must not race with the scanner's own reads.
	n := 0
	for _, sp := range spans {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, sp.start, sp.end-sp.start, unix.MADV_PAGEOUT); errno != 0 {
			return n, fmt.Errorf("madvise(MADV_PAGEOUT) on %#x-%#x: %w", sp.start, sp.end, errno)
		}
		n++
	}
	return n, nil
}
