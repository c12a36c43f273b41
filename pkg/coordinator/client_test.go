package coordinator_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/yurt-edge/yurt/pkg/coordinator"
	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

// pki writes a CA and certificates it signs into dir.
type pki struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, dir, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{dir: dir, cert: cert, key: key}
	writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
	return p
}

// issue signs a certificate for name and returns its cert and key paths.
func (p *pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage, serial int64) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMutualTLS runs a member that requires client certificates of the pool CA, and connects
// with the options a hub would use.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	poolCA := newCA(t, dir, "pool-ca")
	otherCA := newCA(t, dir, "other-ca")
	serverCert, serverKey := poolCA.issue(t, "member", x509.ExtKeyUsageServerAuth, 2)
	hubCert, hubKey := poolCA.issue(t, "hub", x509.ExtKeyUsageClientAuth, 3)
	strangerCert, strangerKey := otherCA.issue(t, "stranger", x509.ExtKeyUsageClientAuth, 4)
	caFile := filepath.Join(dir, "pool-ca.crt")

	o := embeddedetcd.NewOptions(filepath.Join(dir, "etcd"))
	o.ListenClientURLs = []string{"https://127.0.0.1:0"}
	o.UnsafeNoFsync, o.LogLevel = true, "error"
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientTLSInfo = transport.TLSInfo{CertFile: serverCert, KeyFile: serverKey, TrustedCAFile: caFile, ClientCertAuth: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := embeddedetcd.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	for _, tc := range []struct {
		name              string
		certFile, keyFile string
		caFile            string
		refusal           string // "" = accepted; else part of Ping's error
	}{
		{"hub certificate of the pool CA", hubCert, hubKey, caFile, ""},
		{"no client certificate", "", "", caFile, "certificate required"},
		// Go's client offers a certificate only if the server's accepted CAs issued it.
		{"certificate of another CA", strangerCert, strangerKey, caFile, "certificate required"},
		{"member not signed by the CA the hub trusts", hubCert, hubKey, filepath.Join(dir, "other-ca.crt"), "unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			co := coordinator.NewOptions()
			co.Endpoints, co.Pool, co.Identity = srv.Endpoints(), "pool-a", "hub"
			co.CAFile, co.CertFile, co.KeyFile, co.DialTimeout = tc.caFile, tc.certFile, tc.keyFile, 2*time.Second
			c, err := coordinator.New(co, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
			defer pcancel()
			err = c.Ping(pctx)
			if tc.refusal == "" && err != nil {
				t.Fatalf("Ping with a pool certificate: %v", err)
			}
			if tc.refusal != "" {
				if err == nil {
					t.Fatal("the connection was accepted")
				}
				if !strings.Contains(err.Error(), tc.refusal) {
					t.Errorf("error %q does not say %q", err, tc.refusal)
				}
				return
			}
			if _, err := c.Etcd.Put(pctx, coordinator.PoolPrefix("pool-a")+"probe", "x"); err != nil {
				t.Errorf("write over mTLS: %v", err)
			}
		})
	}
}
