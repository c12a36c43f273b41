package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
)

// KubeSchedulerOptions configure kube-scheduler in the stack.
type KubeSchedulerOptions struct {
	// ExtraArgs are appended last and so override the stack's flags.
	ExtraArgs []string
}

// StartKubeScheduler starts the real kube-scheduler (BinDir) against the stack with the admin
// credentials and waits for its /healthz. Without it, pods that are not created with a
// nodeName (Deployment and DaemonSet pods) stay Pending. It is stopped by Stop.
func (s *Stack) StartKubeScheduler(ctx context.Context, o KubeSchedulerOptions) (*Process, error) {
	bin := filepath.Join(s.opts.BinDir, "kube-scheduler")
	if err := checkExecutable(bin); err != nil {
		return nil, fmt.Errorf("%w (build it with make kube-binaries)", err)
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		args := append([]string{
			"--kubeconfig=" + s.AdminKubeconfig,
			"--authentication-kubeconfig=" + s.AdminKubeconfig,
			"--authorization-kubeconfig=" + s.AdminKubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--leader-elect=false",
		}, o.ExtraArgs...)
		s.logger.Info("Starting kube-scheduler", "log", s.logFile("kube-scheduler"))
		proc, err := StartProcess("kube-scheduler", bin, args, s.logFile("kube-scheduler"))
		if err != nil {
			return nil, err
		}
		url := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/healthz"
		err = waitReady(ctx, proc, s.opts.StartTimeout, func(ctx context.Context) error { return checkHTTPHealth(ctx, url) })
		if err == nil {
			s.addComponent(proc, true)
			s.logger.Info("kube-scheduler is ready", "pid", proc.Pid())
			return proc, nil
		}
		stopErr := proc.Stop(s.opts.StopTimeout)
		if attempt < startAttempts && errors.Is(err, errExited) && addressInUse(proc.LogFile) {
			continue
		}
		return nil, errors.Join(err, stopErr)
	}
}
