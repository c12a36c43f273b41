// Package app is the yurt-apiserver command: its options and how it runs.
package app

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	basecompatibility "k8s.io/component-base/compatibility"
	baseversion "k8s.io/component-base/version"
	netutils "k8s.io/utils/net"

	yurtopenapi "github.com/yurt-edge/yurt/generated/openapi"
	"github.com/yurt-edge/yurt/pkg/apiserver"
	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

// etcdPrefix is where Yurt's objects live in etcd.
const etcdPrefix = "/registry/openyurt.io"

// Options are yurt-apiserver's flags.
type Options struct {
	Recommended *genericoptions.RecommendedOptions
	// DataDir holds the embedded etcd's data when no --etcd-servers are given.
	DataDir string
	// EmbeddedEtcd configures the embedded etcd.
	EmbeddedEtcd *embeddedetcd.Options
	// AlternateDNS are extra names for the self-signed serving certificate.
	AlternateDNS []string

	componentGlobals basecompatibility.ComponentGlobalsRegistry
	scheme           *runtime.Scheme
	codecs           serializer.CodecFactory
	embedded         bool
}

// NewOptions returns the default options.
func NewOptions() (*Options, error) {
	scheme, codecs, err := apiserver.NewScheme()
	if err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	versioner := apiserver.NewStorageVersioner()
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		return nil, fmt.Errorf("no JSON serializer")
	}
	storageCodec := codecs.CodecForVersions(info.Serializer, codecs.UniversalDecoder(), versioner, runtime.InternalGroupVersioner)
	recommended := genericoptions.NewRecommendedOptions(etcdPrefix, storageCodec)
	recommended.Etcd.StorageConfig.EncodeVersioner = versioner
	recommended.SecureServing.BindPort = 8443
	recommended.SecureServing.ServerCert.PairName = "yurt-apiserver"

	registry := basecompatibility.NewComponentGlobalsRegistry()
	if err := registry.Register(basecompatibility.DefaultKubeComponent,
		basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", ""),
		utilfeature.DefaultMutableFeatureGate); err != nil {
		return nil, fmt.Errorf("registering the component version: %w", err)
	}
	return &Options{
		Recommended:      recommended,
		DataDir:          "/var/lib/yurt-apiserver",
		EmbeddedEtcd:     embeddedetcd.NewOptions(""),
		AlternateDNS:     []string{"yurt-apiserver.yurt-system.svc", "yurt-apiserver.yurt-system.svc.cluster.local"},
		componentGlobals: registry,
		scheme:           scheme,
		codecs:           codecs,
	}, nil
}

// AddFlags adds the options to a flag set.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Recommended.AddFlags(fs)
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir,
		"Directory of the embedded etcd that stores Yurt's objects when --etcd-servers is empty.")
	fs.StringSliceVar(&o.AlternateDNS, "alternate-dns", o.AlternateDNS,
		"Extra DNS names for the self-signed serving certificate made when no --tls-cert-file is given.")
	o.EmbeddedEtcd.AddFlags(fs, "embedded-etcd-")
	o.componentGlobals.AddFlags(fs)
}

// Complete fills in what the flags leave open: without --etcd-servers, an embedded etcd in
// --data-dir on a free loopback port becomes the storage.
func (o *Options) Complete() error {
	if err := o.componentGlobals.Set(); err != nil {
		return err
	}
	o.embedded = len(o.Recommended.Etcd.StorageConfig.Transport.ServerList) == 0
	if !o.embedded {
		return nil
	}
	o.EmbeddedEtcd.DataDir = filepath.Join(o.DataDir, "etcd")
	if err := o.EmbeddedEtcd.Complete(); err != nil {
		return fmt.Errorf("configuring the embedded etcd: %w", err)
	}
	o.Recommended.Etcd.StorageConfig.Transport.ServerList = o.EmbeddedEtcd.ListenClientURLs
	return nil
}

// Validate reports every problem with the options.
func (o *Options) Validate() []error {
	errs := o.Recommended.Validate()
	errs = append(errs, o.componentGlobals.Validate()...)
	if o.embedded {
		if o.DataDir == "" {
			errs = append(errs, fmt.Errorf("--data-dir is required when --etcd-servers is empty"))
		}
		errs = append(errs, o.EmbeddedEtcd.Validate()...)
	}
	return errs
}

// Config builds the server's configuration.
func (o *Options) Config() (*apiserver.Config, error) {
	if err := o.Recommended.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", o.AlternateDNS,
		[]net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating a self-signed serving certificate: %w", err)
	}
	cfg := genericapiserver.NewRecommendedConfig(o.codecs)
	namer := openapi.NewDefinitionNamer(o.scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(yurtopenapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIConfig.Info.Title = "Yurt"
	cfg.OpenAPIConfig.Info.Version = baseversion.Get().GitVersion
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(yurtopenapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title = "Yurt"
	cfg.OpenAPIV3Config.Info.Version = baseversion.Get().GitVersion
	cfg.FeatureGate = o.componentGlobals.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	cfg.EffectiveVersion = o.componentGlobals.EffectiveVersionFor(basecompatibility.DefaultKubeComponent)
	if err := o.Recommended.ApplyTo(cfg); err != nil {
		return nil, fmt.Errorf("applying the options: %w", err)
	}
	if cfg.SharedInformerFactory == nil {
		return nil, fmt.Errorf("no connection to the cluster's kube-apiserver: set --kubeconfig or run in a cluster")
	}
	return &apiserver.Config{
		GenericConfig: cfg,
		Scheme:        o.scheme,
		Codecs:        o.codecs,
		KubeInformers: cfg.SharedInformerFactory,
	}, nil
}
