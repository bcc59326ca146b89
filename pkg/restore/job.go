package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// jobFinished tells whether a Job has completed or failed.
func jobFinished(job *batchv1.Job) bool {
	_, finished := jobCondition(job)
	return finished
}

// jobCondition returns the Job's final condition, if any.
func jobCondition(job *batchv1.Job) (batchv1.JobCondition, bool) {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c, true
		}
	}
	return batchv1.JobCondition{}, false
}

// startJob deletes the previous restore Job, which is finished (check
// refused a running one), and creates the new one.
func (r *InPlace) startJob(ctx context.Context, plan *Plan) (*batchv1.Job, error) {
	ns, name := r.Namespace, jobs.RestoreJobName(r.Name)
	stopped := fmt.Sprintf("The database is stopped; start it again with: %s", r.StartCommand())
	jobClient := r.Client.BatchV1().Jobs(ns)
	err := jobClient.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	switch {
	case err == nil:
		r.progress("Deleted the previous restore Job %s.", name)
		err = kube.WaitFor(ctx, r.PollInterval, time.Minute, func(ctx context.Context) (bool, error) {
			_, err := jobClient.Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			return nil, fmt.Errorf("the previous restore Job %s is still there: %w. %s", name, err, stopped)
		}
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("deleting the previous restore Job %s: %w. %s", name, err, stopped)
	}
	// A Job deleted in the background leaves its pod to stop on its own:
	// two restores must never write the data directory at once.
	var left []string
	err = kube.WaitFor(ctx, r.PollInterval, stopTimeout, func(ctx context.Context) (bool, error) {
		pods, err := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: jobs.RestoreSelector(r.Name).String()})
		if err != nil {
			return false, nil
		}
		left = left[:0]
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				left = append(left, p.Name)
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the pod of the previous restore Job is still running (%s): %w. %s", strings.Join(left, ", "), err, stopped)
	}

	job, err := r.restoreJob(plan)
	if err != nil {
		return nil, fmt.Errorf("%w. %s", err, stopped)
	}
	created, err := jobClient.Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("creating the restore Job %s: %w. %s", name, err, stopped)
	}
	what := "pgbackrest "
	if plan.BaseBackup != nil {
		what = ""
	}
	r.progress("Started the restore Job %s: %s%s", name, what, job.Annotations[jobs.AnnotationRestoreOptions])
	return created, nil
}

// restoreJob renders the Job for the plan.
func (r *InPlace) restoreJob(plan *Plan) (*batchv1.Job, error) {
	j := jobs.RestoreJob{
		Cluster:   r.Name,
		Namespace: r.Namespace,
		Database:  plan.StatefulSet,
		PGData:    cluster.DataDirectory(r.Name),
		Options:   r.Options,
		ExtraArgs: r.objectStoreOnly,
	}
	if bb := plan.BaseBackup; bb != nil {
		j.Options = repo.RestoreOptions{}
		j.BaseBackup = &jobs.BaseBackupSource{Name: bb.Name, PVC: bb.PVC, Dir: bb.Path}
	}
	return j.Render()
}

// jobResult is what the Job did.
type jobResult struct {
	duration time.Duration
	// backupSet is the backup pgBackRest restored, from its log.
	backupSet string
}

// logTail keeps the last lines of a log.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *logTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 200 {
		t.lines = t.lines[len(t.lines)-200:]
	}
}

func (t *logTail) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// setLine is pgBackRest's line naming the backup it restores:
// "repo1: restore backup set 20261124-120000F, recovery will start at ...".
var setLine = regexp.MustCompile(`restore backup set ([0-9]{8}-[0-9]{6}F(?:_[0-9]{8}-[0-9]{6}[DI])?)`)

