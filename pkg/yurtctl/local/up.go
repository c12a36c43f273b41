package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/yurt-edge/yurt/pkg/localstack"
)

// UpOptions are the flags of `yurtctl local up`.
type UpOptions struct {
	// Dir holds the stack's data, logs, kubeconfig and pid file.
	Dir string
	// BinDir holds yurt-apiserver.
	BinDir string
	// KubeBinDir holds kube-apiserver; default <BinDir>/kube.
	KubeBinDir string
	// YurtAPIServerPort is yurt-apiserver's port on 127.0.0.1; 0 picks a free one.
	YurtAPIServerPort int

	// Controllers also starts kube-controller-manager, kube-scheduler, yurt-manager and
	// HollowNodes kubemark nodes in pool pool-a (controllers.go).
	Controllers bool
	HollowNodes int
	// Hubs puts a yurthub, with the pool's yurt-coordinator, between each hollow node and
	// kube-apiserver.
	Hubs bool
	// Apply are manifest files and directories (their *.yaml) applied once the API servers
	// are up, before any node starts: the built-in ResponseFilters and the hubs' RBAC.
	Apply []string

	// Out receives the instructions printed once the stack is up.
	Out io.Writer

	managerAddr string
	coordinator *localstack.Coordinator
	demoNodes   []demoNode
}

// NewUpOptions returns the defaults: _output/local, bin, and port 8443 as in artifacts/local/.
func NewUpOptions() *UpOptions {
	return &UpOptions{
		Dir:               filepath.Join("_output", "local"),
		BinDir:            "bin",
		YurtAPIServerPort: localstack.DefaultYurtAPIServerPort,
		Controllers:       true,
		HollowNodes:       2,
		Hubs:              true,
		Apply:             DefaultApply(),
		Out:               os.Stdout,
	}
}

// AddFlags adds the options to fs.
func (o *UpOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Dir, "dir", o.Dir, "Directory for the stack's data, logs, kubeconfig and pid file; kept across runs.")
	fs.StringVar(&o.BinDir, "bin-dir", o.BinDir, "Directory holding yurt-apiserver (make build).")
	fs.StringVar(&o.KubeBinDir, "kube-bin-dir", o.KubeBinDir, "Directory holding kube-apiserver (make kube-binaries); default <bin-dir>/kube.")
	fs.IntVar(&o.YurtAPIServerPort, "yurt-apiserver-port", o.YurtAPIServerPort, "Port of yurt-apiserver on 127.0.0.1; 0 picks a free one.")
	fs.BoolVar(&o.Controllers, "controllers", o.Controllers, "Also run kube-controller-manager and yurt-manager (every controller), with --hollow-nodes kubemark nodes in pool "+DemoPool+".")
	fs.IntVar(&o.HollowNodes, "hollow-nodes", o.HollowNodes, "Number of kubemark hollow nodes in pool "+DemoPool+" when --controllers is on.")
	fs.BoolVar(&o.Hubs, "hubs", o.Hubs, "Run each hollow node's kubelet through its own yurthub (on loopback, with the pool's yurt-coordinator) instead of straight to kube-apiserver.")
	fs.StringSliceVar(&o.Apply, "apply", o.Apply, "Manifest files and directories (their *.yaml) to apply (server-side) once the API servers are up, before the nodes start; relative to the working directory. Empty applies none.")
}

// DefaultApply are the manifests `yurtctl local up` applies from the repository: the built-in
// ResponseFilters and the RBAC the hubs' node credentials need.
func DefaultApply() []string {
	return []string{
		filepath.Join("artifacts", "filters"),
		filepath.Join("artifacts", "deploy", "20-yurthub-lease-proxy-rbac.yaml"),
		filepath.Join("artifacts", "deploy", "21-yurthub-rbac.yaml"),
	}
}

// Complete makes the directories absolute and fills in the kube binary directory.
func (o *UpOptions) Complete() error {
	if o.KubeBinDir == "" {
		o.KubeBinDir = filepath.Join(o.BinDir, "kube")
	}
	paths := []*string{&o.Dir, &o.BinDir, &o.KubeBinDir}
	for i := range o.Apply {
		paths = append(paths, &o.Apply[i])
	}
	for _, p := range paths {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// Validate reports every problem with the options.
func (o *UpOptions) Validate() []error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, fmt.Errorf("--dir is required"))
	}
	if o.YurtAPIServerPort < 0 || o.YurtAPIServerPort > 65535 {
		errs = append(errs, fmt.Errorf("--yurt-apiserver-port must be between 0 and 65535, got %d", o.YurtAPIServerPort))
	}
	for _, bin := range []string{filepath.Join(o.KubeBinDir, "kube-apiserver"), filepath.Join(o.BinDir, "yurt-apiserver")} {
		if _, err := os.Stat(bin); err != nil {
			errs = append(errs, fmt.Errorf("%s is missing: build it with make build kube-binaries", bin))
		}
	}
	for _, p := range o.Apply {
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, fmt.Errorf("--apply %s: %w (run from the repository's root, or pass --apply= to apply nothing)", p, err))
		}
	}
	return append(errs, o.validateControllers()...)
}

