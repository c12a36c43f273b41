// Package certificate obtains the node's client certificate for the cloud from a bootstrap
// token (TLS bootstrapping, as kubelet does) and keeps it in the hub's own directory.
package certificate

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/klog/v2"
)

// Files returns where the certificate and key for node are kept under dir.
func Files(dir string) (certFile, keyFile string) {
	return filepath.Join(dir, "yurthub-client.crt"), filepath.Join(dir, "yurthub-client.key")
}

// Bootstrap returns the certificate and key files in dir, first requesting a node client
// certificate (CN system:node:<node>, O system:nodes) with the bootstrap token when they do
// not exist yet. It waits until the CSR is approved and signed, or ctx ends.
func Bootstrap(ctx context.Context, server, caFile, token, node, dir string) (certFile, keyFile string, err error) {
	certFile, keyFile = Files(dir)
	if _, err := os.Stat(certFile); err == nil {
		if _, err := os.Stat(keyFile); err == nil {
			return certFile, keyFile, nil
		}
	}
	logger := klog.FromContext(ctx)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("creating --cert-dir %s: %w", dir, err)
	}
	keyPEM, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return "", "", fmt.Errorf("generating the node key: %w", err)
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return "", "", err
	}
	csrPEM, err := certutil.MakeCSR(key, &pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}, nil, nil)
	if err != nil {
		return "", "", fmt.Errorf("making the certificate request: %w", err)
	}
	client, err := kubernetes.NewForConfig(&rest.Config{
		Host: server, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}, UserAgent: "yurthub-bootstrap",
	})
	if err != nil {
		return "", "", err
	}
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	name, uid, err := csr.RequestCertificateWithContext(ctx, client, csrPEM, "", certificatesv1.KubeAPIServerClientKubeletSignerName, nil, usages, key)
	if err != nil {
		return "", "", fmt.Errorf("requesting a node certificate with the bootstrap token: %w", err)
	}
	logger.Info("Waiting for the node certificate request to be approved and signed", "csr", name)
	certPEM, err := csr.WaitForCertificate(ctx, client, name, uid)
	if err != nil {
		return "", "", fmt.Errorf("waiting for certificate request %s: %w", name, err)
	}
	// Key first: a certificate without its key would look complete to the check above.
	if err := keyutil.WriteKey(keyFile, keyPEM); err != nil {
		return "", "", fmt.Errorf("writing %s: %w", keyFile, err)
	}
	if err := certutil.WriteCert(certFile, certPEM); err != nil {
		return "", "", errors.Join(fmt.Errorf("writing %s: %w", certFile, err), os.Remove(keyFile))
	}
	logger.Info("Obtained the node client certificate", "file", certFile)
	return certFile, keyFile, nil
}
