package fakecluster

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

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
