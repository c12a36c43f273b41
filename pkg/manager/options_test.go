package manager

import (
	"strings"
	"testing"
	"time"
)

func TestIsControllerEnabled(t *testing.T) {
	tests := []struct {
		name        string
		controllers []string
		want        bool
	}{
		{"star", []string{"*"}, true},
		{"star then disabled", []string{"*", "-nodepool"}, false},
		{"disabled then star", []string{"-nodepool", "*"}, false},
		{"named only", []string{"nodepool"}, true},
		{"other named only", []string{"autonomy"}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsControllerEnabled("nodepool", tt.controllers); got != tt.want {
				t.Errorf("IsControllerEnabled(nodepool, %v) = %v, want %v", tt.controllers, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		want   []string
	}{
		{"defaults", func(*Options) {}, nil},
		{"unknown controller", func(o *Options) { o.Controllers = []string{"*", "-nosuch"} }, []string{`--controllers: unknown controller "-nosuch"`}},
		{"workers", func(o *Options) { o.Workers = 0 }, []string{"--workers must be at least 1"}},
		{"per-controller workers", func(o *Options) { o.ControllerWorkers = map[string]string{"nodepool": "0", "nosuch": "2"} },
			[]string{"--controller-workers nodepool must be at least 1", `--controller-workers: unknown controller "nosuch"`}},
		{"bind address", func(o *Options) { o.BindAddress = "localhost" }, []string{`--bind-address "localhost"`}},
		{"lease timings", func(o *Options) { o.LeaderElectLeaseDuration = 5 * time.Second },
			[]string{"--leader-elect-lease-duration (5s) must be greater than --leader-elect-renew-deadline (10s)"}},
		{"lease timings ignored without election", func(o *Options) { o.LeaderElect = false; o.LeaderElectLeaseDuration = time.Second }, nil},
		{"qps", func(o *Options) { o.KubeAPIQPS = 0 }, []string{"--kube-api-qps must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions()
			tt.mutate(o)
			if err := o.Complete(); err != nil {
				t.Fatal(err)
			}
			errs := o.Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors %q", errs, len(tt.want), tt.want)
			}
			for _, w := range tt.want {
				found := false
				for _, e := range errs {
					if strings.Contains(e.Error(), w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no error containing %q in %v", w, errs)
				}
			}
		})
	}
}

func TestCompleteBadWorkers(t *testing.T) {
	o := NewOptions()
	o.ControllerWorkers = map[string]string{"nodepool": "many"}
	if err := o.Complete(); err == nil || !strings.Contains(err.Error(), "--controller-workers nodepool=many") {
		t.Errorf("Complete() = %v, want an error naming the flag", err)
	}
}

func TestConfigWorkers(t *testing.T) {
	o := NewOptions()
	o.Kubeconfig = "testdata/kubeconfig"
	o.Controllers = []string{"*", "-autonomy"}
	o.ControllerWorkers = map[string]string{"nodepool": "9"}
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Controllers["autonomy"]; ok {
		t.Errorf("autonomy enabled despite -autonomy: %v", cfg.Controllers)
	}
	if cfg.Controllers["nodepool"] != 9 || cfg.Controllers["delegatedheartbeat"] != o.Workers {
		t.Errorf("workers = %v, want nodepool 9 and delegatedheartbeat %d", cfg.Controllers, o.Workers)
	}
}
