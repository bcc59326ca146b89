// The command side of pkg/apply: the API clients from the kubeconfig, and
// the --dry-run, -o and --timeout flags of the commands that apply, and the
// cobra command of create, update and delete cluster.

package cmd

import (
	"slices"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

// newClusterCommand is the cobra command of create, update or delete
// cluster NAME, without its flags: NAME is checked in Complete, with a
// clearer message than cobra's.
func newClusterCommand(f kube.Factory, o commandOptions, streams genericiooptions.IOStreams, use, short, long, example string) *cobra.Command {
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE:    runOptions(f, o),
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	return cmd
}

// registerApplyCompletions completes --dry-run and -o.
func registerApplyCompletions(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("dry-run", fixedCompletions(apply.DryRunNone, apply.DryRunClient, apply.DryRunServer))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions(string(printers.FormatYAML), string(printers.FormatJSON)))
}

// validateApplyFlags checks --dry-run, -o and --timeout of a command that
// applies the cluster's objects.
func validateApplyFlags(cmd *cobra.Command, dryRun, output string, timeout time.Duration) error {
	if !slices.Contains([]string{apply.DryRunNone, apply.DryRunClient, apply.DryRunServer}, dryRun) {
		return usageErrorf(cmd, `invalid --dry-run value %q: use "none", "client" or "server"`, dryRun)
	}
	if output != "" && output != string(printers.FormatYAML) && output != string(printers.FormatJSON) {
		return usageErrorf(cmd, "invalid output format %q: allowed formats are yaml, json", output)
	}
	if timeout <= 0 {
		return usageErrorf(cmd, "invalid --timeout %s: it must be more than zero", timeout)
	}
	return nil
}

func newAPIClients(f kube.Factory) (*apply.Clients, error) {
	c, err := newTypedClients(f)
	if err != nil {
		return nil, err
	}
	if c.Dynamic, err = f.DynamicClient(); err != nil {
		return nil, kubeconfigError(err)
	}
	if c.Mapper, err = f.RESTMapper(); err != nil {
		return nil, kubeconfigError(err)
	}
	return c, nil
}

// newTypedClients are the config and the typed client only, for commands
// that read: no RESTMapper, whose discovery would cost requests.
func newTypedClients(f kube.Factory) (*apply.Clients, error) {
	var c apply.Clients
	var err error
	if c.Config, err = f.RESTConfig(); err != nil {
		return nil, kubeconfigError(err)
	}
	if c.Client, err = f.KubernetesClient(); err != nil {
		return nil, kubeconfigError(err)
	}
	return &c, nil
}
