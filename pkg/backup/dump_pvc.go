// The PVC of dumps and base backups: created when missing, and checked
// when it exists.

package backup

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// EnsurePVC creates the PVC of dumps (or base backups: backupType says
// which) with server-side apply when it is missing; an existing PVC is
// left as it is, unless it is not one for backups.
func EnsurePVC(ctx context.Context, client kubernetes.Interface, ns, name, pvc, size, backupType string) error {
	component := jobs.DumpComponent(backupType)
	cur, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc, metav1.GetOptions{})
	if err == nil {
		return checkPVC(cur)
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("read PVC %s in namespace %s: %w", pvc, ns, err)
	}
	obj, err := jobs.PGDumpPVC(name, ns, pvc, size, component)
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	force := true
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, pvc, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: cluster.FieldManager, Force: &force}); err != nil {
		return fmt.Errorf("create PVC %s in namespace %s: %w", pvc, ns, err)
	}
	return nil
}

// checkPVC refuses an existing PVC that kubectl-pgo made for something
// else than dumps and base backups: a cluster's data or repository PVC.
// Writing dumps there would mix them with PGDATA or the pgBackRest
// repository. A PVC of the user's own (not labelled) is theirs to use.
func checkPVC(pvc *corev1.PersistentVolumeClaim) error {
	l := pvc.Labels
	if l[cluster.LabelManagedBy] != cluster.FieldManager {
		return nil
	}
	switch l[cluster.LabelComponent] {
	case jobs.ComponentPGDump, jobs.ComponentPGBaseBackup:
		return nil
	}
	return fmt.Errorf("PVC %s/%s is the %s PVC of cluster %q, not one for backups: choose another --pvc-name, or leave it out for the default. Nothing was started",
		pvc.Namespace, pvc.Name, l[cluster.LabelComponent], l[cluster.LabelCluster])
}
