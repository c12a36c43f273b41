package lease

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
)

// A delegation proof binds a delegated Lease to the hub of its node. The coordinator lets any
// hub holding a certificate of the pool CA write any key of the pool, so without a proof one
// node's hub could mark another node delegated and have the leader keep a dead node Ready. The
// hub signs the pool, the node and the Lease's renewTime with the key of its coordinator client
// certificate (CommonName the node, Organization the pool, signed by the pool CA) and attaches
// the signature and the certificate; the leader renews a delegated Lease in the cloud only if
// the proof verifies. A replayed proof carries an old renewTime, which the leader never copies
// over a newer one and refuses once older than the Lease's duration.
const (
	// ProofSignatureAnnotation holds the base64 signature of the delegation.
	ProofSignatureAnnotation = "coordinator.yurt.io/delegation-signature"
	// ProofCertificateAnnotation holds the base64 DER certificate whose key signed it.
	ProofCertificateAnnotation = "coordinator.yurt.io/delegation-certificate"
)

// proofMessage is what a delegation proof signs. The renewTime is written at microseconds, the
// precision a Lease keeps in JSON, so the proof survives any encoding of the Lease.
func proofMessage(pool string, l *coordinationv1.Lease) ([]byte, error) {
	if l.Spec.RenewTime == nil {
		return nil, errors.New("the Lease has no spec.renewTime")
	}
	return []byte(fmt.Sprintf("yurt delegated heartbeat v1\npool=%s\nnode=%s\nrenewTime=%s\n",
		pool, l.Name, l.Spec.RenewTime.UTC().Format(metav1.RFC3339Micro))), nil
}

// Prover signs the delegated Leases of one hub.
type Prover struct {
	pool string
	pair *certs.Pair
}

// NewProver loads the hub's coordinator client certificate and key.
func NewProver(pool, certFile, keyFile string) (*Prover, error) {
	pair, err := certs.LoadPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the certificate that signs delegated Leases: %w", err)
	}
	return &Prover{pool: pool, pair: pair}, nil
}

// prove sets the proof annotations of l (a copy the caller owns).
func (p *Prover) prove(l *coordinationv1.Lease) error {
	msg, err := proofMessage(p.pool, l)
	if err != nil {
		return err
	}
	var sig []byte
	switch p.pair.Key.(type) {
	case ed25519.PrivateKey:
		sig, err = p.pair.Key.Sign(rand.Reader, msg, crypto.Hash(0))
	default:
		digest := sha256.Sum256(msg)
		sig, err = p.pair.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	}
	if err != nil {
		return fmt.Errorf("signing the delegation of node %s: %w", l.Name, err)
	}
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[ProofSignatureAnnotation] = base64.StdEncoding.EncodeToString(sig)
	l.Annotations[ProofCertificateAnnotation] = base64.StdEncoding.EncodeToString(p.pair.Cert.Raw)
	return nil
}

// ProofVerifier checks delegation proofs against the pool CA.
type ProofVerifier struct {
	pool  string
	roots *x509.CertPool
	// Now is the clock certificates are checked at (default time.Now).
	Now func() time.Time
}

// NewProofVerifier loads the pool CA (PEM) that signs the hubs' coordinator certificates.
func NewProofVerifier(pool, caFile string) (*ProofVerifier, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the pool CA that delegation proofs are checked against: %w", err)
	}
	roots, n := x509.NewCertPool(), 0
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", caFile, err)
		}
		roots.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", caFile)
	}
	return &ProofVerifier{pool: pool, roots: roots}, nil
}

// Verify checks that l carries a proof signed by the key of a certificate of the pool CA issued
// to l's node in this pool, over l's renewTime.
func (v *ProofVerifier) Verify(l *coordinationv1.Lease) error {
	sigText, certText := l.Annotations[ProofSignatureAnnotation], l.Annotations[ProofCertificateAnnotation]
	if sigText == "" || certText == "" {
		return errors.New("no delegation proof (" + ProofSignatureAnnotation + ")")
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		return fmt.Errorf("%s: %w", ProofSignatureAnnotation, err)
	}
	der, err := base64.StdEncoding.DecodeString(certText)
	if err != nil {
		return fmt.Errorf("%s: %w", ProofCertificateAnnotation, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("%s: %w", ProofCertificateAnnotation, err)
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: v.roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("the proof's certificate is not one of the pool CA: %w", err)
	}
	if cert.Subject.CommonName != l.Name || !slices.Contains(cert.Subject.Organization, v.pool) {
		return fmt.Errorf("the proof's certificate is issued to node %q of pool(s) %v, not to node %q of pool %q",
			cert.Subject.CommonName, cert.Subject.Organization, l.Name, v.pool)
	}
	msg, err := proofMessage(v.pool, l)
	if err != nil {
		return err
	}
	var algo x509.SignatureAlgorithm
	switch cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		algo = x509.ECDSAWithSHA256
	case *rsa.PublicKey:
		algo = x509.SHA256WithRSA
	case ed25519.PublicKey:
		algo = x509.PureEd25519
	default:
		return fmt.Errorf("the proof's certificate has an unsupported %T key", cert.PublicKey)
	}
	if err := cert.CheckSignature(algo, msg, sig); err != nil {
		return fmt.Errorf("the delegation proof does not match the Lease (forged, or a renewTime changed after signing): %w", err)
	}
	return nil
}
