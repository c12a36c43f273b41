package hub

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/yurt-edge/yurt/pkg/localstack"
	"github.com/yurt-edge/yurt/test/e2e/framework"
)

// TestBootstrapToken: a hub given only a bootstrap token obtains the node's client certificate
// (a CSR approved and signed by the real kube-controller-manager), keeps it in --cert-dir, and
// proxies with it.
func TestBootstrapToken(t *testing.T) {
	stack := framework.Stack(t)
	ctx := context.Background()
	client := framework.Clients(t).Kube

	kcm := framework.RepoPath(t, "bin", "kube", "kube-controller-manager")
	if _, err := os.Stat(kcm); err != nil {
		t.Fatalf("%s is missing (build it with make kube-binaries)", kcm)
	}
	proc, err := localstack.StartProcess("kube-controller-manager", kcm, []string{
		"--kubeconfig=" + stack.AdminKubeconfig,
		"--controllers=csrsigning,csrapproving",
		"--cluster-signing-cert-file=" + stack.PKI.ClientCA.CertFile,
		"--cluster-signing-key-file=" + stack.PKI.ClientCA.KeyFile,
		"--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
	}, stack.LogFile("kube-controller-manager"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Stop(10 * time.Second) })

	const id, secret = "yhe2e1", "0123456789abcdef"
	tokenSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: "kube-system"},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true",
			"expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		},
	}
	if _, err := client.CoreV1().Secrets("kube-system").Create(ctx, tokenSecret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Secrets("kube-system").Delete(context.Background(), tokenSecret.Name, metav1.DeleteOptions{})
	})
	// What kubeadm sets up for kubelet's TLS bootstrap: bootstrappers may create node CSRs,
	// which kube-controller-manager then approves.
	for name, role := range map[string]string{
		"yurthub-e2e-bootstrap":   "system:node-bootstrapper",
		"yurthub-e2e-autoapprove": "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
	} {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:bootstrappers"}},
		}
		if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}

	n := framework.NewEdgeNode(t, "edge-bootstrap", framework.EdgeNodeOptions{})
	certDir := filepath.Join(n.Dir, "pki")
	n.StartHubWith("--bootstrap-token="+id+"."+secret, "--cert-dir="+certDir)

	data, err := os.ReadFile(filepath.Join(certDir, "yurthub-client.crt"))
	if err != nil {
		t.Fatalf("no certificate in --cert-dir: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("the certificate file holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:node:edge-bootstrap" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" {
		t.Fatalf("certificate subject %v", cert.Subject)
	}
	// The hub acts as the node: it can read the node's own Node object through the proxy.
	if _, err := n.HubClient("kubelet/e2e", true).CoreV1().Nodes().Get(ctx, "edge-bootstrap", metav1.GetOptions{}); err != nil {
		t.Fatalf("get of the node through the bootstrapped hub: %v", err)
	}
	// A restart reuses the certificate instead of asking again.
	n.StopHub()
	n.StartHubWith("--bootstrap-token="+id+"."+secret, "--cert-dir="+certDir)
	again, err := os.ReadFile(filepath.Join(certDir, "yurthub-client.crt"))
	if err != nil || string(again) != string(data) {
		t.Fatalf("the certificate changed across a restart (%v)", err)
	}
}
