package coordinator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestOptionsValidate(t *testing.T) {
	valid := func() *Options {
		o := NewOptions()
		o.Endpoints, o.Pool, o.Identity = []string{"http://127.0.0.1:2379"}, "pool-a", "node-1"
		return o
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		want   string // substring of the error; "" = valid
	}{
		{"loopback http", func(*Options) {}, ""},
		{"localhost http", func(o *Options) { o.Endpoints = []string{"http://localhost:2379"} }, ""},
		{"https with CA", func(o *Options) {
			o.Endpoints, o.CAFile, o.CertFile, o.KeyFile = []string{"https://10.0.0.1:2379"}, "ca.crt", "hub.crt", "hub.key"
		}, ""},
		{"no endpoints", func(o *Options) { o.Endpoints = nil }, "at least one endpoint"},
		{"remote http", func(o *Options) { o.Endpoints = []string{"http://10.0.0.1:2379"} }, "non-loopback"},
		{"bad scheme", func(o *Options) { o.Endpoints = []string{"ftp://127.0.0.1:1"} }, "scheme"},
		{"not a URL", func(o *Options) { o.Endpoints = []string{"127.0.0.1:2379"} }, "not a URL"},
		{"https without CA", func(o *Options) { o.Endpoints = []string{"https://10.0.0.1:2379"} }, "coordinator-ca-file"},
		{"cert without key", func(o *Options) { o.CertFile = "hub.crt" }, "given together"},
		{"zero timeout", func(o *Options) { o.DialTimeout = 0 }, "dial-timeout"},
		{"bad pool", func(o *Options) { o.Pool = "Pool/A" }, "pool name"},
		{"no identity", func(o *Options) { o.Identity = "" }, "identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.mutate(o)
			errs := o.Validate()
			if tc.want == "" {
				if len(errs) != 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Fatalf("errors %v do not mention %q", errs, tc.want)
		})
	}
}

func TestFlags(t *testing.T) {
	o := NewOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--coordinator-endpoints=https://a:2379,https://b:2379", "--coordinator-ca-file=ca.crt",
		"--coordinator-cert-file=c.crt", "--coordinator-key-file=c.key", "--coordinator-dial-timeout=3s"}); err != nil {
		t.Fatal(err)
	}
	if len(o.Endpoints) != 2 || o.CAFile != "ca.crt" || o.CertFile != "c.crt" || o.KeyFile != "c.key" || o.DialTimeout != 3*time.Second || !o.Enabled() {
		t.Errorf("parsed %+v", o)
	}
}

func TestTLSConfigErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"missing CA", Options{CAFile: filepath.Join(dir, "missing.crt")}, "missing.crt"},
		{"CA not PEM", Options{CAFile: notPEM}, "ca.crt"},
		{"missing cert", Options{CertFile: filepath.Join(dir, "hub.crt"), KeyFile: filepath.Join(dir, "hub.key")}, "hub.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.o.TLSConfig()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not name %s", err, tc.want)
			}
		})
	}
	if cfg, err := (&Options{}).TLSConfig(); cfg != nil || err != nil {
		t.Errorf("no TLS files: %v %v", cfg, err)
	}
}

func TestNewDoesNotWaitForTheCoordinator(t *testing.T) {
	o := NewOptions()
	// Nothing listens on port 1; the client must still be created (a hub starts while its
	// coordinator is down), and Ping must fail clearly.
	o.Endpoints, o.Pool, o.Identity, o.DialTimeout = []string{"http://127.0.0.1:1"}, "pool-a", "node-1", time.Second
	c, err := New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Ping of a dead coordinator: %v", err)
	}
	o.Pool = ""
	if _, err := New(o, nil); err == nil {
		t.Error("New accepted invalid options")
	}
}
