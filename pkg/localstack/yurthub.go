package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
	hubopts "github.com/yurt-edge/yurt/pkg/hub/options"
)

// YurtHubOptions configure a yurthub on the host's loopback, for a node whose kubelet runs on
// the host too (a hollow node). Unlike test/e2e/framework.EdgeNode it needs no root and no
// network namespace: every hub gets its own proxy and health ports.
type YurtHubOptions struct {
	// NodeName is the node the hub serves; it authenticates as system:node:<NodeName>. Required.
	NodeName string
	// Pool is --nodepool.
	Pool string
	// Coordinator, when set, is the pool's yurt-coordinator: the hub gets --coordinator-*
	// flags and a hub certificate (CN <NodeName>, O <Pool>) signed by the pool CA, and
	// lease-proxy credentials (user hubopts.LeaseProxyUser, from the stack's client CA) with
	// which, as pool leader, it renews the Leases of pool nodes cut off from the cloud. That
	// user's RBAC is artifacts/deploy/20-yurthub-lease-proxy-rbac.yaml.
	Coordinator *Coordinator
	// Server is the hub's --server-addr; default the stack's kube-apiserver. A CloudLink's
	// URL puts a link that can be cut between the hub and the cloud.
	Server string
	// ExtraArgs are appended last and so override the stack's flags.
	ExtraArgs []string
}

// YurtHub is a running yurthub.
type YurtHub struct {
	NodeName string
	// Dir holds the node's client certificate, the coordinator certificate and the cache.
	Dir string
	// ProxyURL is the plain-HTTP proxy for the node's components (a kubelet's server).
	ProxyURL string
	// HealthURL serves /healthz, /readyz and /metrics.
	HealthURL string
	// Kubeconfig points at ProxyURL without credentials, as a node component's would.
	Kubeconfig string
	*Process
}

