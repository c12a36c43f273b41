package yurtctl

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context canceled by the first SIGINT or SIGTERM, so a command can
// shut down cleanly; a second signal exits at once with status 1.
func SignalContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ch
		cancel()
		<-ch
		os.Exit(1)
	}()
	return ctx
}
