package fakecluster

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// ObjectsOfEveryKind are every kind of object cluster hippo in namespace
// "default" has, plus objects that are not the cluster's and must survive
// its deletion: one of kubectl-pgo's labels only, and another cluster's.
func ObjectsOfEveryKind() []runtime.Object {
	meta := func(name, component string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "default", Labels: cluster.Labels("hippo", component), UID: types.UID("uid-" + name)}
	}
	ownedPod := &corev1.Pod{ObjectMeta: meta("hippo-0", cluster.ComponentDatabase)}
	ownedPod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "hippo", UID: "x", Controller: ptr.To(true)}}
	unmanaged := metav1.ObjectMeta{Name: "hippo-notes", Namespace: "default", Labels: map[string]string{"pg-cluster": "hippo", "app.kubernetes.io/instance": "hippo"}}
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&appsv1.StatefulSet{ObjectMeta: meta("hippo", cluster.ComponentDatabase)},
		&appsv1.Deployment{ObjectMeta: meta("hippo-backrest-shared-repo", cluster.ComponentRepo)},
		&batchv1.Job{ObjectMeta: meta("hippo-backup-abcd", "backup")},
		&batchv1.CronJob{ObjectMeta: meta("hippo-pgbackrest-full", "schedule")},
		ownedPod,
		&corev1.Service{ObjectMeta: meta("hippo", cluster.ComponentDatabase)},
		&corev1.Service{ObjectMeta: meta("hippo-backrest-shared-repo", cluster.ComponentRepo)},
		&corev1.PersistentVolumeClaim{ObjectMeta: meta("hippo", cluster.ComponentDatabase)},
		&corev1.PersistentVolumeClaim{ObjectMeta: meta("hippo-pgbr-repo", cluster.ComponentRepo)},
		&corev1.Secret{ObjectMeta: meta("hippo-backrest-repo-config", cluster.ComponentRepo)},
		&corev1.Secret{ObjectMeta: meta("hippo-postgres-secret", cluster.ComponentDatabase)},
		&corev1.ConfigMap{ObjectMeta: meta("hippo-pgo-config", cluster.ComponentConfig)},
		&corev1.ConfigMap{ObjectMeta: meta("hippo-pgbackrest-config", cluster.ComponentConfig)},
		// Not kubectl-pgo's, and another cluster's: both stay.
		&corev1.ConfigMap{ObjectMeta: unmanaged},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "zebra", Namespace: "default", Labels: cluster.Labels("zebra", cluster.ComponentDatabase)}},
	}
}

// NewDeletableFactory holds ObjectsOfEveryKind. The fake has no garbage
// collector, so the StatefulSet's pod is taken away when the StatefulSet
// is deleted, as the real one would be.
func NewDeletableFactory(t testing.TB) *kubefake.Factory {
	t.Helper()
	f := kubefake.NewFactory(ObjectsOfEveryKind()...)
	f.Dynamic.PrependReactor("delete", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		err := f.Clientset.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "default", "hippo-0")
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
		return false, nil, nil
	})
	return f
}
