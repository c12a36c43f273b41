package manager

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options are yurt-manager's flags.
type Options struct {
	// Kubeconfig reaches the cloud kube-apiserver; empty means in-cluster configuration.
	Kubeconfig string
	// Controllers says which controllers run, as kube-controller-manager's --controllers:
	// '*' all enabled by default, 'name' enables one, '-name' disables one.
	Controllers []string
	// Workers is the number of workers of every controller; ControllerWorkers overrides it per controller.
	Workers           int
	ControllerWorkers map[string]string
	// ResyncPeriod is the informers' resync period.
	ResyncPeriod time.Duration
	KubeAPIQPS   float32
	KubeAPIBurst int

	// BindAddress is host:port of /healthz, /readyz, /livez and /metrics; empty disables it.
	BindAddress string

	LeaderElect                   bool
	LeaderElectResourceNamespace  string
	LeaderElectResourceName       string
	LeaderElectLeaseDuration      time.Duration
	LeaderElectRenewDeadline      time.Duration
	LeaderElectRetryPeriod        time.Duration
	LeaderElectIdentityForTesting string

	// workers is ControllerWorkers parsed by Complete.
	workers map[string]int
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		Controllers:                  []string{"*"},
		Workers:                      4,
		ResyncPeriod:                 12 * time.Hour,
		KubeAPIQPS:                   50,
		KubeAPIBurst:                 100,
		BindAddress:                  "127.0.0.1:10272",
		LeaderElect:                  true,
		LeaderElectResourceNamespace: "kube-system",
		LeaderElectResourceName:      "yurt-manager",
		LeaderElectLeaseDuration:     15 * time.Second,
		LeaderElectRenewDeadline:     10 * time.Second,
		LeaderElectRetryPeriod:       2 * time.Second,
	}
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the cloud kube-apiserver; empty uses the in-cluster configuration.")
	fs.StringSliceVar(&o.Controllers, "controllers", o.Controllers, fmt.Sprintf(
		"Controllers to run. '*' enables every controller on by default, 'foo' enables foo, '-foo' disables foo. All controllers: %s.",
		strings.Join(KnownControllerNames(), ", ")))
	fs.IntVar(&o.Workers, "workers", o.Workers, "Workers (concurrent reconciles) of each controller.")
	fs.StringToStringVar(&o.ControllerWorkers, "controller-workers", o.ControllerWorkers, "Per-controller worker counts overriding --workers, e.g. nodepool=8,autonomy=2.")
	fs.DurationVar(&o.ResyncPeriod, "resync-period", o.ResyncPeriod, "Resync period of the shared informers.")
	fs.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Queries per second to kube-apiserver.")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Burst of queries to kube-apiserver.")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "host:port serving /healthz, /readyz, /livez and /metrics (plain HTTP); empty disables it.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader through a coordination.k8s.io Lease before running controllers, so several replicas can run.")
	fs.StringVar(&o.LeaderElectResourceNamespace, "leader-elect-resource-namespace", o.LeaderElectResourceNamespace, "Namespace of the leader-election Lease.")
	fs.StringVar(&o.LeaderElectResourceName, "leader-elect-resource-name", o.LeaderElectResourceName, "Name of the leader-election Lease.")
	fs.DurationVar(&o.LeaderElectLeaseDuration, "leader-elect-lease-duration", o.LeaderElectLeaseDuration, "How long a non-leader waits after the last renewal before taking over.")
	fs.DurationVar(&o.LeaderElectRenewDeadline, "leader-elect-renew-deadline", o.LeaderElectRenewDeadline, "How long the leader keeps trying to renew before giving up leadership.")
	fs.DurationVar(&o.LeaderElectRetryPeriod, "leader-elect-retry-period", o.LeaderElectRetryPeriod, "Interval between attempts to acquire or renew the Lease.")
	fs.StringVar(&o.LeaderElectIdentityForTesting, "leader-elect-identity", o.LeaderElectIdentityForTesting, "Identity in the Lease; default hostname_<random>.")
}

// Complete parses the per-controller worker counts and trims the controller list.
func (o *Options) Complete() error {
	for i, c := range o.Controllers {
		o.Controllers[i] = strings.TrimSpace(c)
	}
	o.workers = map[string]int{}
	for name, v := range o.ControllerWorkers {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("--controller-workers %s=%s: not an integer", name, v)
		}
		o.workers[strings.TrimSpace(name)] = n
	}
	if o.LeaderElectIdentityForTesting == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("finding the hostname for the leader-election identity: %w", err)
		}
		o.LeaderElectIdentityForTesting = host + "_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return nil
}