// followJob waits for the Job to finish, printing its log as it goes.
func (r *InPlace) followJob(ctx context.Context, job *batchv1.Job) (jobResult, error) {
	ns := r.Namespace
	start := r.Now()
	tail := &logTail{}
	var streamDone chan struct{}
	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	lastStatus := ""

	// The Job's pods carry its uid (both label keys exist since 1.27).
	selector := "controller-uid=" + string(job.UID)
	var result jobResult
	err := kube.WaitFor(ctx, r.PollInterval, r.Timeout, func(ctx context.Context) (bool, error) {
		current, err := r.Client.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("the restore Job %s was deleted while it ran", job.Name)
		}
		if err != nil {
			return false, nil // transient: try again
		}
		pods, err := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		var pod *corev1.Pod
		if err == nil && len(pods.Items) > 0 {
			pod = &pods.Items[len(pods.Items)-1]
		}
		if pod != nil && streamDone == nil && podStarted(pod) {
			streamDone = make(chan struct{})
			go func(pod string) {
				defer close(streamDone)
				r.streamLog(streamCtx, pod, tail)
			}(pod.Name)
		}
		if status := podStatus(pod); status != lastStatus && status != "" {
			r.progress("%s", status)
			lastStatus = status
		}

		cond, finished := jobCondition(current)
		if !finished {
			return false, nil
		}
		// Let the log stream reach the end of the log.
		if streamDone != nil {
			select {
			case <-streamDone:
			case <-time.After(5 * time.Second):
			}
		}
		lines := tail.get()
		if len(lines) == 0 && pod != nil {
			lines = r.podLogTail(ctx, pod.Name, pgbackrestContainer, false)
		}
		result.duration = r.Now().Sub(start)
		for _, l := range lines {
			if m := setLine.FindStringSubmatch(l); m != nil {
				result.backupSet = m[1]
			}
		}
		if cond.Type == batchv1.JobFailed {
			return false, r.jobFailed(current, pod, cond, lines)
		}
		r.progress("The restore Job %s succeeded (%s).", job.Name, result.duration.Round(100*time.Millisecond))
		return true, nil
	})
	if waitEnded(err) {
		what := "Timed out after " + r.Timeout.String()
		if errors.Is(err, context.Canceled) {
			what = "Interrupted"
		}
		return result, fmt.Errorf("%s while the restore Job %s was running. It goes on: follow it with kubectl logs -f job/%s -n %s. "+
			"The database is stopped until it is started again: once the Job has succeeded, run %s",
			what, job.Name, job.Name, ns, r.StartCommand())
	}
	return result, err
}

// waitEnded tells whether a wait ended by its timeout or by an
// interruption, rather than by a failure it found.
func waitEnded(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// podStarted tells whether the pod's container has started, so
// that its log can be read.
func podStarted(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// podStatus says why a restore pod has not started, if it has not.
func podStatus(p *corev1.Pod) string {
	if p == nil || p.Status.Phase != corev1.PodPending {
		return ""
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
			return fmt.Sprintf("The restore pod %s is waiting: %s %s", p.Name, w.Reason, w.Message)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
			return fmt.Sprintf("The restore pod %s cannot be scheduled yet: %s", p.Name, c.Message)
		}
	}
	return ""
}

// streamLog prints the log of the restore pod as it is written, and keeps
// its end.
func (r *InPlace) streamLog(ctx context.Context, pod string, tail *logTail) {
	req := r.Client.CoreV1().Pods(r.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: pgbackrestContainer, Follow: true})
	stream, err := req.Stream(ctx)
	if err != nil {
		r.progress("(cannot follow the log of %s: %v)", pod, err)
		return
	}
	defer stream.Close()
	scanner := bufio.NewScanner(stream)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		tail.add(line)
		fmt.Fprintf(r.Progress, "  | %s\n", line)
	}
}

// podLogTail returns the last lines of a container's log, or nothing.
func (r *InPlace) podLogTail(ctx context.Context, pod, container string, previous bool) []string {
	lines := int64(logLines * 2)
	data, err := r.Client.CoreV1().Pods(r.Namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, TailLines: &lines, Previous: previous,
	}).DoRaw(ctx)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

// jobFailed explains a failed restore Job.
func (r *InPlace) jobFailed(job *batchv1.Job, pod *corev1.Pod, cond batchv1.JobCondition, lines []string) error {
	ns := r.Namespace
	var b strings.Builder
	fmt.Fprintf(&b, "the restore Job %s failed", job.Name)
	why := cond.Reason
	if cond.Message != "" {
		why += ": " + cond.Message
	}
	if pod != nil {
		for _, cs := range pod.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				why = fmt.Sprintf("the restore exited with code %d (%s)", t.ExitCode, why)
			}
		}
	}
	fmt.Fprintf(&b, ": %s.\n", why)
	var errLines []string
	for _, l := range lines {
		if strings.Contains(l, "ERROR:") || strings.Contains(l, "FATAL:") || strings.Contains(l, "HINT:") ||
			strings.HasPrefix(l, "kubectl-pgo: PostgreSQL stopped") {
			errLines = append(errLines, "  "+l)
		}
	}
	if len(errLines) > 0 {
		fmt.Fprintf(&b, "The errors in its log:\n%s\n", strings.Join(errLines, "\n"))
	}
	if len(lines) > logLines {
		lines = lines[len(lines)-logLines:]
	}
	if len(lines) > 0 {
		fmt.Fprintf(&b, "The last lines of its log:\n  | %s\n", strings.Join(lines, "\n  | "))
	}
	if r.RetryAdvice != "" {
		b.WriteString(r.RetryAdvice + "\n")
	} else {
		fmt.Fprintf(&b, "The database is still stopped (StatefulSet %s has 0 replicas), and its data directory may be partly restored.\n", r.primaryInstance())
		fmt.Fprintf(&b, "Fix the cause, then run the restore again (it replaces the failed Job): %s\n", r.Command)
	}
	fmt.Fprintf(&b, "The whole log: kubectl logs job/%s -n %s", job.Name, ns)
	return errors.New(b.String())
}
