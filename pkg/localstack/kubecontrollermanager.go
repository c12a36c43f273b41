package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// KubeControllerManagerOptions configure kube-controller-manager in the stack.
type KubeControllerManagerOptions struct {
	// Controllers is --controllers; default "*" (every controller on by default).
	Controllers []string
	// NodeMonitorGracePeriod is how long a node may miss heartbeats before it is marked
	// NotReady/Unknown and tainted; default 40s (Kubernetes' 50s would slow tests down).
	NodeMonitorGracePeriod time.Duration
	// NodeMonitorPeriod is how often node health is checked; default 2s.
	NodeMonitorPeriod time.Duration
	// ExtraArgs are appended last and so override the stack's flags.
	ExtraArgs []string
}

// StartKubeControllerManager starts the real kube-controller-manager (BinDir) against the
// stack with the admin credentials, the stack's service-account key and client CA for CSR
// signing, and waits for its /healthz. It is stopped by Stop, or earlier by the returned
// Process's Stop.
func (s *Stack) StartKubeControllerManager(ctx context.Context, o KubeControllerManagerOptions) (*Process, error) {
	if len(o.Controllers) == 0 {
		o.Controllers = []string{"*"}
	}
	if o.NodeMonitorGracePeriod == 0 {
		o.NodeMonitorGracePeriod = 40 * time.Second
	}
	if o.NodeMonitorPeriod == 0 {
		o.NodeMonitorPeriod = 2 * time.Second
	}
	bin := filepath.Join(s.opts.BinDir, "kube-controller-manager")
	if err := checkExecutable(bin); err != nil {
		return nil, fmt.Errorf("%w (build it with make kube-binaries)", err)
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		args := []string{
			"--kubeconfig=" + s.AdminKubeconfig,
			"--authentication-kubeconfig=" + s.AdminKubeconfig,
			"--authorization-kubeconfig=" + s.AdminKubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + filepath.Join(s.Dir, "kube-controller-manager"),
			"--leader-elect=false",
			"--controllers=" + strings.Join(o.Controllers, ","),
			"--use-service-account-credentials=false",
			"--service-account-private-key-file=" + s.PKI.ServiceAccountKeyFile,
			"--root-ca-file=" + s.PKI.CA.CertFile,
			"--cluster-signing-cert-file=" + s.PKI.ClientCA.CertFile,
			"--cluster-signing-key-file=" + s.PKI.ClientCA.KeyFile,
			"--service-cluster-ip-range=" + ServiceClusterIPRange,
			"--node-monitor-grace-period=" + o.NodeMonitorGracePeriod.String(),
			"--node-monitor-period=" + o.NodeMonitorPeriod.String(),
		}
		args = append(args, o.ExtraArgs...)
		s.logger.Info("Starting kube-controller-manager", "log", s.logFile("kube-controller-manager"))
		proc, err := StartProcess("kube-controller-manager", bin, args, s.logFile("kube-controller-manager"))
		if err != nil {
			return nil, err
		}
		url := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/healthz"
		err = waitReady(ctx, proc, s.opts.StartTimeout, func(ctx context.Context) error { return checkHTTPHealth(ctx, url) })
		if err == nil {
			s.addComponent(proc, true)
			s.logger.Info("kube-controller-manager is ready", "pid", proc.Pid())
			return proc, nil
		}
		stopErr := proc.Stop(s.opts.StopTimeout)
		if attempt < startAttempts && errors.Is(err, errExited) && addressInUse(proc.LogFile) {
			continue
		}
		return nil, errors.Join(err, stopErr)
	}
}
