package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// commandOptions is the shape every command's Options share, as in kubectl:
// Complete fills in from flags, arguments and the kubeconfig, Validate
// refuses bad input before any request, and Run does the work.
type commandOptions interface {
	Complete(f kube.Factory, cmd *cobra.Command, args []string) error
	Validate(cmd *cobra.Command) error
	Run(ctx context.Context) error
}

// runOptions is the RunE of a command: Complete, Validate, then Run.
func runOptions(f kube.Factory, o commandOptions) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(f, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(cmd); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// commandHelp is what `--help` of a command shows above its flags.
type commandHelp struct {
	use, short, long, example string
}

// newCommand is the cobra command of every command with Options: help
// above its flags, RunE runs o (runOptions), and it reads and writes
// streams. Args is cobra.ArbitraryArgs: Complete checks the arguments,
// with a usage error. The caller adds the flags.
func newCommand(f kube.Factory, o commandOptions, streams genericiooptions.IOStreams, help commandHelp) *cobra.Command {
	cmd := &cobra.Command{Use: help.use, Short: help.short, Long: help.long, Example: help.example,
		Args: cobra.ArbitraryArgs, RunE: runOptions(f, o)}
	if streams.In != nil {
		cmd.SetIn(streams.In)
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	return cmd
}
