package lease

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
)

// writeHub writes a hub certificate of ca for node in pool and returns a Prover with it.
func writeHub(t *testing.T, ca *certs.Pair, pool, node string) *Prover {
	t.Helper()
	hub, err := ca.SignHub(pool, node, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, k := filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	if err := hub.Write(c, k); err != nil {
		t.Fatal(err)
	}
	p, err := NewProver(pool, c, k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDelegationProof(t *testing.T) {
	ca, err := certs.NewCA("pool-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := certs.NewCA("pool-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := ca.Write(caFile, filepath.Join(filepath.Dir(caFile), "ca.key")); err != nil {
		t.Fatal(err)
	}
	v, err := NewProofVerifier("pool-a", caFile)
	if err != nil {
		t.Fatal(err)
	}
	renew := metav1.NewMicroTime(time.Date(2026, 12, 1, 12, 0, 0, 123456000, time.UTC))
	leaseOf := func(node string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node}, Spec: coordinationv1.LeaseSpec{RenewTime: &renew}}
	}
	signed := func(p *Prover, node string) *coordinationv1.Lease {
		l := leaseOf(node)
		if err := p.prove(l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	own := writeHub(t, ca, "pool-a", "node-1")
	for _, tc := range []struct {
		name  string
		lease func() *coordinationv1.Lease
		want  string // "" verifies
	}{
		{"signed by the node's own hub", func() *coordinationv1.Lease { return signed(own, "node-1") }, ""},
		{"no proof", func() *coordinationv1.Lease { return leaseOf("node-1") }, "no delegation proof"},
		{"another node's hub signs for node-1", func() *coordinationv1.Lease {
			return signed(writeHub(t, ca, "pool-a", "node-2"), "node-1")
		}, `issued to node "node-2"`},
		{"a hub of another pool", func() *coordinationv1.Lease {
			return signed(writeHub(t, ca, "pool-b", "node-1"), "node-1")
		}, "of pool(s) [pool-b]"},
		{"a certificate of another CA", func() *coordinationv1.Lease {
			return signed(writeHub(t, other, "pool-a", "node-1"), "node-1")
		}, "not one of the pool CA"},
		{"renewTime moved after signing (a replay made fresh)", func() *coordinationv1.Lease {
			l := signed(own, "node-1")
			later := metav1.NewMicroTime(renew.Add(10 * time.Second))
			l.Spec.RenewTime = &later
			return l
		}, "does not match"},
		{"another node's valid proof copied onto node-1", func() *coordinationv1.Lease {
			l := leaseOf("node-1")
			l.Annotations = signed(writeHub(t, ca, "pool-a", "node-2"), "node-2").Annotations
			return l
		}, `issued to node "node-2"`},
		{"garbage signature", func() *coordinationv1.Lease {
			l := signed(own, "node-1")
			l.Annotations[ProofSignatureAnnotation] = "%%%"
			return l
		}, ProofSignatureAnnotation},
		{"garbage certificate", func() *coordinationv1.Lease {
			l := signed(own, "node-1")
			l.Annotations[ProofCertificateAnnotation] = "AAAA"
			return l
		}, ProofCertificateAnnotation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Verify(tc.lease())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Verify: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := NewProofVerifier("pool-a", filepath.Join(t.TempDir(), "missing.crt")); err == nil || !strings.Contains(err.Error(), "pool CA") {
		t.Errorf("a missing CA file: %v", err)
	}
}
