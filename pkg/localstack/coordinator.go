package localstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
)

// Coordinator is a running single-member yurt-coordinator of one pool, with mutual TLS.
type Coordinator struct {
	Pool string
	// Endpoints are the member's https client URLs on 127.0.0.1.
	Endpoints []string
	// HealthURL serves /healthz, /readyz and /metrics.
	HealthURL string
	// CAFile is the pool CA; ClientCertFile/ClientKeyFile a hub client certificate it signed
	// (CN "local-hub", O = pool). More hub certificates: certs.LoadCA(CertDir files) + SignHub.
	CAFile, ClientCertFile, ClientKeyFile string
	CertDir                               string
	Process                               *Process
}

// StartCoordinator starts bin/yurt-coordinator for pool under <Dir>/coordinator/<pool>/
// (certs/, data/), with client and peer mutual TLS, and waits until /readyz passes. Stop ends it.
func (s *Stack) StartCoordinator(ctx context.Context, pool string) (*Coordinator, error) {
	bin := filepath.Join(s.opts.YurtBinDir, "yurt-coordinator")
	if err := checkExecutable(bin); err != nil {
		return nil, fmt.Errorf("%w (build it with make build)", err)
	}
	dir := filepath.Join(s.Dir, "coordinator", pool)
	certDir := filepath.Join(dir, "certs")
	files := certs.Files{Dir: certDir}
	caCert, caKey := files.CA()
	ca, err := certs.LoadCA(caCert, caKey)
	if err != nil {
		if ca, err = certs.NewCA(pool, 0); err != nil {
			return nil, err
		}
		if err := ca.Write(caCert, caKey); err != nil {
			return nil, err
		}
	}
	// ExtraServingSANs are addresses network namespaces reach the host by (through a forwarder),
	// so hubs in them can verify the member as they verify kube-apiserver.
	hosts := append([]string{"127.0.0.1", "localhost"}, s.opts.ExtraServingSANs...)
	member, err := ca.SignMember(pool, certs.MemberRequest{Name: pool, Hosts: hosts})
	if err != nil {
		return nil, err
	}
	mc, mk := files.Member(pool)
	if err := member.Write(mc, mk); err != nil {
		return nil, err
	}
	hub, err := ca.SignHub(pool, "local-hub", 0)
	if err != nil {
		return nil, err
	}
	hc, hk := files.Hub("local-hub")
	if err := hub.Write(hc, hk); err != nil {
		return nil, err
	}
	// Ports are kept in the pool's directory so a restart reuses the member's data (its
	// stored membership names the peer URL).
	ports, err := coordinatorPorts(filepath.Join(dir, "ports"))
	if err != nil {
		return nil, err
	}
	client := "https://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "https://127.0.0.1:" + strconv.Itoa(ports[1])
	health := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2]))
	dataDir := filepath.Join(dir, "data")
	args := []string{
		"--pool=" + pool, "--name=" + pool, "--data-dir=" + dataDir,
		"--listen-client-urls=" + client, "--listen-peer-urls=" + peer,
		"--initial-cluster=" + pool + "=" + peer, "--health-address=" + health,
		"--cert-file=" + mc, "--key-file=" + mk, "--trusted-ca-file=" + caCert,
		"--peer-cert-file=" + mc, "--peer-key-file=" + mk, "--peer-trusted-ca-file=" + caCert,
	}
	name := "yurt-coordinator-" + pool
	proc, err := StartProcess(name, bin, args, s.logFile(name))
	if err != nil {
		return nil, err
	}
	s.addComponent(proc, true)
	c := &Coordinator{Pool: pool, Endpoints: []string{client}, HealthURL: "http://" + health,
		CAFile: caCert, ClientCertFile: hc, ClientKeyFile: hk, CertDir: certDir, Process: proc}
	deadline := time.Now().Add(s.opts.StartTimeout)
	for {
		err := checkHTTPHealth(ctx, c.HealthURL+"/readyz")
		if err == nil {
			s.logger.Info("yurt-coordinator is ready", "pool", pool, "endpoints", c.Endpoints, "ca", caCert, "pid", proc.Pid())
			return c, nil
		}
		select {
		case <-proc.Done():
			return nil, proc.exitedError()
		case <-ctx.Done():
			_ = proc.Stop(s.opts.StopTimeout)
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = proc.Stop(s.opts.StopTimeout)
			return nil, fmt.Errorf("yurt-coordinator of pool %s not ready after %s: %v; see %s", pool, s.opts.StartTimeout, err, proc.LogFile)
		}
	}
}

func coordinatorPorts(file string) ([]int, error) {
	if b, err := os.ReadFile(file); err == nil {
		var p [3]int
		if n, _ := fmt.Sscan(string(b), &p[0], &p[1], &p[2]); n == 3 {
			return p[:], nil
		}
	}
	ports := make([]int, 3)
	for i := range ports {
		var err error
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(file, []byte(fmt.Sprintf("%d %d %d\n", ports[0], ports[1], ports[2])), 0o600); err != nil {
		return nil, fmt.Errorf("recording the coordinator's ports: %w", err)
	}
	return ports, nil
}
