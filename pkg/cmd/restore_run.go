package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// The containers of the database pod.
const (
	restoreDatabaseContainer   = "database"
	restorePGBackRestContainer = "pgbackrest"
)

// restoreJobFinished tells whether a Job has completed or failed.
func restoreJobFinished(job *batchv1.Job) bool {
	_, finished := restoreJobCondition(job)
	return finished
}

// restoreJobCondition returns the Job's final condition, if any.
func restoreJobCondition(job *batchv1.Job) (batchv1.JobCondition, bool) {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c, true
		}
	}
	return batchv1.JobCondition{}, false
}

// scaleDatabase sets the replicas of the database StatefulSet. Nothing else
// of it changes.
func (o *RestoreOptions) scaleDatabase(ctx context.Context, replicas int) error {
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas))
	_, err := o.client.AppsV1().StatefulSets(o.namespace).Patch(ctx, cluster.StatefulSetName(o.Name), types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return fmt.Errorf("scaling StatefulSet %s to %d: %w", cluster.StatefulSetName(o.Name), replicas, err)
	}
	return nil
}

// startCommand is how to start the database by hand.
func (o *RestoreOptions) startCommand() string {
	return fmt.Sprintf("kubectl scale statefulset %s --replicas=1 -n %s", cluster.StatefulSetName(o.Name), o.namespace)
}

