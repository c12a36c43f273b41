package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// YurtManagerOptions configure yurt-manager in the stack.
type YurtManagerOptions struct {
	// Controllers is --controllers; default "*".
	Controllers []string
	// ExtraArgs are appended last.
	ExtraArgs []string
}

// StartYurtManager starts bin/yurt-manager against the stack with the admin credentials,
// leader election on (a single replica wins at once) and its health listener on a free
// loopback port, and waits until /readyz passes (informers synced, controllers running).
// It returns the process and the health/metrics address.
func (s *Stack) StartYurtManager(ctx context.Context, o YurtManagerOptions) (*Process, string, error) {
	bin := filepath.Join(s.opts.YurtBinDir, "yurt-manager")
	if err := checkExecutable(bin); err != nil {
		return nil, "", fmt.Errorf("%w (build it with make build)", err)
	}
	if len(o.Controllers) == 0 {
		o.Controllers = []string{"*"}
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		args := append([]string{
			"--kubeconfig=" + s.AdminKubeconfig,
			"--bind-address=" + addr,
			"--controllers=" + strings.Join(o.Controllers, ","),
			"--leader-elect=true",
			"--leader-elect-retry-period=1s",
		}, o.ExtraArgs...)
		s.logger.Info("Starting yurt-manager", "health", addr, "log", s.logFile("yurt-manager"))
		proc, err := StartProcess("yurt-manager", bin, args, s.logFile("yurt-manager"))
		if err != nil {
			return nil, "", err
		}
		err = waitReady(ctx, proc, s.opts.StartTimeout, func(ctx context.Context) error {
			return checkHTTPHealth(ctx, "http://"+addr+"/readyz")
		})
		if err == nil {
			s.addComponent(proc, true)
			s.logger.Info("yurt-manager is ready", "pid", proc.Pid())
			return proc, addr, nil
		}
		stopErr := proc.Stop(s.opts.StopTimeout)
		if attempt < startAttempts && errors.Is(err, errExited) && addressInUse(proc.LogFile) {
			continue
		}
		return nil, "", errors.Join(err, stopErr)
	}
}
