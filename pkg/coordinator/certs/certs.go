// Package certs makes the certificates of a node pool's yurt-coordinator: a pool CA, member
// certificates (serving clients and peers, and dialling peers) and hub client certificates
// (CN = node name, O = pool). Keys are ECDSA P-256, written with mode 0600.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Default lifetimes.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so a member with a slightly slow clock accepts a fresh cert.
	clockSkew = time.Hour
)

// Pair is a certificate with its key.
type Pair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertPEM and KeyPEM encode the pair.
func (p *Pair) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
}

// KeyPEM encodes the private key as PKCS#8.
func (p *Pair) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return nil, fmt.Errorf("encoding the private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Write writes the certificate (0644) and key (0600), creating directories (0700).
func (p *Pair) Write(certFile, keyFile string) error {
	keyPEM, err := p.KeyPEM()
	if err != nil {
		return err
	}
	for _, f := range []string{certFile, keyFile} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			return fmt.Errorf("creating the directory of %s: %w", f, err)
		}
	}
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(certFile, p.CertPEM(), 0o644)
}

// writeFile writes through a temp file so a crash never leaves half a key, and forces the
// mode even when the file existed with a wider one.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// NewCA makes a self-signed pool CA named "yurt-coordinator-ca-<pool>".
func NewCA(pool string, validity time.Duration) (*Pair, error) {
	if pool == "" {
		return nil, errors.New("pool: a pool name is required for the CA")
	}
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "yurt-coordinator-ca-" + pool, Organization: []string{pool}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signing the CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: cert, Key: key}, nil
}

// LoadCA reads a CA written by Pair.Write.
func LoadCA(certFile, keyFile string) (*Pair, error) {
	p, err := LoadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if !p.Cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate", certFile)
	}
	return p, nil
}

// LoadPair reads a PEM certificate and its PEM private key (PKCS#8, EC or PKCS#1).
func LoadPair(certFile, keyFile string) (*Pair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading the key: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("%s: no PEM block", keyFile)
	}
	var key any
	switch kb.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	default:
		return nil, fmt.Errorf("%s: unsupported PEM block %q", keyFile, kb.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key cannot sign", keyFile)
	}
	return &Pair{Cert: cert, Key: signer}, nil
}

// MemberRequest describes a coordinator member's certificate.
type MemberRequest struct {
	// Name is the member name (CN).
	Name string
	// Hosts are the IP addresses and DNS names clients and peers reach the member by.
	Hosts []string
	// Validity defaults to DefaultLeafValidity.
	Validity time.Duration
}

// SignMember signs a member certificate: server auth (clients and peers dial it) and client
// auth (it dials peers with the same certificate), with the hosts as SANs.
func (ca *Pair) SignMember(pool string, r MemberRequest) (*Pair, error) {
	if r.Name == "" {
		return nil, errors.New("name: a member name is required")
	}
	if len(r.Hosts) == 0 {
		return nil, errors.New("hosts: at least one IP address or DNS name is required for a member certificate")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: r.Name, Organization: []string{pool}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range r.Hosts {
		if h == "" {
			return nil, errors.New("hosts: empty host name")
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.sign(tmpl, r.Validity)
}

// SignHub signs a hub's client certificate: CN = node name, O = pool, client auth only.
func (ca *Pair) SignHub(pool, node string, validity time.Duration) (*Pair, error) {
	if node == "" {
		return nil, errors.New("node: a node name is required for a hub certificate")
	}
	if pool == "" {
		return nil, errors.New("pool: a pool name is required for a hub certificate")
	}
	return ca.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: node, Organization: []string{pool}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, validity)
}

func (ca *Pair) sign(tmpl *x509.Certificate, validity time.Duration) (*Pair, error) {
	if validity <= 0 {
		validity = DefaultLeafValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.NotBefore = now.Add(-clockSkew)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("signing %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: cert, Key: key}, nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// Files are the conventional file names in a pool's certificate directory.
type Files struct{ Dir string }

// CA, Member and Hub paths: ca.crt/ca.key, member-<name>.crt/.key, hub-<node>.crt/.key.
func (f Files) CA() (cert, key string) {
	return filepath.Join(f.Dir, "ca.crt"), filepath.Join(f.Dir, "ca.key")
}

// Member returns a member's certificate and key paths.
func (f Files) Member(name string) (cert, key string) {
	return filepath.Join(f.Dir, "member-"+name+".crt"), filepath.Join(f.Dir, "member-"+name+".key")
}

// Hub returns a hub's certificate and key paths.
func (f Files) Hub(node string) (cert, key string) {
	return filepath.Join(f.Dir, "hub-"+node+".crt"), filepath.Join(f.Dir, "hub-"+node+".key")
}
