// Command etcdmember runs one pkg/embeddedetcd member as its own process, so the coordinator
// benchmark can measure the memory of exactly what yurt-coordinator embeds while bin/yurt-coordinator
// is not available. It runs until SIGTERM/SIGINT.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/yurt-edge/yurt/pkg/embeddedetcd"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "etcdmember:", err)
		os.Exit(1)
	}
}

func run() error {
	o := embeddedetcd.NewOptions("")
	fs := pflag.NewFlagSet("etcdmember", pflag.ContinueOnError)
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Data directory.")
	fs.BoolVar(&o.UnsafeNoFsync, "unsafe-no-fsync", false, "Skip fsync (throwaway data only).")
	o.AddFlags(fs, "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if err := o.Complete(); err != nil {
		return err
	}
	if errs := o.Validate(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := embeddedetcd.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println("ready", srv.Endpoints()[0])
	select {
	case <-ctx.Done():
		return nil
	case err := <-srv.Err():
		return err
	}
}
