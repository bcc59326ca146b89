// The command side of pkg/apply and pkg/lifecycle: the API clients from
// the kubeconfig; what create cluster and update cluster share (NAME, the
// setting flags, --wait, --timeout, --dry-run and -o); and the cobra
// command of create, update and delete cluster.

package cmd

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

// newClusterCommand is newCommand for create_cluster.go, which has not
// moved to it yet (TODO(issue 17): call newCommand there, delete this).
func newClusterCommand(f kube.Factory, o commandOptions, streams genericiooptions.IOStreams, use, short, long, example string) *cobra.Command {
	return newCommand(f, o, streams, commandHelp{use, short, long, example})
}

// clusterApply holds what create cluster and update cluster share: NAME
// and the setting flags, --wait, --timeout, --dry-run and -o, and what
// Run needs besides.
type clusterApply struct {
	Name string
	// settingFlags are the cluster's settings (StorageType, Image, ...,
	// S3), with which of them were given.
	settingFlags

	Wait    bool
	Timeout time.Duration
	DryRun  string
	Output  string

	namespace string
	// spec is the Spec from the setting flags alone, defaulted and
	// validated.
	spec cluster.Spec

	factory      kube.Factory
	exec         execFunc
	now          func() time.Time
	pollInterval time.Duration
}

func newClusterApply(wait bool) clusterApply {
	return clusterApply{
		settingFlags: newSettingFlags(),
		Wait:         wait,
		Timeout:      apply.DefaultWaitTimeout,
		DryRun:       apply.DryRunNone,
		now:          time.Now,
		pollInterval: 2 * time.Second,
	}
}

// addFlags registers the setting flags (but not the S3 ones), --wait,
// --timeout, --dry-run and -o, with the command's help for three of them.
func (o *clusterApply) addFlags(cmd *cobra.Command, waitHelp, dryRunHelp, outputHelp string) {
	o.settingFlags.addFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&o.Wait, "wait", o.Wait, waitHelp)
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits.")
	fl.StringVar(&o.DryRun, "dry-run", o.DryRun, dryRunHelp)
	fl.StringVarP(&o.Output, "output", "o", "", outputHelp)
	_ = cmd.RegisterFlagCompletionFunc("dry-run", fixedCompletions(apply.DryRunNone, apply.DryRunClient, apply.DryRunServer))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions(string(printers.FormatYAML), string(printers.FormatJSON)))
}

// complete takes NAME, records which setting flags were given, and finds
// the namespace. offline (create's --dry-run=client) needs no usable
// kubeconfig: the namespace is -n, else the kubeconfig's if there is one,
// else "default".
func (o *clusterApply) complete(f kube.Factory, cmd *cobra.Command, args []string, offline bool) (err error) {
	o.factory = f
	o.exec = execOr(o.exec, factoryExec(f))
	if o.Name, err = clusterNameArg(cmd, args); err != nil {
		return err
	}
	o.recordGiven(cmd)
	if !offline {
		o.namespace, err = resolveNamespace(f)
		return err
	}
	if nsFlag := cmd.Flag("namespace"); nsFlag != nil && nsFlag.Changed {
		o.namespace = nsFlag.Value.String()
	} else if ns, _, err := f.Namespace(); err == nil && ns != "" {
		o.namespace = ns
	} else {
		o.namespace = metav1.NamespaceDefault
	}
	return nil
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
	if err := validateTimeout(cmd, timeout); err != nil {
		return err
	}
	return nil
}

// request is what lifecycle.Create and Update take from the flags.
func (o *clusterApply) request(out, errOut io.Writer) lifecycle.Request {
	return lifecycle.Request{
		Spec: o.spec, Given: o.givenSettings(),
		DryRun: o.DryRun, Output: o.Output,
		Wait: o.Wait, Timeout: o.Timeout, Poll: o.pollInterval, Now: o.now,
		Out: out, ErrOut: errOut,
	}
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

// apiClientsIn is newAPIClients for a command that works in namespace ns,
// which must exist (apply.CheckNamespace).
func apiClientsIn(ctx context.Context, f kube.Factory, ns string) (*apply.Clients, error) {
	c, err := newAPIClients(f)
	if err != nil {
		return nil, err
	}
	return c, apply.CheckNamespace(ctx, c, ns)
}
