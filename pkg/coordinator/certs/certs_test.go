package certs

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSignAndVerify(t *testing.T) {
	dir := t.TempDir()
	files := Files{Dir: dir}
	ca, err := NewCA("pool-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey := files.CA()
	if err := ca.Write(caCert, caKey); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(caCert, caKey)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(loaded.Cert)

	member, err := loaded.SignMember("pool-a", MemberRequest{Name: "m1", Hosts: []string{"127.0.0.1", "localhost", "coord.pool-a"}})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := loaded.SignHub("pool-a", "node-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA("pool-b", 0)
	stranger, _ := other.SignHub("pool-b", "node-x", 0)

	tests := []struct {
		name    string
		cert    *x509.Certificate
		usage   x509.ExtKeyUsage
		dns     string
		wantErr bool
	}{
		{"member as server by IP", member.Cert, x509.ExtKeyUsageServerAuth, "127.0.0.1", false},
		{"member as server by name", member.Cert, x509.ExtKeyUsageServerAuth, "coord.pool-a", false},
		{"member as peer client", member.Cert, x509.ExtKeyUsageClientAuth, "", false},
		{"member wrong name", member.Cert, x509.ExtKeyUsageServerAuth, "elsewhere", true},
		{"hub as client", hub.Cert, x509.ExtKeyUsageClientAuth, "", false},
		{"hub cannot serve", hub.Cert, x509.ExtKeyUsageServerAuth, "", true},
		{"other CA's hub", stranger.Cert, x509.ExtKeyUsageClientAuth, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tc.usage}, DNSName: tc.dns})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Verify err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if hub.Cert.Subject.CommonName != "node-1" || !slices.Equal(hub.Cert.Subject.Organization, []string{"pool-a"}) {
		t.Errorf("hub subject = %v, want CN=node-1 O=pool-a", hub.Cert.Subject)
	}

	hubCert, hubKey := files.Hub("node-1")
	if err := hub.Write(hubCert, hubKey); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{caKey, hubKey} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", filepath.Base(f), st.Mode().Perm())
		}
	}
	if _, err := LoadPair(hubCert, hubKey); err != nil {
		t.Errorf("LoadPair: %v", err)
	}
	if _, err := LoadCA(hubCert, hubKey); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("LoadCA of a leaf: err = %v, want 'not a CA'", err)
	}
}

func TestBadInput(t *testing.T) {
	ca, err := NewCA("p", 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		fn   func() error
		want string
	}{
		{"CA without pool", func() error { _, err := NewCA("", 0); return err }, "pool"},
		{"member without name", func() error { _, err := ca.SignMember("p", MemberRequest{Hosts: []string{"a"}}); return err }, "name"},
		{"member without hosts", func() error { _, err := ca.SignMember("p", MemberRequest{Name: "m"}); return err }, "hosts"},
		{"member empty host", func() error { _, err := ca.SignMember("p", MemberRequest{Name: "m", Hosts: []string{""}}); return err }, "hosts"},
		{"hub without node", func() error { _, err := ca.SignHub("p", "", 0); return err }, "node"},
		{"hub without pool", func() error { _, err := ca.SignHub("", "n", 0); return err }, "pool"},
		{"missing files", func() error { _, err := LoadPair("/nonexistent/a.crt", "/nonexistent/a.key"); return err }, "reading"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fn()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
