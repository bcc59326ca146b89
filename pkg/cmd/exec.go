// Exec into a cluster's pods, shared by every command that runs pgbackrest
// or psql there: the exec function, its timeout and containers, the wording
// of an exec that fails (RBAC in particular), and pgbackrest info.

package cmd

import (
	"context"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// execFunc runs a command in a container and returns its output; it is
// kube.ExecCapture, replaced in unit tests.
type execFunc func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)

// execOr is exec, which a test sets before Complete, or else factory.
func execOr(exec, factory execFunc) execFunc {
	if exec != nil {
		return exec
	}
	return factory
}

// factoryExec runs commands in pods with the factory's clients, and
// returns an error of the kubeconfig as it is (create, update and show
// cluster, restore).
func factoryExec(f kube.Factory) execFunc {
	return func(ctx context.Context, namespace, pod, container string, command []string) (string, string, error) {
		config, err := f.RESTConfig()
		if err != nil {
			return "", "", err
		}
		client, err := f.KubernetesClient()
		if err != nil {
			return "", "", err
		}
		return kube.ExecCapture(ctx, config, client, namespace, pod, container, command)
	}
}

// explainedFactoryExec is factoryExec, but says that the kubeconfig cannot
// be used (kubeconfigError); the backup, show backup and archive, doctor,
// verify and schedule commands use it. The two stay apart so that no
// command's error text changes; they could become one.
func explainedFactoryExec(f kube.Factory) execFunc {
	return func(ctx context.Context, namespace, pod, container string, command []string) (string, string, error) {
		config, err := f.RESTConfig()
		if err != nil {
			return "", "", kubeconfigError(err)
		}
		client, err := f.KubernetesClient()
		if err != nil {
			return "", "", kubeconfigError(err)
		}
		return kube.ExecCapture(ctx, config, client, namespace, pod, container, command)
	}
}

// readStanza runs pgbackrest info in the repository pod and returns the
// cluster's stanza (inspect.ReadStanza).
func readStanza(ctx context.Context, exec execFunc, ns, pod string, extra ...string) (repo.Stanza, error) {
	return inspect.ReadStanza(ctx, exec, ns, pod, extra...)
}

// execError explains an exec that could not run (kube.ExplainExec).
func execError(what, ns, pod string, err error) error { return kube.ExplainExec(what, ns, pod, err) }

// Containers that the cluster commands exec into.
const (
	databaseContainer = cluster.ContainerDatabase
	repoContainer     = cluster.ContainerPGBackRest
)
