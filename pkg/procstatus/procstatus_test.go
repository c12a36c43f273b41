package procstatus

import (
	"os"
	"testing"
)

func TestRead(t *testing.T) {
	for _, pid := range []int{0, os.Getpid()} {
		m, err := Read(pid)
		if err != nil {
			t.Fatal(err)
		}
		if m.RSS <= 0 || m.Peak < m.RSS || m.Anon <= 0 || m.File <= 0 || m.Anon+m.File > m.RSS+(1<<20) {
			t.Errorf("pid %d: implausible %+v", pid, m)
		}
	}
	if _, err := Read(1 << 30); err == nil {
		t.Error("reading a process that does not exist: no error")
	}
}
