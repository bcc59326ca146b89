// What a cluster's pods say of it lives in pkg/inspect; these are the
// names create cluster --wait (create_cluster.go) calls it by, kept until
// that wait leaves pkg/cmd.

package cmd

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
)

// stanzaStatus is inspect.StanzaInfo as create cluster --wait reads it.
type stanzaStatus struct{ inspect.StanzaInfo }

func (s stanzaStatus) usable() bool { return s.Usable() }

// stanzaInfo finds the repository host's pod and asks it for the stanza.
func stanzaInfo(ctx context.Context, c *apply.Clients, exec execFunc, ns, name string) stanzaStatus {
	return stanzaStatus{inspect.Stanza(ctx, c.Client, exec, ns, name)}
}

// archiverStatus is inspect.ArchiveInfo as create cluster --wait reads it.
type archiverStatus struct {
	inspect.ArchiveInfo
	systemID uint64
}

// queryArchiver reads pg_stat_archiver in the database container.
func queryArchiver(ctx context.Context, exec execFunc, pod *corev1.Pod) (archiverStatus, error) {
	a, err := inspect.QueryArchiver(ctx, exec, pod)
	return archiverStatus{a, a.SystemID}, err
}

// checkSystemID fails when the stanza belongs to another database than
// the one running.
func checkSystemID(s stanzaStatus, database uint64) error {
	return inspect.CheckSystemID(s.StanzaInfo, database)
}