// Validate returns every problem with the options, each naming its flag.
func (o *Options) Validate() []error {
	var errs []error
	known := KnownControllerNames()
	for _, c := range o.Controllers {
		name := strings.TrimPrefix(c, "-")
		if c == "*" {
			continue
		}
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("--controllers: unknown controller %q (known: %s)", c, strings.Join(known, ", ")))
		}
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers must be at least 1, got %d", o.Workers))
	}
	for name, n := range o.workers {
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("--controller-workers: unknown controller %q", name))
		}
		if n < 1 {
			errs = append(errs, fmt.Errorf("--controller-workers %s must be at least 1, got %d", name, n))
		}
	}
	if o.KubeAPIQPS <= 0 {
		errs = append(errs, fmt.Errorf("--kube-api-qps must be positive, got %v", o.KubeAPIQPS))
	}
	if o.KubeAPIBurst < 1 {
		errs = append(errs, fmt.Errorf("--kube-api-burst must be at least 1, got %d", o.KubeAPIBurst))
	}
	if o.ResyncPeriod < 0 {
		errs = append(errs, fmt.Errorf("--resync-period must not be negative, got %s", o.ResyncPeriod))
	}
	if o.BindAddress != "" {
		if _, port, err := net.SplitHostPort(o.BindAddress); err != nil {
			errs = append(errs, fmt.Errorf("--bind-address %q: %w", o.BindAddress, err))
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("--bind-address %q: port must be 0-65535", o.BindAddress))
		}
	}
	if o.LeaderElect {
		if o.LeaderElectResourceNamespace == "" || o.LeaderElectResourceName == "" {
			errs = append(errs, fmt.Errorf("--leader-elect-resource-namespace and --leader-elect-resource-name must not be empty"))
		}
		if o.LeaderElectRetryPeriod <= 0 {
			errs = append(errs, fmt.Errorf("--leader-elect-retry-period must be positive, got %s", o.LeaderElectRetryPeriod))
		}
		if o.LeaderElectLeaseDuration <= o.LeaderElectRenewDeadline {
			errs = append(errs, fmt.Errorf("--leader-elect-lease-duration (%s) must be greater than --leader-elect-renew-deadline (%s)", o.LeaderElectLeaseDuration, o.LeaderElectRenewDeadline))
		}
		if o.LeaderElectRenewDeadline <= o.LeaderElectRetryPeriod {
			errs = append(errs, fmt.Errorf("--leader-elect-renew-deadline (%s) must be greater than --leader-elect-retry-period (%s)", o.LeaderElectRenewDeadline, o.LeaderElectRetryPeriod))
		}
	}
	return errs
}

// Config builds the manager's configuration; call after Complete and Validate.
func (o *Options) Config() (*Config, error) {
	var (
		restConfig *rest.Config
		err        error
	)
	if o.Kubeconfig != "" {
		restConfig, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	} else {
		restConfig, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("loading the client configuration (--kubeconfig %q): %w", o.Kubeconfig, err)
	}
	restConfig.QPS = o.KubeAPIQPS
	restConfig.Burst = o.KubeAPIBurst
	restConfig.UserAgent = "yurt-manager"

	enabled := map[string]int{}
	for _, name := range KnownControllerNames() {
		if IsControllerEnabled(name, o.Controllers) {
			w := o.Workers
			if n, ok := o.workers[name]; ok {
				w = n
			}
			enabled[name] = w
		}
	}
	return &Config{
		RESTConfig:   restConfig,
		Controllers:  enabled,
		ResyncPeriod: o.ResyncPeriod,
		BindAddress:  o.BindAddress,
		LeaderElection: LeaderElection{
			Enabled:       o.LeaderElect,
			Namespace:     o.LeaderElectResourceNamespace,
			Name:          o.LeaderElectResourceName,
			Identity:      o.LeaderElectIdentityForTesting,
			LeaseDuration: o.LeaderElectLeaseDuration,
			RenewDeadline: o.LeaderElectRenewDeadline,
			RetryPeriod:   o.LeaderElectRetryPeriod,
		},
	}, nil
}

// IsControllerEnabled applies kube-controller-manager's --controllers rules: an explicit
// 'name' or '-name' wins (first match), otherwise '*' enables it.
func IsControllerEnabled(name string, controllers []string) bool {
	star := false
	for _, c := range controllers {
		switch c {
		case name:
			return true
		case "-" + name:
			return false
		case "*":
			star = true
		}
	}
	return star
}
