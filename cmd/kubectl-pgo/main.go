// Command kubectl-pgo is the kubectl plugin `kubectl pgo`. Everything but
// process wiring lives in pkg/cmd.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

func main() {
	os.Exit(run())
}

// run returns the exit status documented in the root command's help:
// 0 on success, 1 on any error.
func run() int {
	// The first Ctrl-C or SIGTERM cancels the command's context so it can
	// stop cleanly; after that the default handling is restored, so a second
	// one kills the process even if something ignores the context.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	// KUBECTL_PGO_COUNT_REQUESTS=1 reports the API requests at the end,
	// for the benchmark.
	counter := kube.RequestCounterFromEnv(os.Getenv)
	if counter != nil {
		defer func() { _ = counter.Report(streams.ErrOut) }()
	}
	if err := cmd.NewCmdPGO(streams, cmd.WithRequestCounter(counter)).ExecuteContext(ctx); err != nil {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 1
	}
	return 0
}
