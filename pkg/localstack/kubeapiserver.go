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

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ServiceClusterIPRange is the stack's --service-cluster-ip-range.
const ServiceClusterIPRange = "10.0.0.0/24"

// ServiceAccountIssuer is the stack's --service-account-issuer.
const ServiceAccountIssuer = "https://kubernetes.default.svc"

// startAttempts bounds restarts of a server whose free port was taken between picking and binding.
const startAttempts = 3

// kubeAPIServerArgs are kube-apiserver's flags: storage in the stack's etcd, TLS from the
// stack's PKI, Node and RBAC authorization, and the front-proxy (requestheader) settings an
// aggregated API server needs to learn the caller's identity.
func (s *Stack) kubeAPIServerArgs(port int) []string {
	p := s.PKI
	args := []string{
		"--etcd-servers=" + strings.Join(s.EtcdEndpoints, ","),
		"--secure-port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--cert-dir=" + filepath.Join(s.Dir, "kube-apiserver"),
		"--tls-cert-file=" + p.Serving.CertFile,
		"--tls-private-key-file=" + p.Serving.KeyFile,
		"--client-ca-file=" + p.ClientCA.CertFile,
		"--service-account-key-file=" + p.ServiceAccountPublicKeyFile,
		"--service-account-signing-key-file=" + p.ServiceAccountKeyFile,
		"--service-account-issuer=" + ServiceAccountIssuer,
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		"--authorization-mode=Node,RBAC",
		"--requestheader-client-ca-file=" + p.FrontProxyCA.CertFile,
		"--requestheader-allowed-names=" + FrontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p.FrontProxyClient.CertFile,
		"--proxy-client-key-file=" + p.FrontProxyClient.KeyFile,
		// Route to the APIService's Service (an ExternalName one here), not to endpoint IPs.
		"--enable-aggregator-routing=false",
		"--allow-privileged=true",
	}
	// Later flags win, so callers can override any of the above.
	return append(args, s.opts.KubeAPIServerArgs...)
}

// startKubeAPIServer starts kube-apiserver on a free port, writes the admin kubeconfig for
// it and waits until /readyz passes.
func (s *Stack) startKubeAPIServer(ctx context.Context) error {
	bin := filepath.Join(s.opts.BinDir, "kube-apiserver")
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.KubeAPIServerURL = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := WriteKubeconfig(s.AdminKubeconfig, s.KubeAPIServerURL, s.PKI.CA.CertPEM, AdminUser, s.PKI.Admin.CertPEM, s.PKI.Admin.KeyPEM); err != nil {
			return err
		}
		s.logger.Info("Starting kube-apiserver", "url", s.KubeAPIServerURL, "log", s.logFile("kube-apiserver"))
		proc, err := StartProcess("kube-apiserver", bin, s.kubeAPIServerArgs(port), s.logFile("kube-apiserver"))
		if err != nil {
			return err
		}
		s.setProcess(&s.kubeAPIServer, proc)
		err = s.waitKubeAPIServerReady(ctx, proc)
		if err == nil {
			s.logger.Info("kube-apiserver is ready", "url", s.KubeAPIServerURL, "pid", proc.Pid())
			return nil
		}
		stopErr := proc.Stop(s.opts.StopTimeout)
		if attempt < startAttempts && errors.Is(err, errExited) && addressInUse(proc.LogFile) {
			s.logger.Info("kube-apiserver's port was taken; retrying on another", "port", port)
			continue
		}
		return errors.Join(err, stopErr)
	}
}

func (s *Stack) waitKubeAPIServerReady(ctx context.Context, proc *Process) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.AdminKubeconfig)
	if err != nil {
		return fmt.Errorf("loading %s: %w", s.AdminKubeconfig, err)
	}
	cfg.Timeout = 5 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return waitReady(ctx, proc, s.opts.StartTimeout, func(ctx context.Context) error {
		return checkReadyz(ctx, client.Discovery().RESTClient())
	})
}

// waitReady polls check until it succeeds, the process exits, timeout passes or ctx ends;
// the error says which, with the end of the process's log.
func waitReady(parent context.Context, proc *Process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-proc.Done():
			return proc.exitedError()
		case <-ctx.Done():
			why := fmt.Errorf("%s not ready after %s", proc.Name, timeout)
			if parent.Err() != nil {
				why = fmt.Errorf("stopped waiting for %s: %w", proc.Name, parent.Err())
			}
			return fmt.Errorf("%w; last check: %v\n--- last lines of %s ---\n%s", why, last, proc.LogFile, TailFile(proc.LogFile, 30))
		case <-ticker.C:
		}
	}
}

// checkReadyz returns nil when /readyz passes, and otherwise an error naming the failed checks.
func checkReadyz(ctx context.Context, client rest.Interface) error {
	body, err := client.Get().AbsPath("/readyz").Param("verbose", "1").DoRaw(ctx)
	if err == nil {
		return nil
	}
	var failed []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "[-]") {
			failed = append(failed, strings.TrimPrefix(line, "[-]"))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("/readyz failing: %s", strings.Join(failed, "; "))
	}
	return fmt.Errorf("/readyz: %w", err)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// addressInUse reports whether a server's log says its port was taken.
func addressInUse(logFile string) bool {
	return strings.Contains(TailFile(logFile, 50), "address already in use")
}
