package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// shells maps each supported shell to its cobra script generator.
var shells = map[string]func(root *cobra.Command, w io.Writer) error{
	"bash":       func(root *cobra.Command, w io.Writer) error { return root.GenBashCompletionV2(w, true) },
	"zsh":        func(root *cobra.Command, w io.Writer) error { return root.GenZshCompletion(w) },
	"fish":       func(root *cobra.Command, w io.Writer) error { return root.GenFishCompletion(w, true) },
	"powershell": func(root *cobra.Command, w io.Writer) error { return root.GenPowerShellCompletionWithDesc(w) },
}

// shellNames is the order used in help and errors.
var shellNames = []string{"bash", "zsh", "fish", "powershell"}

const completionLong = `Print a shell completion script for kubectl-pgo.

The script completes commands, flags, and flag values such as --output,
--context and --namespace when the plugin is run directly as kubectl-pgo.

To complete "kubectl pgo ..." as well, kubectl (v1.26 or later) needs an
executable named kubectl_complete-pgo on the PATH that forwards to the
plugin's hidden __complete command, for example a shell script containing:

  #!/usr/bin/env sh
  exec kubectl pgo __complete "$@"

kubectl's own completion must be enabled too (see kubectl completion --help).`

const completionExample = `  # bash, current session
  source <(kubectl-pgo completion bash)

  # bash, permanently
  kubectl-pgo completion bash > ~/.local/share/bash-completion/completions/kubectl-pgo

  # zsh
  kubectl-pgo completion zsh > "${fpath[1]}/_kubectl-pgo"

  # fish
  kubectl-pgo completion fish > ~/.config/fish/completions/kubectl-pgo.fish

  # PowerShell
  kubectl-pgo completion powershell | Out-String | Invoke-Expression`

// CompletionOptions holds the arguments of `kubectl pgo completion`.
type CompletionOptions struct {
	Shell string

	genericiooptions.IOStreams
}

// NewCmdCompletion returns `kubectl pgo completion SHELL`.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &CompletionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:                   "completion SHELL",
		Short:                 "Print a shell completion script (" + strings.Join(shellNames, ", ") + ")",
		Long:                  completionLong,
		Example:               completionExample,
		DisableFlagsInUseLine: true,
		ValidArgs:             shellNames,
		// Arguments are checked in Validate, for a clearer message than
		// cobra's.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			if err := o.Validate(); err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			return o.Run(cmd.Root())
		},
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	return cmd
}

// Complete takes the shell from the arguments.
func (o *CompletionOptions) Complete(args []string) error {
	switch len(args) {
	case 0:
		return fmt.Errorf("shell not specified: choose one of %s", strings.Join(shellNames, ", "))
	case 1:
		o.Shell = args[0]
		return nil
	default:
		return fmt.Errorf("too many arguments: expected one shell, got %q", args)
	}
}

// Validate checks that the shell is supported.
func (o *CompletionOptions) Validate() error {
	if _, ok := shells[o.Shell]; !ok {
		return fmt.Errorf("unsupported shell %q: choose one of %s", o.Shell, strings.Join(shellNames, ", "))
	}
	return nil
}

// Run writes the script for the command tree under root.
func (o *CompletionOptions) Run(root *cobra.Command) error {
	return shells[o.Shell](root, o.Out)
}
