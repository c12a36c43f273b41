package options

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// LeaseProxyUser is the user name (certificate CN) the lease-proxy credentials are expected
// to carry, as in OpenYurt; artifacts/deploy grants it get/update on Leases in kube-node-lease.
const LeaseProxyUser = "openyurt:yurt-coordinator:node-lease-proxy-client"

func (o *Options) addLeaseProxyFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.LeaseProxyClientCertificate, "lease-proxy-client-certificate", o.LeaseProxyClientCertificate,
		"Client certificate (PEM, user "+LeaseProxyUser+") with which this hub, as pool leader, renews in the cloud the Leases of pool nodes that cannot reach it. Needs --coordinator-endpoints.")
	fs.StringVar(&o.LeaseProxyClientKey, "lease-proxy-client-key", o.LeaseProxyClientKey, "The key of --lease-proxy-client-certificate (PEM).")
	fs.StringVar(&o.LeaseProxyKubeconfig, "lease-proxy-kubeconfig", o.LeaseProxyKubeconfig,
		"A kubeconfig whose credentials are used instead of --lease-proxy-client-certificate/--lease-proxy-client-key (its server is ignored: the healthy --server-addr is used).")
}

// LeaseProxyEnabled reports whether lease-proxy credentials are configured.
func (o *Options) LeaseProxyEnabled() bool {
	return o.LeaseProxyClientCertificate != "" || o.LeaseProxyKubeconfig != ""
}

func (o *Options) validateLeaseProxy() []error {
	var errs []error
	certGiven := o.LeaseProxyClientCertificate != "" || o.LeaseProxyClientKey != ""
	if certGiven && (o.LeaseProxyClientCertificate == "" || o.LeaseProxyClientKey == "") {
		errs = append(errs, errors.New("--lease-proxy-client-certificate and --lease-proxy-client-key must be given together"))
	}
	if certGiven && o.LeaseProxyKubeconfig != "" {
		errs = append(errs, errors.New("give only one of --lease-proxy-client-certificate/--lease-proxy-client-key and --lease-proxy-kubeconfig"))
	}
	if (certGiven || o.LeaseProxyKubeconfig != "") && (o.Coordinator == nil || !o.Coordinator.Enabled()) {
		errs = append(errs, errors.New("--lease-proxy-* credentials need --coordinator-endpoints: only a pool leader renews other nodes' Leases"))
	}
	errs = append(errs, checkFile("--lease-proxy-client-certificate", o.LeaseProxyClientCertificate)...)
	errs = append(errs, checkFile("--lease-proxy-client-key", o.LeaseProxyClientKey)...)
	errs = append(errs, checkFile("--lease-proxy-kubeconfig", o.LeaseProxyKubeconfig)...)
	return errs
}

// LeaseProxyRESTConfig returns the lease-proxy credentials for server, trusting
// --certificate-authority; nil when none are configured.
func (o *Options) LeaseProxyRESTConfig(server string) (*rest.Config, error) {
	var cfg *rest.Config
	switch {
	case o.LeaseProxyKubeconfig != "":
		c, err := clientcmd.BuildConfigFromFlags(server, o.LeaseProxyKubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--lease-proxy-kubeconfig %s: %w", o.LeaseProxyKubeconfig, err)
		}
		cfg = c
	case o.LeaseProxyClientCertificate != "":
		cfg = &rest.Config{Host: server}
		cfg.CertFile, cfg.KeyFile = o.LeaseProxyClientCertificate, o.LeaseProxyClientKey
	default:
		return nil, nil
	}
	if o.CertificateAuthority != "" {
		cfg.CAFile, cfg.CAData = o.CertificateAuthority, nil
	}
	return cfg, nil
}
