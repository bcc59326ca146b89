package kube

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// ScaleStatefulSet sets the replicas of a StatefulSet, and nothing else of
// it, as fieldManager.
func ScaleStatefulSet(ctx context.Context, client kubernetes.Interface, ns, name string, replicas int, fieldManager string) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	_, err := client.AppsV1().StatefulSets(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	return err
}

// DeletePVC deletes a PersistentVolumeClaim and waits, polling every
// poll for at most timeout, until it is gone: its protection finalizer
// holds it while a pod mounts it. A missing one is no error.
func DeletePVC(ctx context.Context, client kubernetes.Interface, ns, name string, poll, timeout time.Duration) error {
	pvcs := client.CoreV1().PersistentVolumeClaims(ns)
	if err := pvcs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	err := WaitFor(ctx, poll, timeout, func(ctx context.Context) (bool, error) {
		_, err := pvcs.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("PVC %s was not deleted within %s: %w", name, timeout, err)
	}
	return nil
}
