package localstack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Process is a child process of the stack, in its own process group, with stdout and stderr
// appended to a log file.
type Process struct {
	// Name is what the process is called in logs and errors, e.g. "kube-apiserver".
	Name string
	// LogFile receives the process's stdout and stderr.
	LogFile string

	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	stopping atomic.Bool
}

// StartProcess starts path with args, appending its output to logFile (created 0600 with
// its directory). The process leads its own process group, so Stop also ends anything it
// started, and on Linux it is killed if the calling process dies first.
func StartProcess(name, path string, args []string, logFile string) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
		return nil, fmt.Errorf("creating the log directory of %s: %w", name, err)
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", name, err)
	}
	// The child holds its own copy of the descriptor; ours is not needed after Start.
	defer log.Close()
	fmt.Fprintf(log, "==== %s starting %s %s\n", time.Now().Format(time.RFC3339), path, strings.Join(args, " "))

	cmd := exec.Command(path, args...)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, LogFile: logFile, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id, also the id of its process group.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitError is how the process ended (nil for exit status 0); valid after Done is closed.
func (p *Process) ExitError() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// Stopping reports whether Stop was called, telling an expected exit from a crash.
func (p *Process) Stopping() bool { return p.stopping.Load() }

// Stop sends SIGTERM to the process group and waits up to timeout for the process to exit,
// then sends SIGKILL and waits for it to be reaped. It returns an error only when the
// process had to be killed; stopping an exited process is a no-op.
func (p *Process) Stop(timeout time.Duration) error {
	p.stopping.Store(true)
	select {
	case <-p.done:
		return nil
	default:
	}
	pgid := p.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending SIGTERM to %s (pid %d): %w", p.Name, pgid, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s (pid %d) did not exit within %s of SIGTERM and was killed; see %s", p.Name, pgid, timeout, p.LogFile)
}

// errExited marks an error about a process that exited on its own.
var errExited = errors.New("exited")

// exitedError describes an unexpected exit, with the end of the log.
func (p *Process) exitedError() error {
	return fmt.Errorf("%s %w: %v\n--- last lines of %s ---\n%s", p.Name, errExited, p.ExitError(), p.LogFile, TailFile(p.LogFile, 30))
}

// TailFile returns the last n lines of a file, or a note why it cannot.
func TailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const maxRead = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxRead {
		if _, err := f.Seek(st.Size()-maxRead, io.SeekStart); err != nil {
			return fmt.Sprintf("(cannot read %s: %v)", path, err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
