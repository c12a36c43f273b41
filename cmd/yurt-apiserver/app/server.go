package app

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

// NewCommand returns the yurt-apiserver command.
func NewCommand(ctx context.Context) (*cobra.Command, error) {
	o, err := NewOptions()
	if err != nil {
		return nil, err
	}
	cmd := &cobra.Command{
		Use:   "yurt-apiserver",
		Short: "Serve apps.openyurt.io and iot.openyurt.io as an aggregated API server",
		Long: `yurt-apiserver serves NodePools, YurtAppSets, YurtAppDaemons, ResponseFilters and the
iot.openyurt.io kinds behind the cluster's kube-apiserver (registered with APIService objects).
It keeps NodePool status in step with the cluster's Nodes itself. Without --etcd-servers it
stores its objects in an embedded etcd under --data-dir.`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := utilerrors.NewAggregate(o.Validate()); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	return cmd, nil
}

// Run starts the embedded etcd if there is one, serves until ctx ends, then stops the server
// before its etcd so no request is cut off from its storage.
func (o *Options) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	// Configuration problems show before the embedded etcd starts; nothing connects to it yet.
	config, err := o.Config()
	if err != nil {
		return err
	}
	if o.embedded {
		cfg, err := o.EmbeddedEtcd.Config()
		if err != nil {
			return err
		}
		// The etcd outlives ctx: it is closed only after the server has stopped.
		etcd, err := embeddedetcd.Start(context.WithoutCancel(ctx), cfg)
		if err != nil {
			return err
		}
		logger.Info("Started embedded etcd", "dataDir", cfg.Dir, "endpoints", etcd.Endpoints())
		defer func() {
			etcd.Close()
			logger.Info("Stopped embedded etcd")
		}()
	}
	server, err := config.Complete().New()
	if err != nil {
		return fmt.Errorf("building the server: %w", err)
	}
	return server.Run(ctx)
}
