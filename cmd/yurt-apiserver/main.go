// Command yurt-apiserver serves apps.openyurt.io and iot.openyurt.io as an aggregated API
// server behind the cluster's kube-apiserver.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/yurt-edge/yurt/cmd/yurt-apiserver/app"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	cmd, err := app.NewCommand(ctx)
	if err != nil {
		os.Stderr.WriteString("yurt-apiserver: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(cli.Run(cmd))
}
