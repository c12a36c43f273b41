// Package yurtctl is the yurtctl command: the operator's CLI for Yurt.
package yurtctl

import (
	"github.com/spf13/cobra"

	"github.com/yurt-edge/yurt/pkg/yurtctl/filter"
	"github.com/yurt-edge/yurt/pkg/yurtctl/local"
)

// NewCommand returns the yurtctl root command with every subcommand.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "yurtctl",
		Short: "Operate Yurt: a local control plane, nodes, pools and filters",
		// A bare yurtctl prints its help.
		Run: func(cmd *cobra.Command, _ []string) { _ = cmd.Help() },
	}
	cmd.AddCommand(local.NewCommand())
	cmd.AddCommand(filter.NewCommand())
	return cmd
}
