// Command yurthub is the per-node proxy between local components (kubelet, kube-proxy,
// coredns…) and the cloud kube-apiserver, with an on-disk cache that keeps them working while
// the cloud is unreachable.
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

	"github.com/yurt-edge/yurt/pkg/hub/memory"
	"github.com/yurt-edge/yurt/pkg/hub/options"
	"github.com/yurt-edge/yurt/pkg/hub/server"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	o := options.NewOptions()
	mem := memory.NewOptions()
	logOpts := logs.NewOptions()
	cmd := &cobra.Command{
		Use:          "yurthub",
		Short:        "Node proxy with an offline cache between local components and the cloud kube-apiserver",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logsapi.ValidateAndApply(logOpts, nil); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			if err := mem.Complete(); err != nil {
				return err
			}
			if errs := append(o.Validate(), mem.Validate()...); len(errs) > 0 {
				return fmt.Errorf("invalid options:\n%w", errors.Join(errs...))
			}
			cfg, err := server.NewConfig(o)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := klog.Background().WithName("yurthub")
			mem.Apply(logger, os.Getenv)
			ctx = klog.NewContext(ctx, logger)
			cfg.Started = func(context.Context) { mem.ReleaseStartup(logger.WithName("memory")) }
			return cfg.Run(ctx)
		},
	}
	o.AddFlags(cmd.Flags())
	mem.AddFlags(cmd.Flags())
	logsapi.AddFlags(logOpts, cmd.Flags())
	return cmd
}
