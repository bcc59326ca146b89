// Exec into a cluster's pods, shared by every command that runs pgbackrest
// or psql there: the exec function, its timeout and containers, the wording
// of an exec that fails (RBAC in particular), and pgbackrest info.

package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// execFunc runs a command in a container and returns its output; it is
// kube.ExecCapture, replaced in unit tests.
type execFunc func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)

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
// cluster's stanza. pgBackRest exits 0 when the repository refused it, so
// the statuses in the JSON decide.
func readStanza(ctx context.Context, exec execFunc, ns, pod string, extra ...string) (repo.Stanza, error) {
	command := append([]string{"pgbackrest", "--stanza=" + repo.StanzaName, "--output=json", "info"}, extra...)
	stdout, _, err := exec(ctx, ns, pod, repoContainer, command)
	if err != nil {
		return repo.Stanza{}, execError("run pgbackrest info in the repository pod", ns, pod, err)
	}
	stanzas, err := repo.ParseInfo([]byte(stdout))
	if err != nil {
		return repo.Stanza{}, err
	}
	return infoStanza(stanzas)
}

// infoStanza picks the cluster's stanza out of pgbackrest info's output.
func infoStanza(stanzas []repo.Stanza) (repo.Stanza, error) {
	s, ok := repo.Find(stanzas, repo.StanzaName)
	if !ok {
		if len(stanzas) == 1 {
			// e.g. "[invalid]" when the repository cannot be read
			return stanzas[0], nil
		}
		return repo.Stanza{}, fmt.Errorf("pgbackrest info does not list stanza %s", repo.StanzaName)
	}
	return s, nil
}

// execError explains an exec that could not run: RBAC in particular.
func execError(what, ns, pod string, err error) error { return kube.ExplainExec(what, ns, pod, err) }

// isForbidden recognizes a 403 (kube.IsForbidden).
func isForbidden(err error) bool { return kube.IsForbidden(err) }

// execTimeout bounds each exec of a show command.
const execTimeout = time.Minute

// Containers that the cluster commands exec into.
const (
	databaseContainer = cluster.ContainerDatabase
	repoContainer     = cluster.ContainerPGBackRest
)

// psqlCommandIn is psqlCommand in another database.
func psqlCommandIn(database, query string) []string {
	return []string{"psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
		"--set=ON_ERROR_STOP=1", "--dbname=" + database, "--command=" + query}
}
