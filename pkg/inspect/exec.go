package inspect

import (
	"context"
	"fmt"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Exec runs a command in a container (kube.ExecFunc).
type Exec = kube.ExecFunc

// ExecTimeout bounds each exec of a read command.
const ExecTimeout = time.Minute

// statusExecTimeout bounds one exec that reads the stanza or the archiver
// (show cluster, doctor, create cluster --wait). A minute, as every read
// command's: psql and pgbackrest info in one exec took more than 30 s on
// a busy 2-core machine (the end-to-end suite), and a slow pod is not an
// unknown one.
const statusExecTimeout = ExecTimeout

// Containers that the read commands exec into.
const (
	databaseContainer = cluster.ContainerDatabase
	repoContainer     = cluster.ContainerPGBackRest
)

// ReadStanza runs pgbackrest info in the repository pod and returns the
// cluster's stanza. pgBackRest exits 0 when the repository refused it, so
// the statuses in the JSON decide.
func ReadStanza(ctx context.Context, exec Exec, ns, pod string, extra ...string) (repo.Stanza, error) {
	command := append([]string{"pgbackrest", "--stanza=" + repo.StanzaName, "--output=json", "info"}, extra...)
	stdout, _, err := exec(ctx, ns, pod, repoContainer, command)
	if err != nil {
		return repo.Stanza{}, kube.ExplainExec("run pgbackrest info in the repository pod", ns, pod, err)
	}
	stanzas, err := repo.ParseInfo([]byte(stdout))
	if err != nil {
		return repo.Stanza{}, err
	}
	return FindStanza(stanzas)
}

// FindStanza picks the cluster's stanza out of pgbackrest info's output.
func FindStanza(stanzas []repo.Stanza) (repo.Stanza, error) {
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

// StanzaChecked tells whether the pgbackrest container of pod, the
// primary's of a cluster without a repository host, has ended the
// stanza-create it runs at every start (cluster.StanzaCheckedFile): it
// holds pgBackRest's backup lock until then.
func StanzaChecked(ctx context.Context, exec Exec, ns, pod string) bool {
	ctx, cancel := context.WithTimeout(ctx, ExecTimeout)
	defer cancel()
	_, _, err := exec(ctx, ns, pod, repoContainer, []string{"test", "-e", cluster.StanzaCheckedFile})
	return err == nil
}
