package cmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
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

// clusterConfigSelector matches the settings and pgBackRest ConfigMaps that
// every cluster has, so listing them names the clusters of a namespace with
// one small request.
var clusterConfigSelector = labels.Set{
	cluster.LabelManagedBy: cluster.FieldManager,
	cluster.LabelComponent: cluster.ComponentConfig,
}.String()

// completionTimeout bounds the API requests made to complete an argument.
const completionTimeout = 5 * time.Second

// CompleteClusterNames returns a ValidArgsFunction for commands that take one
// cluster NAME: it offers the clusters in the namespace selected by -n (or the
// kubeconfig) that start with what was typed. Completion must never fail
// loudly, so an error yields no suggestions (BASH_COMP_DEBUG_FILE shows it).
func CompleteClusterNames(f kube.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, err := clusterNames(cmd, f)
		if err != nil {
			cobra.CompDebugln("listing clusters: "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		matching := names[:0]
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				matching = append(matching, n)
			}
		}
		return matching, cobra.ShellCompDirectiveNoFileComp
	}
}

// clusterNames lists the distinct cluster names in the selected namespace,
// sorted.
func clusterNames(cmd *cobra.Command, f kube.Factory) ([]string, error) {
	ns, _, err := f.Namespace()
	if err != nil {
		return nil, err
	}
	client, err := f.KubernetesClient()
	if err != nil {
		return nil, err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	// A TAB press should not hang on an unreachable server.
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	list, err := client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: clusterConfigSelector})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, cm := range list.Items {
		if n := cm.Labels[cluster.LabelCluster]; n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
