package server

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// FuzzFlags: any command line either fails to parse or validates to errors that each name
// the flag at fault; nothing panics, and a command line that validates also builds a Config.
func FuzzFlags(f *testing.F) {
	for _, seed := range []string{
		"--pool=pool-a --data-dir=/tmp/x",
		"--pool=pool-a --listen-client-urls=http://10.0.0.1:2379",
		"--pool=pool-a --initial-cluster=a=http://127.0.0.1:2380,b=http://127.0.0.1:2381,c=http://127.0.0.1:2382 --name=a",
		"--pool= --initial-cluster==,",
		"--quota-backend-bytes=-1 --auto-compaction-mode=bogus --recover-below-ratio=2",
		"--listen-client-urls=https://[::1]:0 --cert-file=x",
		"--initial-cluster=a=%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cmdline string) {
		o := NewOptions()
		fs := pflag.NewFlagSet("yurt-coordinator", pflag.ContinueOnError)
		fs.SetOutput(discard{})
		o.AddFlags(fs)
		if err := fs.Parse(strings.Fields(cmdline)); err != nil {
			return
		}
		errs := o.Validate()
		for _, err := range errs {
			if !strings.Contains(err.Error(), "--") {
				t.Fatalf("error names no flag: %v (command line %q)", err, cmdline)
			}
		}
		if len(errs) == 0 {
			if _, err := o.Config(); err != nil {
				t.Fatalf("options validated but Config failed: %v (command line %q)", err, cmdline)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
