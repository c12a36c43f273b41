package memory

import (
	"runtime"
	"testing"

	"k8s.io/klog/v2/ktesting"

	"github.com/yurt-edge/yurt/pkg/procstatus"
)

// TestPageOutExecutable checks that the executable's pages leave the resident set and that the
// process runs on (the pages it uses come back).
func TestPageOutExecutable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("MADV_PAGEOUT is Linux-only; elsewhere ReleaseStartup releases only the heap")
	}
	before, err := procstatus.Read(0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := pageOutExecutable()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no read-only mapping of the executable was found")
	}
	after, err := procstatus.Read(0)
	if err != nil {
		t.Fatal(err)
	}
	// The test binary has several MiB of code and tables resident after start; most must go.
	if after.File >= before.File/2 {
		t.Errorf("file-backed RSS %d -> %d bytes: the executable's pages were not released", before.File, after.File)
	}
	// Code runs on after the release.
	o := NewOptions()
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	o.ReleaseStartup(ktesting.NewLogger(t, ktesting.NewConfig()))
	if errs := o.Validate(); len(errs) != 0 {
		t.Fatal(errs)
	}
}

func TestReleaseStartupDisabled(t *testing.T) {
	o := NewOptions()
	o.ReleaseStartupMemory = false
	logger, _ := ktesting.NewTestContext(t)
	o.ReleaseStartup(logger) // does nothing, and must not fail
}
