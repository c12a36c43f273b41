// Command yurtctl is the operator's CLI for Yurt: a local control plane, nodes, pools and filters.
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"

	"github.com/yurt-edge/yurt/pkg/yurtctl"
)

func main() {
	cmd := yurtctl.NewCommand()
	cmd.SetContext(yurtctl.SignalContext())
	if err := cli.RunNoErrOutput(cmd); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}
