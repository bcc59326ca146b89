package cmd

import (
	"slices"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/version"
)

const rootLong = `kubectl pgo runs PostgreSQL clusters on Kubernetes, with backups and
restores by pgBackRest, without an operator or custom resources.

Each command renders plain Kubernetes objects (StatefulSets, Services,
Secrets, Jobs, ...) from templates built into the plugin and applies them
with server-side apply under the field manager "kubectl-pgo", so they can be
inspected with kubectl like anything else.

The global flags select the cluster and namespace exactly as they do for
kubectl: --kubeconfig, --context, -n/--namespace, --request-timeout, ...

Exit status:
  0  the command succeeded
  1  the command failed; the reason is printed to stderr after "error: "`

const rootExample = `  # Show the versions of the plugin and of the Kubernetes API server
  kubectl pgo version

  # Enable shell completion for kubectl-pgo in the current bash session
  source <(kubectl-pgo completion bash)`

// RootOption changes how NewCmdPGO builds the command tree.
type RootOption func(*rootSettings)

type rootSettings struct {
	counter *kube.RequestCounter
}

// WithRequestCounter counts every request the commands send to the API
// server, exec included; nil counts nothing.
func WithRequestCounter(c *kube.RequestCounter) RootOption {
	return func(s *rootSettings) { s.counter = c }
}

// wrapConfig is what the plugin sets on every client configuration.
func (s rootSettings) wrapConfig(streams genericiooptions.IOStreams) func(*rest.Config) *rest.Config {
	return func(c *rest.Config) *rest.Config {
		c.UserAgent = version.UserAgent()
		// API server warnings (deprecations, policy) go to the user's
		// stderr as "Warning: ...", as with kubectl, not to klog.
		c.WarningHandler = rest.NewWarningWriter(streams.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
		// client-go's default client-side limit (5 requests a second,
		// bursts of 10) would serialize the fan-out of show -A over many
		// clusters; the API server's priority and fairness guards it
		// instead, as for kubectl's discovery.
		if c.QPS == 0 && c.Burst == 0 {
			c.QPS, c.Burst = 50, 100
		}
		if s.counter != nil {
			c.Wrap(s.counter.Wrap)
		}
		return c
	}
}

// NewCmdPGO returns the root command, `kubectl pgo`, with every subcommand.
// All output goes to streams.
func NewCmdPGO(streams genericiooptions.IOStreams, opts ...RootOption) *cobra.Command {
	var settings rootSettings
	for _, opt := range opts {
		opt(&settings)
	}
	configFlags := genericclioptions.NewConfigFlags(true).
		WithWarningPrinter(streams).
		WithWrapConfigFn(settings.wrapConfig(streams))
	f := kube.NewFactory(configFlags)

	root := &cobra.Command{
		// The binary is kubectl-pgo; users mostly reach it as `kubectl pgo`.
		// Name() stays kubectl-pgo so generated completion scripts bind to
		// the executable, while help and errors show the display name.
		Use:     "kubectl-pgo",
		Short:   "Manage PostgreSQL clusters and pgBackRest backups",
		Long:    rootLong,
		Example: rootExample,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl pgo",
		},
		// Runtime errors are printed once, by main, without the usage text
		// burying them; usage mistakes carry a pointer to --help instead.
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
		// `completion` is our own command, with plugin-specific help.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(flagError)

	configFlags.AddFlags(root.PersistentFlags())
	registerConfigFlagCompletions(root, configFlags, f)

	// The command tree. Add subcommands here, under their parent.
	create := NewCmdCreate(streams)
	show := NewCmdShow(streams)
	del := NewCmdDelete(streams)
	create.AddCommand(NewCmdCreateCluster(f, streams))
	show.AddCommand(NewCmdShowCluster(f, streams))
	del.AddCommand(NewCmdDeleteCluster(f, streams), NewCmdDeleteBackup(f, streams))
	show.AddCommand(NewCmdShowBackup(f, streams), NewCmdShowArchive(f, streams))
	update := NewCmdUpdate(streams)
	update.AddCommand(NewCmdUpdateCluster(f, streams))
	create.AddCommand(NewCmdCreateSchedule(f, streams))
	show.AddCommand(NewCmdShowSchedule(f, streams))
	del.AddCommand(NewCmdDeleteSchedule(f, streams))

	root.AddCommand(
		create,
		show,
		del,
		update,
		NewCmdRestore(f, streams),
		NewCmdBackup(f, streams),
		NewCmdDoctor(f, streams),
		NewCmdVerify(f, streams),
		NewCmdRestoreDrill(f, streams),
		NewCmdFailover(f, streams),
		NewCmdPromote(f, streams),
		NewCmdUpgrade(f, streams),
		NewCmdRotate(f, streams),
		NewCmdVersion(f, streams),
		NewCmdCompletion(streams),
	)
	return root
}

// registerConfigFlagCompletions completes --namespace from the cluster and
// --context, --cluster and --user from the kubeconfig, like kubectl.
func registerConfigFlagCompletions(root *cobra.Command, flags *genericclioptions.ConfigFlags, f kube.Factory) {
	fromKubeconfig := func(names func(clientcmdapi.Config) []string) cobra.CompletionFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			raw, err := flags.ToRawKubeConfigLoader().RawConfig()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return names(raw), cobra.ShellCompDirectiveNoFileComp
		}
	}
	// Errors are impossible here: the flags were just added to root.
	_ = root.RegisterFlagCompletionFunc("context", fromKubeconfig(func(c clientcmdapi.Config) []string { return sortedKeys(c.Contexts) }))
	_ = root.RegisterFlagCompletionFunc("cluster", fromKubeconfig(func(c clientcmdapi.Config) []string { return sortedKeys(c.Clusters) }))
	_ = root.RegisterFlagCompletionFunc("user", fromKubeconfig(func(c clientcmdapi.Config) []string { return sortedKeys(c.AuthInfos) }))
	_ = root.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		client, err := f.KubernetesClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := client.CoreV1().Namespaces().List(cmd.Context(), metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, 0, len(list.Items))
		for _, ns := range list.Items {
			names = append(names, ns.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
