// Command yurt-coordinator runs one member of a node pool's coordinator (an embedded etcd with
// mutual TLS and bounded storage), makes the pool's certificates (certs) and saves or restores
// snapshots (snapshot).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/coordinator/certs"
	"github.com/yurt-edge/yurt/pkg/coordinator/server"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	o := server.NewOptions()
	logOpts := logs.NewOptions()
	cmd := &cobra.Command{
		Use:          "yurt-coordinator",
		Short:        "One member of a node pool's coordinator: embedded etcd with mutual TLS and bounded storage",
		SilenceUsage: true,
		Args:         cobra.NoArgs,
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
			ctx = klog.NewContext(ctx, klog.Background().WithName("yurt-coordinator"))
			return cfg.Run(ctx)
		},
	}
	o.AddFlags(cmd.Flags())
	logsapi.AddFlags(logOpts, cmd.Flags())
	cmd.AddCommand(certsCommand(), snapshotCommand())
	return cmd
}

func certsCommand() *cobra.Command {
	var dir, pool string
	var validity time.Duration
	cmd := &cobra.Command{Use: "certs", Short: "Create a pool CA and sign member and hub certificates (keys 0600)"}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "Certificate directory: ca.crt/ca.key, member-<name>.crt/.key, hub-<node>.crt/.key (required).")
	cmd.PersistentFlags().StringVar(&pool, "pool", "", "Node pool (required).")
	cmd.PersistentFlags().DurationVar(&validity, "validity", 0, "Certificate lifetime (default 10 years for the CA, 1 year for leaves).")
	check := func() error {
		if dir == "" {
			return fmt.Errorf("--dir: required")
		}
		if pool == "" {
			return fmt.Errorf("--pool: required")
		}
		return nil
	}
	loadCA := func() (*certs.Pair, error) {
		c, k := certs.Files{Dir: dir}.CA()
		ca, err := certs.LoadCA(c, k)
		if err != nil {
			return nil, fmt.Errorf("loading the pool CA from --dir %s (run 'certs ca' first): %w", dir, err)
		}
		return ca, nil
	}
	ca := &cobra.Command{Use: "ca", Short: "Create the pool CA", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		if err := check(); err != nil {
			return err
		}
		c, k := certs.Files{Dir: dir}.CA()
		if _, err := os.Stat(k); err == nil {
			return fmt.Errorf("%s exists; refusing to replace the pool CA (every member and hub certificate would stop working)", k)
		}
		p, err := certs.NewCA(pool, validity)
		if err != nil {
			return err
		}
		if err := p.Write(c, k); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), c)
		return nil
	}}
	var name string
	var hosts []string
	member := &cobra.Command{Use: "member", Short: "Sign a member certificate (server+client auth) for --name with --hosts as SANs", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		if err := check(); err != nil {
			return err
		}
		ca, err := loadCA()
		if err != nil {
			return err
		}
		p, err := ca.SignMember(pool, certs.MemberRequest{Name: name, Hosts: hosts, Validity: validity})
		if err != nil {
			return err
		}
		c, k := certs.Files{Dir: dir}.Member(name)
		if err := p.Write(c, k); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), c)
		return nil
	}}
	member.Flags().StringVar(&name, "name", "", "Member name.")
	member.Flags().StringSliceVar(&hosts, "hosts", nil, "IP addresses and DNS names of the member.")
	var node string
	hub := &cobra.Command{Use: "hub", Short: "Sign a hub client certificate (CN=node, O=pool)", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		if err := check(); err != nil {
			return err
		}
		ca, err := loadCA()
		if err != nil {
			return err
		}
		p, err := ca.SignHub(pool, node, validity)
		if err != nil {
			return err
		}
		c, k := certs.Files{Dir: dir}.Hub(node)
		if err := p.Write(c, k); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), c)
		return nil
	}}
	hub.Flags().StringVar(&node, "node", "", "Node name of the hub.")
	cmd.AddCommand(ca, member, hub)
	return cmd
}

func snapshotCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "snapshot", Short: "Save a member's snapshot, or restore a member's data directory from one"}
	var endpoints []string
	var cert, key, ca, out string
	save := &cobra.Command{Use: "save", Short: "Save a snapshot of a member to --out", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
		defer cancel()
		v, err := server.SaveSnapshot(ctx, endpoints, cert, key, ca, out)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "saved %s (etcd %s)\n", out, v)
		return nil
	}}
	save.Flags().StringSliceVar(&endpoints, "endpoints", nil, "Client URL of the member to snapshot.")
	save.Flags().StringVar(&cert, "cert-file", "", "Client certificate signed by the pool CA.")
	save.Flags().StringVar(&key, "key-file", "", "Key of --cert-file.")
	save.Flags().StringVar(&ca, "trusted-ca-file", "", "Pool CA.")
	save.Flags().StringVar(&out, "out", "", "Snapshot file to write.")
	var dataDir, name, initialCluster, token string
	var peerURLs []string
	restore := &cobra.Command{Use: "restore FILE", Short: "Make a new member data directory from a snapshot", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		if err := server.RestoreSnapshot(args[0], dataDir, name, initialCluster, token, peerURLs); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s; start the member with --data-dir %s --initial-cluster-state new\n", args[0], dataDir, dataDir)
		return nil
	}}
	restore.Flags().StringVar(&dataDir, "data-dir", "", "New data directory (must not exist).")
	restore.Flags().StringVar(&name, "name", "default", "Member name.")
	restore.Flags().StringVar(&initialCluster, "initial-cluster", "", "name=peerURL,... of the restored cluster; default: this member alone.")
	restore.Flags().StringVar(&token, "initial-cluster-token", "", "Cluster token of the restored cluster (use yurt-coordinator-<pool>).")
	restore.Flags().StringSliceVar(&peerURLs, "initial-advertise-peer-urls", []string{server.DefaultPeerURL}, "This member's peer URLs.")
	cmd.AddCommand(save, restore)
	return cmd
}
