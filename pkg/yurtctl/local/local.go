// Package local implements `yurtctl local`: a Yurt control plane (etcd, kube-apiserver,
// yurt-apiserver) on loopback for development, run by pkg/localstack.
package local

import (
	"github.com/spf13/cobra"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// pidFileName is the file in the stack's directory that holds the pid of `yurtctl local up`.
const pidFileName = "yurtctl-local.pid"

// NewCommand returns `yurtctl local` with its up and down subcommands.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a local Yurt control plane on loopback",
		Run:   func(cmd *cobra.Command, _ []string) { _ = cmd.Help() },
	}
	cmd.AddCommand(newUpCommand(), newDownCommand(), newCutCommand(false), newCutCommand(true))
	return cmd
}

func newUpCommand() *cobra.Command {
	o := NewUpOptions()
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start etcd, kube-apiserver and yurt-apiserver on loopback and run until interrupted",
		Long: `up starts an embedded etcd, kube-apiserver (from --kube-bin-dir) and yurt-apiserver
(from --bin-dir), registers yurt-apiserver's APIServices, applies the built-in
ResponseFilters (--filters-dir), writes <dir>/kubeconfig and stays in the foreground. With
--controllers (the default) it also runs kube-controller-manager, kube-scheduler, yurt-manager
with every controller, a yurt-coordinator for NodePool pool-a, and --hollow-nodes kubemark
hollow kubelets in pool-a, each talking to the cloud through its own yurthub (--hubs).
Ctrl-C, SIGTERM or 'yurtctl local down' stop everything. Data and logs stay in --dir across runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			if err := o.Complete(); err != nil {
				return err
			}
			if err := utilerrors.NewAggregate(o.Validate()); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func newDownCommand() *cobra.Command {
	o := NewDownOptions()
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the control plane started by 'yurtctl local up'",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			if err := o.Complete(); err != nil {
				return err
			}
			if err := utilerrors.NewAggregate(o.Validate()); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func newCutCommand(heal bool) *cobra.Command {
	o := NewCutOptions(heal)
	cmd := &cobra.Command{
		Use:   "cut NODE",
		Short: "Cut a demo node's hub off the cloud (its pool stays reachable)",
		Long: `cut makes the link between a demo node's yurthub and kube-apiserver drop traffic, as a
failed WAN link would: the hub's requests to the cloud time out while its coordinator and the
other nodes of its pool stay reachable. 'yurtctl local heal NODE' restores it; stopping
'yurtctl local up' forgets it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Out, o.Node = cmd.OutOrStdout(), args[0]
			if err := o.Complete(); err != nil {
				return err
			}
			if err := utilerrors.NewAggregate(o.Validate()); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	if heal {
		cmd.Use, cmd.Short = "heal NODE", "Restore the link between a demo node's hub and the cloud"
		cmd.Long = "heal undoes 'yurtctl local cut NODE'."
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
