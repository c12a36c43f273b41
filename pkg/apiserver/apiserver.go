// Package apiserver assembles yurt-apiserver: the generic API server with the
// apps.openyurt.io and iot.openyurt.io groups installed on their storage.
package apiserver

import (
	"context"
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/informers"

	appsapi "github.com/yurt-edge/yurt/apis/apps"
	appsv1alpha1 "github.com/yurt-edge/yurt/apis/apps/v1alpha1"
	appsv1beta1 "github.com/yurt-edge/yurt/apis/apps/v1beta1"
	appsv1beta2 "github.com/yurt-edge/yurt/apis/apps/v1beta2"
	iotapi "github.com/yurt-edge/yurt/apis/iot"
	iotv1alpha1 "github.com/yurt-edge/yurt/apis/iot/v1alpha1"
	appsregistry "github.com/yurt-edge/yurt/pkg/registry/apps"
	"github.com/yurt-edge/yurt/pkg/registry/apps/nodepool"
	iotregistry "github.com/yurt-edge/yurt/pkg/registry/iot"
	"github.com/yurt-edge/yurt/pkg/registry/resource"
)

// Config is the generic server's configuration plus what Yurt adds.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	Scheme        *runtime.Scheme
	Codecs        serializer.CodecFactory
	// KubeInformers watch the cluster's kube-apiserver (Nodes, for NodePool status).
	KubeInformers informers.SharedInformerFactory
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	Scheme        *runtime.Scheme
	Codecs        serializer.CodecFactory
	KubeInformers informers.SharedInformerFactory
}

// CompletedConfig can only be made by Complete, so New always gets a completed config.
type CompletedConfig struct {
	*completedConfig
}

// Server is a yurt-apiserver ready to run.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in the generic server's defaults.
func (c *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{
		GenericConfig: c.GenericConfig.Complete(),
		Scheme:        c.Scheme,
		Codecs:        c.Codecs,
		KubeInformers: c.KubeInformers,
	}}
}

// New builds the server and installs its API groups.
func (c CompletedConfig) New() (*Server, error) {
	generic, err := c.GenericConfig.New("yurt-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("creating the generic API server: %w", err)
	}
	s := &Server{GenericAPIServer: generic}

	optsGetter := c.GenericConfig.RESTOptionsGetter
	nodes := c.KubeInformers.Core().V1().Nodes()
	appsVersions := []schema.GroupVersion{appsv1beta2.SchemeGroupVersion, appsv1beta1.SchemeGroupVersion, appsv1alpha1.SchemeGroupVersion}
	pools, err := nodepool.NewStorage(c.Scheme, optsGetter, []schema.GroupVersion{appsv1beta2.SchemeGroupVersion, appsv1beta1.SchemeGroupVersion}, nodes.Lister())
	if err != nil {
		return nil, err
	}
	syncer, err := pools.NewStatusSyncer(nodes)
	if err != nil {
		return nil, err
	}
	appSets, err := appsregistry.NewYurtAppSetStorage(c.Scheme, optsGetter, appsVersions)
	if err != nil {
		return nil, err
	}
	appDaemons, err := appsregistry.NewYurtAppDaemonStorage(c.Scheme, optsGetter, appsVersions)
	if err != nil {
		return nil, err
	}
	filters, err := appsregistry.NewResponseFilterStorage(c.Scheme, optsGetter, appsVersions)
	if err != nil {
		return nil, err
	}
	poolStorage := map[string]rest.Storage{"nodepools": pools.NodePool, "nodepools/status": pools.Status}
	appsGroup := genericapiserver.NewDefaultAPIGroupInfo(appsapi.GroupName, c.Scheme, metav1.ParameterCodec, c.Codecs)
	appsGroup.VersionedResourcesStorageMap = map[string]map[string]rest.Storage{
		appsv1beta2.SchemeGroupVersion.Version: poolStorage,
		appsv1beta1.SchemeGroupVersion.Version: withStatus(poolStorage, map[string]*resource.Storage{"yurtappsets": appSets}),
		appsv1alpha1.SchemeGroupVersion.Version: withStatus(nil, map[string]*resource.Storage{
			"yurtappdaemons": appDaemons, "responsefilters": filters,
		}),
	}
	if err := generic.InstallAPIGroup(&appsGroup); err != nil {
		return nil, fmt.Errorf("installing %s: %w", appsapi.GroupName, err)
	}

	iotGroup, err := c.iotGroup(optsGetter)
	if err != nil {
		return nil, err
	}
	if err := generic.InstallAPIGroup(iotGroup); err != nil {
		return nil, fmt.Errorf("installing %s: %w", iotapi.GroupName, err)
	}

	generic.AddPostStartHookOrDie("start-yurt-informers", func(ctx genericapiserver.PostStartHookContext) error {
		c.KubeInformers.Start(ctx.Done())
		go syncer.Run(ctx, 2)
		return nil
	})
	// Until Nodes are listed, pool statuses and delete checks would be wrong.
	if err := generic.AddReadyzChecks(healthz.NamedCheck("nodepool-status-informer-sync", func(*http.Request) error {
		if !syncer.HasSynced() {
			return fmt.Errorf("the node informer has not synced yet")
		}
		return nil
	})); err != nil {
		return nil, err
	}
	return s, nil
}

func (c CompletedConfig) iotGroup(optsGetter generic.RESTOptionsGetter) (*genericapiserver.APIGroupInfo, error) {
	versions := []schema.GroupVersion{iotv1alpha1.SchemeGroupVersion}
	storages := map[string]*resource.Storage{}
	for name, build := range map[string]func(*runtime.Scheme, generic.RESTOptionsGetter, []schema.GroupVersion) (*resource.Storage, error){
		"devices":        iotregistry.NewDeviceStorage,
		"deviceservices": iotregistry.NewDeviceServiceStorage,
		"deviceprofiles": iotregistry.NewDeviceProfileStorage,
		"platformadmins": iotregistry.NewPlatformAdminStorage,
	} {
		s, err := build(c.Scheme, optsGetter, versions)
		if err != nil {
			return nil, err
		}
		storages[name] = s
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(iotapi.GroupName, c.Scheme, metav1.ParameterCodec, c.Codecs)
	group.VersionedResourcesStorageMap = map[string]map[string]rest.Storage{
		iotv1alpha1.SchemeGroupVersion.Version: withStatus(nil, storages),
	}
	return &group, nil
}

// withStatus adds each resource and its status subresource to a version's storage map.
func withStatus(base map[string]rest.Storage, storages map[string]*resource.Storage) map[string]rest.Storage {
	out := map[string]rest.Storage{}
	for k, v := range base {
		out[k] = v
	}
	for name, s := range storages {
		out[name] = s.REST
		out[name+"/status"] = s.Status
	}
	return out
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	return s.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
