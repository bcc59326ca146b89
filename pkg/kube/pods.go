package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
