package localstack

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfigContext names the cluster and context in every kubeconfig the stack writes.
const kubeconfigContext = "yurt-local"

// WriteKubeconfig writes a self-contained kubeconfig (certificates embedded, mode 0600) for
// server, trusting caPEM and authenticating as user with a client certificate.
func WriteKubeconfig(path, server string, caPEM []byte, user string, certPEM, keyPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[kubeconfigContext] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[kubeconfigContext] = &clientcmdapi.Context{Cluster: kubeconfigContext, AuthInfo: user}
	cfg.CurrentContext = kubeconfigContext
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding the kubeconfig for %s: %w", user, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFile(path, data, 0o600)
}

// WriteUserKubeconfig writes to path a kubeconfig for the stack's kube-apiserver that
// authenticates as user in groups, with a new client certificate signed by the stack's
// client CA. The user gets no RBAC permissions beyond what the groups carry; tests use it
// for a caller who is authenticated but not authorized.
func (s *Stack) WriteUserKubeconfig(path, user string, groups []string) error {
	ck, err := s.PKI.NewClientCert(user, groups)
	if err != nil {
		return err
	}
	return WriteKubeconfig(path, s.KubeAPIServerURL, s.PKI.CA.CertPEM, user, ck.CertPEM, ck.KeyPEM)
}
