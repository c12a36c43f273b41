package localstack

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Certificate lifetimes. The PKI is made afresh at every start, so they only need to outlive
// one run of the stack.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so a slightly slow clock in a child process still accepts the cert.
	clockSkew = time.Hour
)

// KubernetesServiceIP is the first address of the stack's --service-cluster-ip-range, the
// ClusterIP of the default/kubernetes Service, and a SAN of the kube-apiserver serving cert.
const KubernetesServiceIP = "10.0.0.1"

// CertKey is a certificate with its private key, in memory and, once written, on disk.
type CertKey struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
	// CertFile and KeyFile are where the pair was written; empty for pairs kept in memory.
	CertFile string
	KeyFile  string
}

// PKI is every credential of a local stack, made in Go when the stack starts:
//   - CA signs kube-apiserver's serving certificate;
//   - ClientCA signs client certificates (kube-apiserver's --client-ca-file): Admin, and
//     any user made with NewClientCert;
//   - FrontProxyCA signs FrontProxyClient, the certificate kube-apiserver presents to
//     aggregated API servers (--requestheader-client-ca-file / --proxy-client-cert-file);
//   - a service-account RSA key pair.
//
// Keys are written with mode 0600, certificates with 0644, all under Dir.
type PKI struct {
	Dir string

	CA               *CertKey
	Serving          *CertKey
	ClientCA         *CertKey
	Admin            *CertKey
	FrontProxyCA     *CertKey
	FrontProxyClient *CertKey

	// ServiceAccountKeyFile is the PEM RSA private key that signs service-account tokens;
	// ServiceAccountPublicKeyFile verifies them.
	ServiceAccountKeyFile       string
	ServiceAccountPublicKeyFile string
}

// Names in the stack's PKI.
const (
	// AdminUser is the common name of the admin client certificate; its group is system:masters.
	AdminUser = "yurt-admin"
	// FrontProxyClientName is the common name of kube-apiserver's proxy client certificate
	// and the only name in --requestheader-allowed-names.
	FrontProxyClientName = "front-proxy-client"
)

// GeneratePKI makes a new PKI and writes it to dir. extraSANs (DNS names or IP addresses) are
// added to kube-apiserver's serving certificate, e.g. an address reachable from a network
// namespace.
func GeneratePKI(dir string, extraSANs []string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the PKI directory: %w", err)
	}
	p := &PKI{Dir: dir}
	var err error
	if p.CA, err = newCA("yurt-local-ca"); err != nil {
		return nil, err
	}
	dnsNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(KubernetesServiceIP)}
	for _, san := range extraSANs {
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, san)
		}
	}
	if p.Serving, err = p.CA.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dnsNames,
		IPAddresses: ips,
	}); err != nil {
		return nil, fmt.Errorf("signing the kube-apiserver serving certificate: %w", err)
	}
	if p.ClientCA, err = newCA("yurt-local-client-ca"); err != nil {
		return nil, err
	}
	if p.Admin, err = p.NewClientCert(AdminUser, []string{"system:masters"}); err != nil {
		return nil, err
	}
	if p.FrontProxyCA, err = newCA("yurt-local-front-proxy-ca"); err != nil {
		return nil, err
	}
	if p.FrontProxyClient, err = p.FrontProxyCA.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: FrontProxyClientName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, fmt.Errorf("signing the front-proxy client certificate: %w", err)
	}

	for name, ck := range map[string]*CertKey{
		"ca": p.CA, "apiserver": p.Serving, "client-ca": p.ClientCA, "admin": p.Admin,
		"front-proxy-ca": p.FrontProxyCA, "front-proxy-client": p.FrontProxyClient,
	} {
		if err := ck.Write(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")); err != nil {
			return nil, err
		}
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating the service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the service-account public key: %w", err)
	}
	p.ServiceAccountKeyFile = filepath.Join(dir, "sa.key")
	p.ServiceAccountPublicKeyFile = filepath.Join(dir, "sa.pub")
	if err := writeFile(p.ServiceAccountKeyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(p.ServiceAccountPublicKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// NewClientCert returns a client certificate for user with the given groups (the
// certificate's organizations), signed by the client CA, so kube-apiserver authenticates
// it. The pair is kept in memory; Write puts it on disk.
func (p *PKI) NewClientCert(user string, groups []string) (*CertKey, error) {
	if user == "" {
		return nil, fmt.Errorf("a client certificate needs a user name")
	}
	ck, err := p.ClientCA.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("signing a client certificate for %q: %w", user, err)
	}
	return ck, nil
}

// Write writes the certificate (0644) and its key (0600) and records the paths.
func (ck *CertKey) Write(certFile, keyFile string) error {
	if err := writeFile(certFile, ck.CertPEM, 0o644); err != nil {
		return err
	}
	if err := writeFile(keyFile, ck.KeyPEM, 0o600); err != nil {
		return err
	}
	ck.CertFile, ck.KeyFile = certFile, keyFile
	return nil
}

func newCA(commonName string) (*CertKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the key of %s: %w", commonName, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", commonName, err)
	}
	return newCertKey(der, key)
}

// sign issues a leaf certificate from tmpl (subject, key usages and SANs) with a new key.
func (ca *CertKey) sign(tmpl *x509.Certificate) (*CertKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.SerialNumber = newSerial()
	tmpl.NotBefore = now.Add(-clockSkew)
	tmpl.NotAfter = now.Add(leafValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	return newCertKey(der, key)
}

func newCertKey(der []byte, key *ecdsa.PrivateKey) (*CertKey, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &CertKey{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func newSerial() *big.Int {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return serial
}

// writeFile writes data with mode perm, also when the file exists with a wider mode.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	return nil
}
