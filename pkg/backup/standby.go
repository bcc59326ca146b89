package backup

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
)

// ChooseStandby is the replica a backup from a standby copies its files
// from: the ready one that streams from the primary with the least lag.
// A cluster without one is refused, before anything starts.
func ChooseStandby(ctx context.Context, client kubernetes.Interface, exec Exec, spec cluster.Spec) (string, error) {
	if spec.Replicas == 0 {
		return "", fmt.Errorf("cannot back up cluster %q from a standby: it has no replica (add one with kubectl pgo update cluster %s --replicas=1 -n %s, or back up from the primary without --from-standby). Nothing was started",
			spec.Name, spec.Name, spec.Namespace)
	}
	pods, err := client.CoreV1().Pods(spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.DatabaseSelector(spec.Name).String()})
	if err != nil {
		return "", err
	}
	instances := inspect.Instances(ctx, inspect.Exec(exec), spec, pods.Items)
	best, ok := inspect.LeastLagging(instances)
	if !ok {
		return "", fmt.Errorf("cannot back up cluster %q from a standby: no replica streams from the primary (%s); see kubectl pgo show cluster %s -n %s. Nothing was started",
			spec.Name, inspect.DescribeReplicas(instances), spec.Name, spec.Namespace)
	}
	return best.Name, nil
}
