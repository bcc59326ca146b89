package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NodeNotReady describes a node whose Ready condition is not True ("" when it is Ready, or when
// it has no Ready condition yet): its name, the condition and since when.
func NodeNotReady(node *corev1.Node) string {
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady || c.Status == corev1.ConditionTrue {
			continue
		}
		msg := fmt.Sprintf("node %s is not ready (Ready=%s since %s", node.Name, c.Status, c.LastTransitionTime.UTC().Format(time.RFC3339))
		if c.Message != "" {
			msg += ": " + c.Message
		}
		return msg + ")"
	}
	return ""
}

// PodProblems says, for each pod that is not ready and cannot run where it is, why: "not scheduled: <the
// scheduler's reason>" for a pending pod with no node, or the NodeNotReady of its node. Pods
// without a problem are not in the map. Each node is read once; a node that cannot be read (a
// user may not be allowed to) is taken as ready.
func PodProblems(ctx context.Context, client kubernetes.Interface, pods []*corev1.Pod) map[string]string {
	problems := map[string]string{}
	nodes := map[string]string{}
	for _, p := range pods {
		// A Ready pod needs no node read (show cluster stays at its request budget): the node
		// controller marks the pods of a lost node not ready with the node.
		if p == nil || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || IsPodReady(p) {
			continue
		}
		if p.Spec.NodeName == "" {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
					problems[p.Name] = "not scheduled: " + c.Message
				}
			}
			continue
		}
		msg, seen := nodes[p.Spec.NodeName]
		if !seen {
			if node, err := client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{}); err == nil {
				msg = NodeNotReady(node)
			}
			nodes[p.Spec.NodeName] = msg
		}
		if msg != "" {
			problems[p.Name] = msg
		}
	}
	return problems
}
