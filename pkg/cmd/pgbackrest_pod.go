package cmd

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
)

// pgbackrestPodName names that pod in messages.
const pgbackrestPodName = backup.PGBackRestPodName

// findPGBackRestPod finds the running pod whose pgbackrest container runs
// pgBackRest commands for the cluster (backup.FindPGBackRestPod).
func findPGBackRestPod(ctx context.Context, client kubernetes.Interface, ns, name string) (*corev1.Pod, error) {
	return backup.FindPGBackRestPod(ctx, client, ns, name)
}
