package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// Job states, as State reports them.
const (
	StateSuspended = "Suspended"
	StateRunning   = "Running"
	StateSucceeded = "Succeeded"
	StateFailed    = "Failed"
)

// State is a Job's state: Suspended, Running (which includes waiting for
// its pod), Succeeded or Failed.
func State(job *batchv1.Job) string {
	if c := finishedCondition(job); c != nil {
		if c.Type == batchv1.JobComplete {
			return StateSucceeded
		}
		return StateFailed
	}
	if ptr := job.Spec.Suspend; ptr != nil && *ptr {
		return StateSuspended
	}
	return StateRunning
}

// Finished tells whether the Job has ended, successfully or not.
func Finished(job *batchv1.Job) bool { return finishedCondition(job) != nil }

// finishedCondition returns the Job's Complete or Failed condition, when
// it is true.
func finishedCondition(job *batchv1.Job) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// conflictingComponents are the Jobs of a cluster that a backup must not
// run beside: another backup (pgBackRest would refuse it through its lock
// in the database pod, but with "unable to find primary cluster"; this
// says what runs), and a restore, which stops the database.
var conflictingComponents = []string{ComponentBackup, ComponentRestore, ComponentUpgrade}

// RestoreConflicts are the Jobs of a cluster that a restore, of any type,
// must not run beside: every Job that reads or writes its data. An in-place
// restore stops the database under them, and a dump restored during a
// backup would be in it by halves.
var RestoreConflicts = []string{ComponentBackup, ComponentRestore, ComponentPGDump, ComponentPGBaseBackup, ComponentPGDumpRestore, ComponentUpgrade}

// ActiveJobs returns the cluster's backup and restore Jobs that have not
// finished, oldest first (then by name, so that every client agrees on the
// order). Jobs being deleted do not count.
func ActiveJobs(ctx context.Context, client kubernetes.Interface, namespace, clusterName string) ([]batchv1.Job, error) {
	return ActiveJobsOf(ctx, client, namespace, clusterName, conflictingComponents)
}

// ActiveJobsOf is ActiveJobs for the Jobs of the given components.
func ActiveJobsOf(ctx context.Context, client kubernetes.Interface, namespace, clusterName string, components []string) ([]batchv1.Job, error) {
	list, err := client.BatchV1().Jobs(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: cluster.ClusterSelector(clusterName).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list the Jobs of cluster %s in namespace %s: %w", clusterName, namespace, err)
	}
	var active []batchv1.Job
	for _, job := range list.Items {
		if !slices.Contains(components, job.Labels[cluster.LabelComponent]) ||
			job.DeletionTimestamp != nil || Finished(&job) {
			continue
		}
		active = append(active, job)
	}
	active, err = withoutEndedPods(ctx, client, namespace, clusterName, active)
	if err != nil {
		return nil, err
	}
	kube.SortOldestFirst(active)
	return active, nil
}

// withoutEndedPods drops the Jobs that make a single attempt and whose pod
// has ended: their work is done, and the Job's Complete or Failed
// condition follows seconds later (the kubelet reports the pod's phase
// once its sandbox is gone). Without this, a backup or restore started
// right after `backup --wait` returned would be refused. It asks for the
// pods only when such a Job is running, so the common case costs no
// request.
func withoutEndedPods(ctx context.Context, client kubernetes.Interface, namespace, clusterName string, active []batchv1.Job) ([]batchv1.Job, error) {
	if !slices.ContainsFunc(active, func(j batchv1.Job) bool { return oneAttempt(&j) && State(&j) == StateRunning }) {
		return active, nil
	}
	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.ClusterSelector(clusterName).String()})
	if err != nil {
		return nil, fmt.Errorf("list the pods of the Jobs of cluster %s in namespace %s: %w", clusterName, namespace, err)
	}
	ended, running := map[string]bool{}, map[string]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		job := pod.Labels[batchv1.JobNameLabel]
		if job == "" {
			continue
		}
		if podEnded(pod) {
			ended[job] = true
		} else {
			running[job] = true
		}
	}
	return slices.DeleteFunc(active, func(j batchv1.Job) bool {
		return oneAttempt(&j) && ended[j.Name] && !running[j.Name]
	}), nil
}

// oneAttempt tells whether a Job makes a single attempt: once its pod
// has ended, it runs nothing more.
func oneAttempt(j *batchv1.Job) bool {
	return j.Spec.BackoffLimit != nil && *j.Spec.BackoffLimit == 0
}

// podEnded tells whether every container of the pod has terminated.
func podEnded(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return true
	}
	if len(pod.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Terminated == nil {
			return false
		}
	}
	return true
}

