package localstack

import (
	"crypto/x509"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
)

// TestSignHubCert signs a node's coordinator certificate with the pool CA StartCoordinator
// leaves in its cert directory: CN node, O pool, client auth, chaining to that CA.
func TestSignHubCert(t *testing.T) {
	dir := t.TempDir()
	files := certs.Files{Dir: dir}
	ca, err := certs.NewCA("pool-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey := files.CA()
	if err := ca.Write(caCert, caKey); err != nil {
		t.Fatal(err)
	}
	c := &Coordinator{Pool: "pool-a", CAFile: caCert, CertDir: dir}
	certFile, keyFile, err := signHubCert(c, "pool-a", "pool-a-node-1")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := files.Hub("pool-a-node-1"); certFile != want {
		t.Errorf("certificate written to %s, want %s", certFile, want)
	}
	pair, err := certs.LoadPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if pair.Cert.Subject.CommonName != "pool-a-node-1" || !slices.Equal(pair.Cert.Subject.Organization, []string{"pool-a"}) {
		t.Errorf("subject = %v, want CN pool-a-node-1, O pool-a", pair.Cert.Subject)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := pair.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the hub certificate does not verify as a client of the pool CA: %v", err)
	}

	if _, _, err := signHubCert(&Coordinator{CertDir: t.TempDir()}, "pool-a", "n"); err == nil {
		t.Error("signing without a pool CA succeeded")
	}
}

func TestWriteHubKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.kubeconfig")
	if err := writeHubKubeconfig(path, "http://127.0.0.1:41234"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "http://127.0.0.1:41234" {
		t.Errorf("host = %q", cfg.Host)
	}
	if cfg.CertData != nil || cfg.CertFile != "" || cfg.BearerToken != "" || cfg.Username != "" {
		t.Error("the hub kubeconfig carries credentials; the hub adds the node's own")
	}
}