// Run starts the stack, prints how to use it and runs until ctx ends (SIGINT, SIGTERM or
// `yurtctl local down`) or a component fails, then stops everything.
func (o *UpOptions) Run(ctx context.Context) (err error) {
	logger := klog.FromContext(ctx)
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	started := time.Now()
	pidFile := filepath.Join(o.Dir, pidFileName)
	// Written before the start, so `local down` can also stop a start in progress.
	if err := writePIDFile(pidFile); err != nil {
		return err
	}
	defer func() {
		if rmErr := os.Remove(pidFile); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
	}()

	stack, err := localstack.Start(ctx, localstack.Options{
		Dir:               o.Dir,
		BinDir:            o.KubeBinDir,
		YurtBinDir:        o.BinDir,
		YurtAPIServerPort: o.YurtAPIServerPort,
		Logger:            logger,
	})
	if err != nil {
		if ctx.Err() != nil {
			logger.Info("Interrupted while starting; everything started so far is stopped", "err", err)
			return nil
		}
		return err
	}
	defer func() {
		if stopErr := stack.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		// The links go after the hubs using them have stopped.
		for _, n := range o.demoNodes {
			if n.Link != nil {
				_ = n.Link.Close()
			}
		}
		logger.Info("Stopped the local control plane", "dir", o.Dir)
	}()

	kubeconfig := filepath.Join(o.Dir, "kubeconfig")
	data, err := os.ReadFile(stack.AdminKubeconfig)
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", kubeconfig, err)
	}
	if err := o.start(ctx, stack); err != nil {
		if ctx.Err() != nil {
			logger.Info("Interrupted while starting; everything started so far is stopped", "err", err)
			return nil
		}
		return err
	}
	o.printNextSteps(stack, kubeconfig)
	o.printControllers()
	if o.coordinator != nil {
		c := o.coordinator
		fmt.Fprintf(o.Out, "yurt-coordinator (%s, mTLS): %s  health %s\n  --coordinator-endpoints=%s --coordinator-ca-file=%s (hub certificates in %s)\n\n",
			c.Pool, c.Endpoints[0], c.HealthURL, c.Endpoints[0], c.CAFile, c.CertDir)
	}
	links := map[string]*localstack.CloudLink{}
	for _, n := range o.demoNodes {
		if n.Link != nil {
			links[n.Name] = n.Link
		}
	}
	// Also with no links: it clears the cut requests of an earlier run.
	w, err := newLinkWatcher(o.Dir, links)
	if err != nil {
		return err
	}
	go w.run(ctx)
	fmt.Fprintf(o.Out, "Started in %s.\n", time.Since(started).Round(time.Second))

	select {
	case <-ctx.Done():
		logger.Info("Stopping the local control plane")
		return nil
	case err := <-stack.Failed():
		return fmt.Errorf("the local control plane failed: %w", err)
	}
}

// start brings up everything beyond the API servers: the built-in filters, the controllers,
// the pool's coordinator and the demo pool.
func (o *UpOptions) start(ctx context.Context, stack *localstack.Stack) error {
	logger := klog.FromContext(ctx)
	for _, p := range o.Apply {
		applied, err := applyManifests(ctx, stack.RESTConfig(), p)
		if err != nil {
			return fmt.Errorf("applying %s: %w", p, err)
		}
		logger.Info("Applied manifests", "path", p, "objects", applied)
	}
	if err := o.startControllers(ctx, stack); err != nil {
		return err
	}
	// A coordinator for the demo pool, with mutual TLS: required when hubs use it, otherwise
	// started when the binary is built.
	bin := filepath.Join(o.BinDir, "yurt-coordinator")
	if _, statErr := os.Stat(bin); statErr == nil {
		coord, err := stack.StartCoordinator(ctx, DemoPool)
		if err != nil {
			return fmt.Errorf("starting the yurt-coordinator of %s: %w", DemoPool, err)
		}
		o.coordinator = coord
	} else {
		logger.Info("Not starting a yurt-coordinator: binary not built (make build)", "path", bin)
	}
	return o.startDemoPool(ctx, stack, o.coordinator)
}

func (o *UpOptions) printNextSteps(stack *localstack.Stack, kubeconfig string) {
	fmt.Fprintf(o.Out, `
Yurt's local control plane is running:
  kube-apiserver  %s
  yurt-apiserver  %s
  logs            %s
Stop it with Ctrl-C, or from another shell: make local-down (yurtctl local down --dir %s).

Use kubectl with its kubeconfig (admin, system:masters), from another shell:
  export KUBECONFIG=%s
  kubectl get apiservices | grep openyurt
  kubectl get nodes -L apps.openyurt.io/nodepool
  kubectl get np -o wide
  kubectl get responsefilters          # the built-in filters, applied at start
  kubectl apply -f artifacts/examples/
  kubectl explain nodepool.spec

`, stack.KubeAPIServerURL, stack.YurtAPIServerURL, filepath.Join(stack.Dir, "logs"), o.Dir, kubeconfig)
}
