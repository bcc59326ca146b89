package backup

import (
	"context"
	"fmt"
	"io"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Exec runs a command in a container of a pod and returns its output:
// kube.ExecCapture, or a fake in tests.
type Exec func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)

// Info runs pgbackrest info (with extra options, such as --set) in a pod
// and returns the cluster's stanza; the command words its errors.
type Info func(ctx context.Context, namespace, pod string, extra ...string) (repo.Stanza, error)

// statusTo writes a Job's progress to w, one "kubectl-pgo: " line each.
func statusTo(w io.Writer) func(string) {
	return func(msg string) { fmt.Fprintf(w, "kubectl-pgo: %s\n", msg) }
}
