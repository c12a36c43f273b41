package framework

import (
	"path/filepath"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
)

// Clientsets are admin (system:masters) clients of the shared stack's kube-apiserver.
type Clientsets struct {
	Config     *rest.Config
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
	Yurt       yurtclient.Interface
	Aggregator aggregatorclient.Interface
}

// Clients returns admin clients of the shared stack.
func Clients(t testing.TB) *Clientsets {
	t.Helper()
	return ClientsFor(t, Stack(t).RESTConfig())
}

// ClientsFor returns clients built from cfg, e.g. a user's from RESTConfigFor.
func ClientsFor(t testing.TB, cfg *rest.Config) *Clientsets {
	t.Helper()
	c := &Clientsets{Config: rest.CopyConfig(cfg)}
	var err error
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.Yurt, err = yurtclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.Aggregator, err = aggregatorclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

// UserKubeconfig writes a kubeconfig for user in groups (a new client certificate from the
// stack's client CA) to a temporary file and returns its path. The user has no RBAC
// permissions beyond what the groups carry, e.g. UserKubeconfig(t, "jane", nil) is
// authenticated but may do next to nothing.
func UserKubeconfig(t testing.TB, user string, groups []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := Stack(t).WriteUserKubeconfig(path, user, groups); err != nil {
		t.Fatal(err)
	}
	return path
}

// RESTConfigFor returns a client configuration for user in groups, for typed clients as that user.
func RESTConfigFor(t testing.TB, user string, groups []string) *rest.Config {
	t.Helper()
	s := Stack(t)
	ck, err := s.PKI.NewClientCert(user, groups)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.RESTConfig()
	cfg.CertData, cfg.KeyData = ck.CertPEM, ck.KeyPEM
	return cfg
}
