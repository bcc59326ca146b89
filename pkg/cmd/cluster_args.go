// The cluster a command works on, shared by the commands: its NAME
// argument and its validation, the namespace, the cluster's settings, and
// execTarget (NAME, namespace and exec of the commands that exec into it).

package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

// clusterNameArg is the one NAME argument of a cluster command.
func clusterNameArg(cmd *cobra.Command, args []string) (string, error) {
	switch len(args) {
	case 0:
		return "", usageErrorf(cmd, "a cluster name is required: %s NAME", cmd.CommandPath())
	case 1:
		return args[0], nil
	default:
		return "", usageErrorf(cmd, "%s takes one cluster name, got %d arguments: %s", cmd.CommandPath(), len(args), strings.Join(args, " "))
	}
}

// clusterAndNamespace is the one NAME argument and the namespace, for the
// Complete of commands on one cluster.
func clusterAndNamespace(f kube.Factory, cmd *cobra.Command, args []string) (name, namespace string, err error) {
	if name, err = clusterNameArg(cmd, args); err != nil {
		return "", "", err
	}
	namespace, err = resolveNamespace(f)
	return name, namespace, err
}

// resolveNamespace is -n or the kubeconfig's namespace; an unusable
// kubeconfig (missing file, unknown context) is reported here, before any
// request.
func resolveNamespace(f kube.Factory) (string, error) {
	ns, _, err := f.Namespace()
	if err != nil {
		return "", kubeconfigError(err)
	}
	if _, err := f.RESTConfig(); err != nil {
		return "", kubeconfigError(err)
	}
	return ns, nil
}

// execTarget is what the commands that exec into one cluster's pods
// share: the cluster NAME, its namespace, and how to exec.
type execTarget struct {
	Name      string
	namespace string
	factory   kube.Factory
	exec      execFunc
}

// validate checks -o, NAME and the repository flags of the commands that
// have them; it sends no request.
func (t *execTarget) validate(cmd *cobra.Command, output *printers.OutputFlags, repos ...*repoFlags) error {
	if err := output.Validate(); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if err := validateClusterName(t.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	for _, r := range repos {
		if err := r.validate(cmd.Flags()); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
	}
	return nil
}

// Complete takes NAME and the namespace; it sends no request. It is the
// Complete of the commands that need nothing more.
func (t *execTarget) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	return t.complete(f, cmd, args)
}

// complete takes NAME and the namespace; it sends no request.
func (t *execTarget) complete(f kube.Factory, cmd *cobra.Command, args []string) (err error) {
	t.factory = f
	t.exec = execOr(t.exec, explainedFactoryExec(f))
	t.Name, t.namespace, err = clusterAndNamespace(f, cmd, args)
	return err
}

// optionalClusterName is the NAME argument of a command where it may be
// left out (the show commands); takes says in the usage error how many
// names the command takes ("one", "at most one").
func optionalClusterName(cmd *cobra.Command, args []string, takes string) (string, error) {
	if len(args) > 1 {
		return "", usageErrorf(cmd, "%s takes %s cluster name, got %d arguments: %s", cmd.CommandPath(), takes, len(args), strings.Join(args, " "))
	}
	if len(args) == 1 {
		return args[0], nil
	}
	return "", nil
}

// validateNameOrAll is the Validate of a show command that takes NAME or
// -A: -o, then NAME without -A (which lists every one of what).
func validateNameOrAll(cmd *cobra.Command, output *printers.OutputFlags, name string, all bool, what string) error {
	if err := output.Validate(); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if name != "" && all {
		return usageErrorf(cmd, "a cluster NAME and -A cannot be used together: -A lists every %s", what)
	}
	if name == "" {
		return nil
	}
	if err := cluster.ValidateName(name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return nil
}

// clientAndSpec returns a client and the cluster's settings: the first
// requests of a command on one cluster.
func (t *execTarget) clientAndSpec(ctx context.Context) (kubernetes.Interface, cluster.Spec, error) {
	client, err := t.factory.KubernetesClient()
	if err != nil {
		return nil, cluster.Spec{}, kubeconfigError(err)
	}
	spec, err := readClusterSpec(ctx, client, t.namespace, t.Name)
	return client, spec, err
}

// clientSpecAndRepo is clientAndSpec and the number of the repository r
// chooses (0 for none). A repository the cluster does not have is an
// error formatted by refusal, e.g. "cannot back up: %w. Nothing was
// started".
func (t *execTarget) clientSpecAndRepo(ctx context.Context, r *repoFlags, refusal string) (kubernetes.Interface, cluster.Spec, int, error) {
	client, spec, err := t.clientAndSpec(ctx)
	if err != nil {
		return nil, spec, 0, err
	}
	n, err := r.index(spec)
	if err != nil {
		return nil, spec, 0, fmt.Errorf(refusal, err)
	}
	return client, spec, n, nil
}

// validateTimeout refuses a --timeout of zero or less.
func validateTimeout(cmd *cobra.Command, timeout time.Duration) error {
	if timeout <= 0 {
		return usageErrorf(cmd, "invalid --timeout %s: it must be more than zero", timeout)
	}
	return nil
}

// clientsAndSpec returns the API clients and the cluster's settings: the
// first requests of a command that applies objects to one cluster.
func (t *execTarget) clientsAndSpec(ctx context.Context) (*apply.Clients, cluster.Spec, error) {
	c, err := apiClientsIn(ctx, t.factory, t.namespace)
	if err != nil {
		return nil, cluster.Spec{}, err
	}
	spec, err := readClusterSpec(ctx, c.Client, t.namespace, t.Name)
	return c, spec, err
}

// validateObjectName checks the value of a flag that names an object of
// the namespace (a DNS-1123 label), such as a PVC.
func validateObjectName(flag, value string) error {
	if msgs := validation.IsDNS1123Label(value); len(msgs) > 0 {
		return fmt.Errorf("invalid %s %q: %s", flag, value, strings.Join(msgs, "; "))
	}
	return nil
}

// validateClusterName checks a cluster name without asking the server.
func validateClusterName(name string) error {
	if msgs := validation.IsDNS1035Label(name); len(msgs) > 0 {
		return fmt.Errorf("cluster name %q is not valid: %s", name, strings.Join(msgs, "; "))
	}
	if limit := cluster.MaxNameLength(); len(name) > limit {
		return fmt.Errorf("cluster name %q is too long: a cluster name has at most %d characters", name, limit)
	}
	return nil
}

// clusterNotFoundError is readClusterSpec's error for a cluster that does not
// exist.
type clusterNotFoundError struct{ name, namespace string }

func (e *clusterNotFoundError) Error() string {
	return fmt.Sprintf("cluster %q not found in namespace %q (no ConfigMap %s): list the clusters with kubectl pgo show cluster -A",
		e.name, e.namespace, cluster.SettingsConfigMapName(e.name))
}

// readClusterSpec reads the cluster's settings: the cluster exists when they
// do.
func readClusterSpec(ctx context.Context, client kubernetes.Interface, ns, name string) (cluster.Spec, error) {
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return cluster.Spec{}, &clusterNotFoundError{name: name, namespace: ns}
	case err != nil:
		return cluster.Spec{}, fmt.Errorf("cannot read cluster %q in namespace %q: %w%s", name, ns, err, unreachableHint(err))
	}
	return cluster.SpecFromConfigMap(cm)
}