// stopDatabase scales the StatefulSet to 0 and waits until its pod is
// gone, so that nothing uses the data directory.
func (o *RestoreOptions) stopDatabase(ctx context.Context, plan *restorePlan) error {
	start := o.now()
	if plan.replicas > 0 {
		o.progress("Stopping the database: scaling StatefulSet %s to 0 replicas...", plan.sts.Name)
		if err := o.scaleDatabase(ctx, 0); err != nil {
			return err
		}
	}
	selector := cluster.DatabaseSelector(o.Name).String()
	var left []string
	err := kube.WaitFor(ctx, o.pollInterval, restoreStopTimeout, func(ctx context.Context) (bool, error) {
		pods, err := o.client.CoreV1().Pods(o.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			left = []string{err.Error()}
			return false, nil
		}
		left = left[:0]
		for _, p := range pods.Items {
			left = append(left, p.Name)
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("the database pod did not stop (%s still there): %w. The StatefulSet is scaled to 0; see kubectl describe pod %s -n %s, then run the restore again, or start the database with: %s",
			strings.Join(left, ", "), err, cluster.PodName(o.Name), o.namespace, o.startCommand())
	}
	if plan.replicas > 0 {
		o.progress("The database pod %s is gone (%s).", cluster.PodName(o.Name), o.now().Sub(start).Round(100*time.Millisecond))
	}
	return nil
}

// startJob deletes the previous restore Job, which is finished (check
// refused a running one), and creates the new one.
func (o *RestoreOptions) startJob(ctx context.Context, plan *restorePlan) (*batchv1.Job, error) {
	ns, name := o.namespace, jobs.RestoreJobName(o.Name)
	stopped := fmt.Sprintf("The database is stopped; start it again with: %s", o.startCommand())
	jobClient := o.client.BatchV1().Jobs(ns)
	err := jobClient.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	switch {
	case err == nil:
		o.progress("Deleted the previous restore Job %s.", name)
		err = kube.WaitFor(ctx, o.pollInterval, time.Minute, func(ctx context.Context) (bool, error) {
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
	err = kube.WaitFor(ctx, o.pollInterval, restoreStopTimeout, func(ctx context.Context) (bool, error) {
		pods, err := o.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: jobs.RestoreSelector(o.Name).String()})
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

	job, err := o.restoreJob(plan)
	if err != nil {
		return nil, fmt.Errorf("%w. %s", err, stopped)
	}
	created, err := jobClient.Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("creating the restore Job %s: %w. %s", name, err, stopped)
	}
	what := "pgbackrest "
	if plan.baseBackup != nil {
		what = ""
	}
	o.progress("Started the restore Job %s: %s%s", name, what, job.Annotations[jobs.AnnotationRestoreOptions])
	return created, nil
}

// restoreJob renders the Job for the plan.
func (o *RestoreOptions) restoreJob(plan *restorePlan) (*batchv1.Job, error) {
	r := jobs.RestoreJob{
		Cluster:   o.Name,
		Namespace: o.namespace,
		Database:  plan.sts,
		PGData:    cluster.DataDirectory(o.Name),
		Options:   o.options,
		ExtraArgs: o.s3Only,
	}
	if bb := plan.baseBackup; bb != nil {
		r.Options = repo.RestoreOptions{}
		r.BaseBackup = &jobs.BaseBackupSource{Name: bb.Name, PVC: bb.PVC, Dir: bb.Path}
	}
	return r.Render()
}

// restoreJobResult is what the Job did.
type restoreJobResult struct {
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

// restoreSetLine is pgBackRest's line naming the backup it restores:
// "repo1: restore backup set 20261124-120000F, recovery will start at ...".
var restoreSetLine = regexp.MustCompile(`restore backup set ([0-9]{8}-[0-9]{6}F(?:_[0-9]{8}-[0-9]{6}[DI])?)`)

// followJob waits for the Job to finish, printing its log as it goes.
func (o *RestoreOptions) followJob(ctx context.Context, job *batchv1.Job) (restoreJobResult, error) {
	ns := o.namespace
	start := o.now()
	tail := &logTail{}
	var streamDone chan struct{}
	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	lastStatus := ""

	// The Job's pods carry its uid (both label keys exist since 1.27).
	selector := "controller-uid=" + string(job.UID)
	var result restoreJobResult
	err := kube.WaitFor(ctx, o.pollInterval, o.Timeout, func(ctx context.Context) (bool, error) {
		current, err := o.client.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("the restore Job %s was deleted while it ran", job.Name)
		}
		if err != nil {
			return false, nil // transient: try again
		}
		pods, err := o.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		var pod *corev1.Pod
		if err == nil && len(pods.Items) > 0 {
			pod = &pods.Items[len(pods.Items)-1]
		}
		if pod != nil && streamDone == nil && restorePodStarted(pod) {
			streamDone = make(chan struct{})
			go func(pod string) {
				defer close(streamDone)
				o.streamLog(streamCtx, pod, tail)
			}(pod.Name)
		}
		if status := restorePodStatus(pod); status != lastStatus && status != "" {
			o.progress("%s", status)
			lastStatus = status
		}

		cond, finished := restoreJobCondition(current)
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
			lines = o.podLogTail(ctx, pod.Name, restorePGBackRestContainer, false)
		}
		result.duration = o.now().Sub(start)
		for _, l := range lines {
			if m := restoreSetLine.FindStringSubmatch(l); m != nil {
				result.backupSet = m[1]
			}
		}
		if cond.Type == batchv1.JobFailed {
			return false, o.jobFailed(current, pod, cond, lines)
		}
		o.progress("The restore Job %s succeeded (%s).", job.Name, result.duration.Round(100*time.Millisecond))
		return true, nil
	})
	if restoreWaitEnded(err) {
		what := "Timed out after " + o.Timeout.String()
		if errors.Is(err, context.Canceled) {
			what = "Interrupted"
		}
		return result, fmt.Errorf("%s while the restore Job %s was running. It goes on: follow it with kubectl logs -f job/%s -n %s. "+
			"The database is stopped until it is started again: once the Job has succeeded, run %s",
			what, job.Name, job.Name, ns, o.startCommand())
	}
	return result, err
}

// restoreWaitEnded tells whether a wait ended by its timeout or by an
// interruption, rather than by a failure it found.
func restoreWaitEnded(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// restorePodStarted tells whether the pod's container has started, so
// that its log can be read.
func restorePodStarted(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// restorePodStatus says why a restore pod has not started, if it has not.
func restorePodStatus(p *corev1.Pod) string {
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
func (o *RestoreOptions) streamLog(ctx context.Context, pod string, tail *logTail) {
	req := o.client.CoreV1().Pods(o.namespace).GetLogs(pod, &corev1.PodLogOptions{Container: restorePGBackRestContainer, Follow: true})
	stream, err := req.Stream(ctx)
	if err != nil {
		o.progress("(cannot follow the log of %s: %v)", pod, err)
		return
	}
	defer stream.Close()
	scanner := bufio.NewScanner(stream)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		tail.add(line)
		fmt.Fprintf(o.ErrOut, "  | %s\n", line)
	}
}

// podLogTail returns the last lines of a container's log, or nothing.
func (o *RestoreOptions) podLogTail(ctx context.Context, pod, container string, previous bool) []string {
	lines := int64(restoreLogLines * 2)
	data, err := o.client.CoreV1().Pods(o.namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, TailLines: &lines, Previous: previous,
	}).DoRaw(ctx)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

// jobFailed explains a failed restore Job.
func (o *RestoreOptions) jobFailed(job *batchv1.Job, pod *corev1.Pod, cond batchv1.JobCondition, lines []string) error {
	ns, name := o.namespace, o.Name
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
	if len(lines) > restoreLogLines {
		lines = lines[len(lines)-restoreLogLines:]
	}
	if len(lines) > 0 {
		fmt.Fprintf(&b, "The last lines of its log:\n  | %s\n", strings.Join(lines, "\n  | "))
	}
	if o.retryAdvice != "" {
		b.WriteString(o.retryAdvice + "\n")
	} else {
		fmt.Fprintf(&b, "The database is still stopped (StatefulSet %s has 0 replicas), and its data directory may be partly restored.\n", cluster.StatefulSetName(name))
		fmt.Fprintf(&b, "Fix the cause, then run the restore again (it replaces the failed Job): %s\n", o.restoreCommand())
	}
	fmt.Fprintf(&b, "The whole log: kubectl logs job/%s -n %s", job.Name, ns)
	return errors.New(b.String())
}

// restoredDatabase is the state of the database after the restore.
type restoredDatabase struct {
	timeline int
	paused   bool
	duration time.Duration
}

// walFileName is the name of a WAL segment; its first 8 hex digits are
// the timeline.
var walFileName = regexp.MustCompile(`^[0-9A-F]{24}$`)

// startDatabase scales the StatefulSet to 1 and waits until PostgreSQL has
// recovered: ready and promoted (or paused at the target, with
// --target-action=pause). waitCtx bounds the waiting; ctx is for the
// clean-up after a failure.
func (o *RestoreOptions) startDatabase(waitCtx, ctx context.Context) (restoredDatabase, error) {
	ns, name := o.namespace, o.Name
	pod := cluster.PodName(name)
	start := o.now()
	var db restoredDatabase
	o.progress("Starting the database: scaling StatefulSet %s to 1 replica...", cluster.StatefulSetName(name))
	if err := o.scaleDatabase(ctx, 1); err != nil {
		return db, fmt.Errorf("%w. The restore has succeeded; start the database with: %s", err, o.startCommand())
	}
	o.progress("Waiting for PostgreSQL to replay %s and to be promoted...", o.replayDescription())

	pause := o.options.TargetAction == repo.TargetActionPause
	lastStatus := ""
	var crashed error
	err := kube.WaitFor(waitCtx, o.pollInterval, o.Timeout, func(ctx context.Context) (bool, error) {
		p, err := o.client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		status := "pod " + pod + " " + string(p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name != restoreDatabaseContainer {
				continue
			}
			waiting := cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
			if cs.RestartCount > 0 || cs.State.Terminated != nil || waiting {
				crashed = o.recoveryFailed(ctx, pod, cs)
				return false, crashed
			}
			if cs.State.Running == nil {
				return false, nil
			}
		}
		stdout, stderr, err := o.exec(ctx, ns, pod, restoreDatabaseContainer, []string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
			"SELECT pg_is_in_recovery(), " +
				// Both functions fail on the wrong side of the promotion.
				"CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE '' END, " +
				"CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_current_wal_lsn()) END"})
		if err != nil {
			status += ", PostgreSQL not accepting connections yet"
			if msg, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n"); strings.Contains(msg, "ERROR:") {
				status += " (" + msg + ")"
			}
		} else {
			fields := strings.Split(strings.TrimSpace(stdout), "|")
			if len(fields) == 3 {
				inRecovery, pauseState, walFile := fields[0] == "t", fields[1], fields[2]
				switch {
				case !inRecovery && kube.IsPodReady(p):
					if walFileName.MatchString(walFile) {
						tl, _ := strconv.ParseInt(walFile[:8], 16, 64)
						db.timeline = int(tl)
					}
					return true, nil
				case inRecovery && pause && pauseState == "paused" && kube.IsPodReady(p):
					db.paused = true
					return true, nil
				case inRecovery:
					status += ", PostgreSQL replaying WAL"
				default:
					status += ", PostgreSQL promoted, waiting for the pod to be ready"
				}
			}
		}
		if status != lastStatus {
			o.progress("  %s", status)
			lastStatus = status
		}
		return false, nil
	})
	db.duration = o.now().Sub(start)
	switch {
	case crashed != nil:
		return db, crashed
	case errors.Is(err, context.Canceled):
		return db, fmt.Errorf("interrupted while PostgreSQL was recovering: it goes on. Watch it with kubectl logs -f %s -c %s -n %s",
			pod, restoreDatabaseContainer, ns)
	case restoreWaitEnded(err):
		return db, fmt.Errorf("PostgreSQL has not finished its recovery within --timeout=%s: it may still be replaying WAL. Watch it with kubectl logs -f %s -c %s -n %s",
			o.Timeout, pod, restoreDatabaseContainer, ns)
	case err != nil:
		return db, err
	}
	return db, nil
}

// recoveryFailed scales the database back to 0 when PostgreSQL failed to
// start after the restore (it would only fail again), and explains why,
// with the FATAL lines of its log.
func (o *RestoreOptions) recoveryFailed(ctx context.Context, pod string, cs corev1.ContainerStatus) error {
	ns, name := o.namespace, o.Name
	previous := cs.RestartCount > 0 && cs.State.Terminated == nil
	lines := o.podLogTail(ctx, pod, restoreDatabaseContainer, previous)
	if !previous && !slices.ContainsFunc(lines, postgresFailure) {
		// The kubelet may have restarted the container since its status was
		// read: the new one's log only says that recovery was interrupted,
		// and the failure is in the previous one's.
		if prev := o.podLogTail(ctx, pod, restoreDatabaseContainer, true); slices.ContainsFunc(prev, postgresFailure) {
			lines = prev
		}
	}
	var fatal []string
	for _, l := range lines {
		if postgresFailure(l) || strings.Contains(l, "HINT:") {
			fatal = append(fatal, "  | "+l)
		}
	}
	if len(fatal) == 0 {
		if len(lines) > restoreLogLines {
			lines = lines[len(lines)-restoreLogLines:]
		}
		for _, l := range lines {
			fatal = append(fatal, "  | "+l)
		}
	}
	stopped := "The database was scaled back to 0, so that it does not restart in a loop."
	if err := o.scaleDatabase(ctx, 0); err != nil {
		stopped = fmt.Sprintf("Scaling it back to 0 failed too (%v).", err)
	}
	advice := "Fix the cause, then restore again: " + o.restoreCommand()
	if strings.Contains(strings.Join(lines, "\n"), "recovery ended before configured recovery target was reached") {
		// PostgreSQL stops at the first commit after a time target; with
		// none in the archived WAL it gives up rather than guess.
		advice = fmt.Sprintf("The target was not reached: nothing was committed between the target and the end of the archived WAL, so every archived commit is before the target. "+
			"A restore to the latest point gives the same data: kubectl pgo restore %s -n %s", name, ns)
	}
	if log := strings.Join(lines, "\n"); strings.Contains(log, "is not a child of this server's history") || strings.Contains(log, "does not contain minimum recovery point") {
		// The backup is not on the history of the timeline the recovery
		// followed: the checks choose one that is, so this means the
		// archive changed between the checks and the recovery.
		advice = fmt.Sprintf("The backup restored is not on the history of the timeline the recovery followed (a timeline was added to the archive meanwhile?). "+
			"Run the restore again: it reads the timelines anew and starts from a backup on that history (kubectl pgo show backup %s -n %s lists which): %s",
			name, ns, o.restoreCommand())
	}
	return fmt.Errorf("the restore Job succeeded, but PostgreSQL failed to recover: container %s of pod %s exited (restarts: %d). Its log says:\n%s\n%s\n%s",
		restoreDatabaseContainer, pod, cs.RestartCount, strings.Join(fatal, "\n"), stopped, advice)
}

// postgresFailure tells whether a line of PostgreSQL's log is why it
// stopped.
func postgresFailure(line string) bool {
	return strings.Contains(line, "FATAL:") || strings.Contains(line, "PANIC:")
}

// printSummary prints what was restored.
func (o *RestoreOptions) printSummary(plan *restorePlan, job restoreJobResult, db restoredDatabase, total time.Duration) {
	if bb := plan.baseBackup; bb != nil {
		fmt.Fprintf(o.Out, "Cluster %q restored in namespace %q from base backup %s (%s on PVC %s), in %s.\n",
			o.Name, o.namespace, bb.Name, bb.Path, bb.PVC, total.Round(time.Second))
		fmt.Fprintf(o.Out, "  restore Job %s (extract the base backup): %s\n", jobs.RestoreJobName(o.Name), job.duration.Round(100*time.Millisecond))
		fmt.Fprintf(o.Out, "  PostgreSQL recovered to the end of the base backup and was promoted on timeline %d after %s; it archives its WAL there.\n", db.timeline, db.duration.Round(100*time.Millisecond))
		fmt.Fprintf(o.Out, "A new backup makes later restores of this timeline faster: kubectl pgo backup %s -n %s\n", o.Name, o.namespace)
		return
	}
	set := job.backupSet
	if set == "" {
		set = plan.backup.Label
	}
	fmt.Fprintf(o.Out, "Cluster %q restored in namespace %q from backup %s, to %s, in %s.\n",
		o.Name, o.namespace, set, o.options.Describe(), total.Round(time.Second))
	fmt.Fprintf(o.Out, "  restore Job %s (pgbackrest restore --delta): %s\n", jobs.RestoreJobName(o.Name), job.duration.Round(100*time.Millisecond))
	if db.paused {
		fmt.Fprintf(o.Out, "  PostgreSQL is paused at the target, still in recovery and read-only (after %s).\n", db.duration.Round(100*time.Millisecond))
		fmt.Fprintf(o.Out, "Inspect it; to promote it and end the recovery:\n  kubectl exec %s -c %s -n %s -- psql -c 'SELECT pg_wal_replay_resume()'\n",
			cluster.PodName(o.Name), restoreDatabaseContainer, o.namespace)
		return
	}
	tl := ""
	if db.timeline > 0 {
		tl = fmt.Sprintf(" on timeline %d", db.timeline)
	}
	fmt.Fprintf(o.Out, "  PostgreSQL recovered and was promoted%s after %s; it archives its WAL there.\n", tl, db.duration.Round(100*time.Millisecond))
	fmt.Fprintf(o.Out, "A new backup makes later restores of this timeline faster: kubectl pgo backup %s -n %s\n", o.Name, o.namespace)
}
