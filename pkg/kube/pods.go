package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// FindRunningPod returns a pod matching selector that is Running, Ready and
// not being deleted, i.e. one that can take an exec right now. When several
// qualify it picks the first by name so repeated calls agree.
func FindRunningPod(ctx context.Context, client kubernetes.Interface, namespace, selector string) (*corev1.Pod, error) {
	// Checked here so a typo reads as such, not as an API error.
	if _, err := labels.Parse(selector); err != nil {
		return nil, fmt.Errorf("invalid label selector %q: %w", selector, err)
	}
	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods matching %q in namespace %q: %w", selector, namespace, err)
	}
	return PickRunningPod(list.Items, namespace, selector)
}

// PickRunningPod is FindRunningPod on pods already listed: the first by
// name of those in namespace that match selector and can take an exec. It
// lets a command list the pods of many clusters in one request.
func PickRunningPod(pods []corev1.Pod, namespace, selector string) (*corev1.Pod, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("invalid label selector %q: %w", selector, err)
	}
	pods = slices.DeleteFunc(slices.Clone(pods), func(p corev1.Pod) bool {
		return (namespace != "" && p.Namespace != namespace) || !sel.Matches(labels.Set(p.Labels))
	})
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })

	var seen []string
	for i := range pods {
		pod := &pods[i]
		if state := podState(pod); state != "" {
			seen = append(seen, fmt.Sprintf("%s (%s)", pod.Name, state))
			continue
		}
		return pod, nil
	}
	msg := fmt.Sprintf("no running pod matches %q in namespace %q", selector, namespace)
	if len(seen) > 0 {
		// Saying why each candidate was skipped saves a round of kubectl get.
		msg += "; found " + strings.Join(seen, ", ")
	}
	return nil, errors.New(msg)
}

// IsPodReady reports whether pod's Ready condition is True.
func IsPodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState is why pod cannot be used, or "" if it can.
func podState(pod *corev1.Pod) string {
	switch {
	case pod.DeletionTimestamp != nil:
		return "terminating"
	case pod.Status.Phase != corev1.PodRunning:
		if pod.Status.Phase == "" {
			return "phase unknown"
		}
		return string(pod.Status.Phase)
	case !IsPodReady(pod):
		return "Running, not ready"
	}
	return ""
}

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

// PodProblems says, for each pod that cannot run where it is, why: "not scheduled: <the
// scheduler's reason>" for a pending pod with no node, or the NodeNotReady of its node. Pods
// without a problem are not in the map. Each node is read once; a node that cannot be read (a
// user may not be allowed to) is taken as ready.
func PodProblems(ctx context.Context, client kubernetes.Interface, pods []*corev1.Pod) map[string]string {
	problems := map[string]string{}
	nodes := map[string]string{}
	for _, p := range pods {
		if p == nil || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
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

// SortOldestFirst sorts objects by their creation, oldest first, and by
// name when they were created in the same second.
func SortOldestFirst[T any, P interface {
	*T
	metav1.Object
}](items []T) {
	slices.SortFunc(items, func(a, b T) int {
		pa, pb := P(&a), P(&b)
		if c := pa.GetCreationTimestamp().Compare(pb.GetCreationTimestamp().Time); c != 0 {
			return c
		}
		return strings.Compare(pa.GetName(), pb.GetName())
	})
}
