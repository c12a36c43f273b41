// Command yurt-manager runs Yurt's controllers (NodePool attributes, edge autonomy,
// delegated-heartbeat taints, per-pool workloads, DaemonSet upgrades) against the cloud
// kube-apiserver, with Lease-based leader election and /healthz, /readyz, /livez and
// /metrics on 127.0.0.1:10272.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/manager"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	o := manager.NewOptions()
	logOpts := logs.NewOptions()
	cmd := &cobra.Command{
		Use:          "yurt-manager",
		Short:        "Yurt's controllers: NodePool attributes, edge autonomy, delegated heartbeats, per-pool workloads",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logsapi.ValidateAndApply(logOpts, nil); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			if errs := o.Validate(); len(errs) > 0 {
				return fmt.Errorf("invalid options:\n%w", errors.Join(errs...))
			}
			cfg, err := o.Config()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx = klog.NewContext(ctx, klog.Background().WithName("yurt-manager"))
			return cfg.Run(ctx)
		},
	}
	o.AddFlags(cmd.Flags())
	logsapi.AddFlags(logOpts, cmd.Flags())
	return cmd
}
