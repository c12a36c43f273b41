package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// writePIDFile records this process in path, refusing when another live `yurtctl local up`
// already owns it.
func writePIDFile(path string) error {
	if pid, err := readPIDFile(path); err == nil && pid != os.Getpid() && isLocalUp(pid) {
		return fmt.Errorf("a local control plane is already running from this directory (pid %d); stop it with 'yurtctl local down --dir %s'",
			pid, strings.TrimSuffix(path, "/"+pidFileName))
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

func readPIDFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s does not hold a process id: %q", path, data)
	}
	return pid, nil
}

// processAlive reports whether pid exists and is not a zombie waiting to be reaped.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		// No procfs: trust kill(2).
		return !errors.Is(err, os.ErrNotExist) || !procfsMounted()
	}
	// The state follows the parenthesized command name, which may itself hold spaces.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// isLocalUp reports whether pid is alive and, where procfs tells, is a yurtctl process, so a
// pid reused since the pid file was written is not signaled.
func isLocalUp(pid int) bool {
	if !processAlive(pid) {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return !procfsMounted()
	}
	return bytes.Contains(cmdline, []byte("yurtctl"))
}

func procfsMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
