package fakecluster

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
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

// JobsStarted is when a Job that FinishJobs ends started; it ended 7
// seconds later.
var JobsStarted = time.Date(2026, 11, 26, 8, 0, 1, 0, time.UTC)

// FinishJobs makes the fake API server report every Job it is asked for as
// ended (complete when succeeded, failed otherwise), with a terminated pod
// "<job>-xyz12" whose pgbackrest container exited with exitCode and
// message.
func FinishJobs(client *fake.Clientset, succeeded bool, exitCode int32, message string) {
	client.PrependReactor("get", "jobs", func(action k8stesting.Action) (bool, runtime.Object, error) {
		name := action.(k8stesting.GetAction).GetName()
		obj, err := client.Tracker().Get(batchv1.SchemeGroupVersion.WithResource("jobs"), action.GetNamespace(), name)
		if err != nil {
			return true, nil, err
		}
		job := obj.(*batchv1.Job).DeepCopy()
		start := metav1.NewTime(JobsStarted)
		job.Status.StartTime = &start
		cond := batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}
		if succeeded {
			done := metav1.NewTime(start.Add(7 * time.Second))
			job.Status.CompletionTime = &done
		} else {
			cond = batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}
		}
		job.Status.Conditions = []batchv1.JobCondition{cond}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-xyz12", Namespace: job.Namespace, Labels: map[string]string{batchv1.JobNameLabel: name}}}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pgbackrest", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Message: message}}}}
		pod.Status.Phase = corev1.PodSucceeded
		_ = client.Tracker().Add(pod)
		return true, job, nil
	})
}

// CreatedJobs are the names of the Jobs created through client.
func CreatedJobs(client *fake.Clientset) []string {
	var names []string
	for _, a := range client.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok && a.GetVerb() == "create" && a.GetResource().Resource == "jobs" {
			names = append(names, c.GetObject().(*batchv1.Job).Name)
		}
	}
	return names
}
