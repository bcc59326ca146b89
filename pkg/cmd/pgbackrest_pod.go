package cmd

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// pgbackrestPodName names that pod in messages.
const pgbackrestPodName = "the repository host (or, for an S3-only cluster, the database pod)"

// findPGBackRestPod finds the running pod whose pgbackrest container runs
// pgBackRest commands for the cluster: the repository host's, or for a
// cluster without one (S3 only) the database pod.
func findPGBackRestPod(ctx context.Context, client kubernetes.Interface, ns, name string) (*corev1.Pod, error) {
	return kube.FindRunningPod(ctx, client, ns, cluster.PGBackRestPodSelector(name))
}
