package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

// DownOptions are the flags of `yurtctl local down`.
type DownOptions struct {
	// Dir is the directory given to `yurtctl local up`.
	Dir string
	// Timeout bounds the wait for `yurtctl local up` to exit after SIGTERM.
	Timeout time.Duration

	// Out receives what was done.
	Out io.Writer
}

// NewDownOptions returns the defaults, matching NewUpOptions.
func NewDownOptions() *DownOptions {
	return &DownOptions{Dir: filepath.Join("_output", "local"), Timeout: 2 * time.Minute, Out: os.Stdout}
}

// AddFlags adds the options to fs.
func (o *DownOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Dir, "dir", o.Dir, "Directory given to 'yurtctl local up'.")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the control plane to stop.")
}

// Complete makes the directory absolute.
func (o *DownOptions) Complete() error {
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = abs
	return nil
}

// Validate reports every problem with the options.
func (o *DownOptions) Validate() []error {
	var errs []error
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout must be positive, got %s", o.Timeout))
	}
	return errs
}

// Run sends SIGTERM to the `yurtctl local up` recorded in the pid file and waits for it to
// exit. Nothing running is not an error.
func (o *DownOptions) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	pidFile := filepath.Join(o.Dir, pidFileName)
	pid, err := readPIDFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(o.Out, "No local control plane is running in %s.\n", o.Dir)
		return nil
	}
	if err != nil {
		return err
	}
	if !isLocalUp(pid) {
		fmt.Fprintf(o.Out, "No local control plane is running in %s (removed the stale pid file of %d).\n", o.Dir, pid)
		return removeIfExists(pidFile)
	}
	logger.Info("Stopping the local control plane", "pid", pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signaling yurtctl local up (pid %d): %w", pid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	for processAlive(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("yurtctl local up (pid %d) still running after %s; its logs are in %s", pid, o.Timeout, filepath.Join(o.Dir, "logs"))
		case <-ticker.C:
		}
	}
	fmt.Fprintf(o.Out, "Stopped the local control plane in %s.\n", o.Dir)
	// up removes its pid file on the way out; one killed hard leaves it behind.
	return removeIfExists(pidFile)
}