// StartYurtHub starts bin/yurthub for o.NodeName in <Dir>/hubs/<node>/ (node certificate
// from the stack's client CA, cache kept across runs) on free loopback ports, and waits until
// its /readyz passes. Stop (of the stack or of the hub) ends it; an exit without Stop is
// reported through Failed.
func (s *Stack) StartYurtHub(ctx context.Context, o YurtHubOptions) (*YurtHub, error) {
	if o.NodeName == "" {
		return nil, errors.New("localstack: a yurthub needs a node name")
	}
	if o.Coordinator != nil && o.Pool == "" {
		return nil, fmt.Errorf("localstack: the yurthub of %s has a coordinator but no pool", o.NodeName)
	}
	bin := filepath.Join(s.opts.YurtBinDir, "yurthub")
	if err := checkExecutable(bin); err != nil {
		return nil, fmt.Errorf("%w (build it with make build)", err)
	}
	dir := filepath.Join(s.Dir, "hubs", o.NodeName)
	ck, err := s.PKI.NewClientCert("system:node:"+o.NodeName, []string{"system:nodes"})
	if err != nil {
		return nil, fmt.Errorf("making the credentials of node %s: %w", o.NodeName, err)
	}
	if err := ck.Write(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")); err != nil {
		return nil, err
	}
	server := o.Server
	if server == "" {
		server = s.KubeAPIServerURL
	}
	base := []string{
		"--server-addr=" + server,
		"--node-name=" + o.NodeName,
		"--client-certificate=" + ck.CertFile,
		"--client-key=" + ck.KeyFile,
		"--certificate-authority=" + s.PKI.CA.CertFile,
		"--cache-dir=" + filepath.Join(dir, "cache"),
		"--cert-dir=" + filepath.Join(dir, "pki"),
	}
	if o.Pool != "" {
		base = append(base, "--nodepool="+o.Pool)
	}
	if o.Coordinator != nil {
		certFile, keyFile, err := signHubCert(o.Coordinator, o.Pool, o.NodeName)
		if err != nil {
			return nil, err
		}
		base = append(base,
			"--coordinator-endpoints="+strings.Join(o.Coordinator.Endpoints, ","),
			"--coordinator-ca-file="+o.Coordinator.CAFile,
			"--coordinator-cert-file="+certFile,
			"--coordinator-key-file="+keyFile,
		)
		lp, err := s.PKI.NewClientCert(hubopts.LeaseProxyUser, nil)
		if err != nil {
			return nil, err
		}
		if err := lp.Write(filepath.Join(dir, "lease-proxy.crt"), filepath.Join(dir, "lease-proxy.key")); err != nil {
			return nil, err
		}
		base = append(base, "--lease-proxy-client-certificate="+lp.CertFile, "--lease-proxy-client-key="+lp.KeyFile)
	}
	name := "yurthub-" + o.NodeName
	for attempt := 1; ; attempt++ {
		proxyPort, err := freePort()
		if err != nil {
			return nil, err
		}
		healthPort, err := freePort()
		if err != nil {
			return nil, err
		}
		proxy := net.JoinHostPort("127.0.0.1", strconv.Itoa(proxyPort))
		health := net.JoinHostPort("127.0.0.1", strconv.Itoa(healthPort))
		args := append(append(append([]string(nil), base...), "--proxy-address="+proxy, "--server-address="+health), o.ExtraArgs...)
		s.logger.Info("Starting yurthub", "node", o.NodeName, "proxy", proxy, "log", s.logFile(name))
		proc, err := StartProcess(name, bin, args, s.logFile(name))
		if err != nil {
			return nil, err
		}
		h := &YurtHub{NodeName: o.NodeName, Dir: dir, ProxyURL: "http://" + proxy, HealthURL: "http://" + health,
			Kubeconfig: filepath.Join(dir, "hub.kubeconfig"), Process: proc}
		err = waitReady(ctx, proc, s.opts.StartTimeout, func(ctx context.Context) error {
			return checkHTTPHealth(ctx, h.HealthURL+"/readyz")
		})
		if err == nil {
			if err := writeHubKubeconfig(h.Kubeconfig, h.ProxyURL); err != nil {
				return nil, errors.Join(err, proc.Stop(s.opts.StopTimeout))
			}
			s.addComponent(proc, true)
			s.logger.Info("yurthub is ready", "node", o.NodeName, "proxy", h.ProxyURL, "pid", proc.Pid())
			return h, nil
		}
		stopErr := proc.Stop(s.opts.StopTimeout)
		if attempt < startAttempts && errors.Is(err, errExited) && addressInUse(proc.LogFile) {
			continue
		}
		return nil, errors.Join(err, stopErr)
	}
}

// signHubCert signs node's client certificate for the pool's coordinator with the pool CA
// StartCoordinator made, and writes it beside the other hub certificates.
func signHubCert(c *Coordinator, pool, node string) (certFile, keyFile string, err error) {
	files := certs.Files{Dir: c.CertDir}
	ca, err := certs.LoadCA(files.CA())
	if err != nil {
		return "", "", fmt.Errorf("loading the CA of pool %s: %w", pool, err)
	}
	pair, err := ca.SignHub(pool, node, 0)
	if err != nil {
		return "", "", fmt.Errorf("signing the coordinator certificate of node %s: %w", node, err)
	}
	certFile, keyFile = files.Hub(node)
	if err := pair.Write(certFile, keyFile); err != nil {
		return "", "", fmt.Errorf("writing the coordinator certificate of node %s: %w", node, err)
	}
	return certFile, keyFile, nil
}

// writeHubKubeconfig writes a kubeconfig for a hub's proxy: plain HTTP, no credentials (the
// hub adds the node's).
func writeHubKubeconfig(path, proxyURL string) error {
	data := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: yurthub
  cluster:
    server: %s
contexts:
- name: yurthub
  context:
    cluster: yurthub
current-context: yurthub
`, proxyURL)
	return writeFile(path, []byte(data), 0o600)
}