// ConflictError refuses a backup (or, with Action, another operation)
// because another Job of the cluster runs.
type ConflictError struct {
	Cluster, Namespace string
	Job                batchv1.Job
	Now                time.Time
	// Action is what is refused, e.g. "a restore"; empty for a backup.
	Action string
}

func (e *ConflictError) Error() string {
	j := &e.Job
	age := "just now"
	if !j.CreationTimestamp.IsZero() && e.Now.Sub(j.CreationTimestamp.Time) >= time.Second {
		age = e.Now.Sub(j.CreationTimestamp.Time).Round(time.Second).String() + " ago"
	}
	kind := j.Labels[cluster.LabelComponent]
	switch {
	case e.Action != "":
		return fmt.Sprintf("%s Job %s of cluster %s is %s (started %s): %s cannot run beside it. Follow it with: kubectl logs -f job/%s -n %s; run this again once it has ended (if it is stuck, delete it: kubectl delete job %s -n %s)",
			kind, j.Name, e.Cluster, strings.ToLower(State(j)), age, e.Action, j.Name, e.Namespace, j.Name, e.Namespace)
	case kind == ComponentRestore:
		return fmt.Sprintf("cluster %s is being restored by Job %s (started %s): a backup cannot run during a restore", e.Cluster, j.Name, age)
	case State(j) == StateSuspended:
		return fmt.Sprintf("backup Job %s of cluster %s was created %s but not started (its kubectl pgo backup was interrupted, or it is starting right now); if no backup is starting, delete it: kubectl delete job %s -n %s",
			j.Name, e.Cluster, age, j.Name, e.Namespace)
	default:
		return fmt.Sprintf("a backup of cluster %s is already running: Job %s (%s, started %s); two backups of a cluster never run at once. Follow it with: kubectl logs -f job/%s -n %s",
			e.Cluster, j.Name, j.Labels[LabelPGBackRestType], age, j.Name, e.Namespace)
	}
}

// CheckNoConflict returns a *ConflictError naming the oldest active backup
// or restore Job of the cluster, if there is one.
func CheckNoConflict(ctx context.Context, client kubernetes.Interface, namespace, clusterName string, now time.Time) error {
	return CheckNoActive(ctx, client, namespace, clusterName, conflictingComponents, "", now)
}

// CheckNoActive returns a *ConflictError naming the oldest active Job of
// the cluster among components; action says what it refuses.
func CheckNoActive(ctx context.Context, client kubernetes.Interface, namespace, clusterName string, components []string, action string, now time.Time) error {
	active, err := ActiveJobsOf(ctx, client, namespace, clusterName, components)
	if err != nil {
		return err
	}
	if len(active) > 0 {
		return &ConflictError{Cluster: clusterName, Namespace: namespace, Job: active[0], Now: now, Action: action}
	}
	return nil
}

// StartBackup creates the backup Job, which must have been rendered
// suspended, and resumes it when it is the oldest active backup or restore
// Job of the cluster. Otherwise it deletes it and returns a *ConflictError
// naming the older one: of two clients that start a backup at the same
// moment, exactly one runs it. The caller checks for a conflict before
// (CheckNoConflict), so that a refused backup creates nothing in the
// common case.
func StartBackup(ctx context.Context, client kubernetes.Interface, clusterName string, job *batchv1.Job, now time.Time) (*batchv1.Job, error) {
	if job.Spec.Suspend == nil || !*job.Spec.Suspend {
		return nil, fmt.Errorf("backup Job %s must be created suspended", job.Name)
	}
	ns := job.Namespace
	jobs := client.BatchV1().Jobs(ns)
	created, err := jobs.Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("create backup Job %s in namespace %s: %w", job.Name, ns, err)
	}
	active, err := ActiveJobs(ctx, client, ns, clusterName)
	if err == nil && len(active) > 0 && active[0].Name != created.Name {
		// Another backup (or a restore) was first: ours never ran.
		err = &ConflictError{Cluster: clusterName, Namespace: ns, Job: active[0], Now: now}
	}
	if err != nil {
		propagation := metav1.DeletePropagationBackground
		if derr := jobs.Delete(context.WithoutCancel(ctx), created.Name, metav1.DeleteOptions{PropagationPolicy: &propagation}); derr != nil {
			return nil, fmt.Errorf("%w (and the suspended Job %s could not be deleted: %v)", err, created.Name, derr)
		}
		return nil, err
	}
	resumed, err := jobs.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"spec":{"suspend":false}}`),
		metav1.PatchOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("start backup Job %s in namespace %s (it was created suspended; delete it if this persists): %w", created.Name, ns, err)
	}
	return resumed, nil
}
