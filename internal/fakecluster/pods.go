package fakecluster

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// PodsCreated is when the fake cluster's pods were created.
var PodsCreated = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)

// PodLabels are the labels of a pod of cluster name with a local
// repository, as its templates render them.
func PodLabels(name, component string) map[string]string {
	l := cluster.Labels(name, component)
	if component == cluster.ComponentRepo {
		l[cluster.LabelPGBackRestCommands] = "true"
	}
	return l
}

// RunningPod is a ready pod name in namespace ns, created at PodsCreated,
// with the named containers running.
func RunningPod(ns, name string, labels map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, CreationTimestamp: metav1.NewTime(PodsCreated)},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		})
	}
	return p
}
