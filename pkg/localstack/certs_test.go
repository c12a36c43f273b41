package localstack

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestGeneratePKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p, err := GeneratePKI(dir, []string{"10.1.2.3", "hub.example"})
	if err != nil {
		t.Fatal(err)
	}

	verify := func(name string, leaf, ca *CertKey, usage x509.ExtKeyUsage, dnsName string) {
		t.Helper()
		roots := x509.NewCertPool()
		roots.AddCert(ca.Cert)
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: dnsName}); err != nil {
			t.Errorf("%s does not verify against its CA: %v", name, err)
		}
	}
	for _, host := range []string{"localhost", "kubernetes.default.svc", "127.0.0.1", KubernetesServiceIP, "10.1.2.3", "hub.example"} {
		verify("serving cert for "+host, p.Serving, p.CA, x509.ExtKeyUsageServerAuth, host)
	}
	verify("admin cert", p.Admin, p.ClientCA, x509.ExtKeyUsageClientAuth, "")
	verify("front-proxy client cert", p.FrontProxyClient, p.FrontProxyCA, x509.ExtKeyUsageClientAuth, "")

	if got := p.Admin.Cert.Subject; got.CommonName != AdminUser || !slices.Equal(got.Organization, []string{"system:masters"}) {
		t.Errorf("admin subject = %v, want CN=%s O=system:masters", got, AdminUser)
	}
	if got := p.FrontProxyClient.Cert.Subject.CommonName; got != FrontProxyClientName {
		t.Errorf("front-proxy client CN = %q, want %q", got, FrontProxyClientName)
	}
	// The CAs are distinct: a client cert must not verify as a front-proxy cert.
	roots := x509.NewCertPool()
	roots.AddCert(p.FrontProxyCA.Cert)
	if _, err := p.Admin.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("the admin cert verifies against the front-proxy CA")
	}

	for _, ck := range []*CertKey{p.CA, p.Serving, p.ClientCA, p.Admin, p.FrontProxyCA, p.FrontProxyClient} {
		checkMode(t, ck.KeyFile, 0o600)
		checkMode(t, ck.CertFile, 0o644)
	}
	checkMode(t, p.ServiceAccountKeyFile, 0o600)
	checkMode(t, p.ServiceAccountPublicKeyFile, 0o644)

	jane, err := p.NewClientCert("jane", []string{"dev", "ops"})
	if err != nil {
		t.Fatal(err)
	}
	verify("jane's cert", jane, p.ClientCA, x509.ExtKeyUsageClientAuth, "")
	if got := jane.Cert.Subject; got.CommonName != "jane" || !slices.Equal(got.Organization, []string{"dev", "ops"}) {
		t.Errorf("jane's subject = %v", got)
	}
	if _, err := p.NewClientCert("", nil); err == nil {
		t.Error("a client cert without a user was made")
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}
