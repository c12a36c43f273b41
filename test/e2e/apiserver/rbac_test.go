package apiserver

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	yurtclient "github.com/yurt-edge/yurt/generated/clientset/versioned"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestRBAC checks that a user without permissions is refused (403) for get, list and create,
// by kube-apiserver and by yurt-apiserver itself (which authorizes through a
// SubjectAccessReview with the identity the front proxy asserts), and that a ClusterRole
// bound to the user opens exactly the granted verbs.
func TestRBAC(t *testing.T) {
	const user = "jane"
	c := framework.Clients(t)
	ctx := context.Background()
	kubeconfig := framework.UserKubeconfig(t, user, nil)
	pool := uniqueName("rbac")
	manifest := `apiVersion: apps.openyurt.io/v1beta2
kind: NodePool
metadata: {name: ` + pool + `}
spec: {type: Edge}
`
	// One pool exists, so that get has something to refuse.
	kubectlStdinOK(t, manifest, "create", "-f", "-")
	t.Cleanup(func() { _, _ = framework.Kubectl(t, "delete", "np", pool, "--ignore-not-found") })

	forbidden := func(err error, verb string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s as %s without RBAC succeeded", verb, user)
			return
		}
		if !strings.Contains(err.Error(), "Forbidden") && !strings.Contains(err.Error(), "forbidden") ||
			!strings.Contains(err.Error(), `User "`+user+`" cannot `+verb) {
			t.Errorf("%s as %s without RBAC: %v, want Forbidden naming the user and verb", verb, user, err)
		}
	}
	_, err := framework.KubectlAs(t, kubeconfig, "get", "np", pool)
	forbidden(err, "get")
	_, err = framework.KubectlAs(t, kubeconfig, "get", "np")
	forbidden(err, "list")
	_, err = framework.KubectlAs(t, kubeconfig, "get", "devices", "-n", "default")
	forbidden(err, "list")
	denied := strings.Replace(manifest, pool, pool+"-jane", 1)
	_, err = runKubectlAsStdin(t, kubeconfig, denied, "create", "-f", "-")
	forbidden(err, "create")

	// Straight to yurt-apiserver, as the front proxy speaking for jane: our server's own
	// delegated authorization refuses.
	direct := frontProxyClient(t, user)
	_, err = direct.AppsV1beta2().NodePools().Get(ctx, pool, metav1.GetOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("get from yurt-apiserver directly as %s: %v, want 403 Forbidden", user, err)
	}
	_, err = direct.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("list from yurt-apiserver directly as %s: %v, want 403 Forbidden", user, err)
	}
	_, err = direct.AppsV1beta2().NodePools().Create(ctx, &appsv1beta2.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: pool + "-direct"}, Spec: appsv1beta2.NodePoolSpec{Type: appsv1beta2.Edge},
	}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("create in yurt-apiserver directly as %s: %v, want 403 Forbidden", user, err)
	}
	// Without the front proxy's client certificate the X-Remote-User header means nothing.
	anonymous := directConfig(t, user)
	anonymous.CertData, anonymous.KeyData = nil, nil
	anonClient, err := yurtclient.NewForConfig(anonymous)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anonClient.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
		t.Errorf("list from yurt-apiserver without a client certificate: %v, want 401 or 403", err)
	}

	// Grant get, list and create (not delete) on nodepools.
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + pool},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"apps.openyurt.io"}, Resources: []string{"nodepools"}, Verbs: []string{"get", "list", "create"},
		}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if _, err := c.Kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	if _, err := c.Kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})

	// yurt-apiserver caches denials for a few seconds, so wait for the grant to reach it.
	framework.WaitFor(t, 60*time.Second, func() (bool, error) {
		_, err := direct.AppsV1beta2().NodePools().Get(ctx, pool, metav1.GetOptions{})
		return err == nil, err
	})
	out, err := framework.KubectlAs(t, kubeconfig, "get", "np", pool, "-o", "name")
	if err != nil || strings.TrimSpace(out) != "nodepool.apps.openyurt.io/"+pool {
		t.Errorf("get as %s after the grant: %q, %v", user, out, err)
	}
	if out, err := framework.KubectlAs(t, kubeconfig, "get", "np", "-o", "name"); err != nil || !strings.Contains(out, pool) {
		t.Errorf("list as %s after the grant: %q, %v", user, out, err)
	}
	if _, err := runKubectlAsStdin(t, kubeconfig, denied, "create", "-f", "-"); err != nil {
		t.Errorf("create as %s after the grant: %v", user, err)
	}
	t.Cleanup(func() { _, _ = framework.Kubectl(t, "delete", "np", pool+"-jane", "--ignore-not-found") })
	// Verbs the role does not grant stay refused, at both servers.
	_, err = framework.KubectlAs(t, kubeconfig, "delete", "np", pool)
	forbidden(err, "delete")
	if err := direct.AppsV1beta2().NodePools().Delete(ctx, pool, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("delete in yurt-apiserver directly as %s with no delete grant: %v, want 403", user, err)
	}
	_, err = framework.KubectlAs(t, kubeconfig, "get", "devices", "-n", "default")
	forbidden(err, "list")
}

// runKubectlAsStdin runs kubectl with a user's kubeconfig and a manifest; the framework has
// no stdin for other users, so the manifest goes through a file, replacing "-f -".
func runKubectlAsStdin(t testing.TB, kubeconfig, manifest string, args ...string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	args = slices.Clone(args)
	for i := range args {
		if args[i] == "-" && i > 0 && args[i-1] == "-f" {
			args[i] = path
		}
	}
	return framework.KubectlAs(t, kubeconfig, args...)
}

// directConfig is a client configuration for yurt-apiserver's own port, presenting
// kube-apiserver's front-proxy client certificate and asserting user in X-Remote-User, as
// the aggregator does. The server's certificate is self-signed for loopback.
func directConfig(t testing.TB, user string) *rest.Config {
	t.Helper()
	s := framework.Stack(t)
	cfg := &rest.Config{
		Host: s.YurtAPIServerURL,
		TLSClientConfig: rest.TLSClientConfig{
			Insecure: true,
			CertData: s.PKI.FrontProxyClient.CertPEM,
			KeyData:  s.PKI.FrontProxyClient.KeyPEM,
		},
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			req = req.Clone(req.Context())
			req.Header.Set("X-Remote-User", user)
			req.Header.Set("X-Remote-Group", "system:authenticated")
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

// frontProxyClient is a clientset on directConfig.
func frontProxyClient(t testing.TB, user string) yurtclient.Interface {
	t.Helper()
	client, err := yurtclient.NewForConfig(directConfig(t, user))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
