package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// scaleDatabase sets the replicas of the primary's StatefulSet (the first
// instance's, unless a failover made another the primary). Nothing else
// of it changes.
func (r *InPlace) scaleDatabase(ctx context.Context, replicas int) error {
	return r.scaleInstance(ctx, r.primaryInstance(), replicas)
}

// stopDatabase scales the StatefulSet to 0 and waits until its pod is
// gone, so that nothing uses the data directory.
func (r *InPlace) stopDatabase(ctx context.Context, plan *Plan) error {
	start := r.Now()
	if plan.Replicas > 0 {
		r.progress("Stopping the database: scaling StatefulSet %s to 0 replicas...", plan.StatefulSet.Name)
		if err := r.scaleDatabase(ctx, 0); err != nil {
			return err
		}
	}
	selector := cluster.DatabaseSelector(r.Name).String()
	var left []string
	err := kube.WaitFor(ctx, r.PollInterval, stopTimeout, func(ctx context.Context) (bool, error) {
		pods, err := r.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
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
			strings.Join(left, ", "), err, r.primaryPod(), r.Namespace, r.StartCommand())
	}
	if plan.Replicas > 0 {
		r.progress("The database pod %s is gone (%s).", r.primaryPod(), r.Now().Sub(start).Round(100*time.Millisecond))
	}
	return nil
}

// recovered is the state of the database after the restore.
type recovered struct {
	timeline int
	paused   bool
	duration time.Duration
}

// startDatabase scales the StatefulSet to 1 and waits until PostgreSQL has
// recovered: ready and promoted (or paused at the target, with
// --target-action=pause). waitCtx bounds the waiting; ctx is for the
// clean-up after a failure.
func (r *InPlace) startDatabase(waitCtx, ctx context.Context) (recovered, error) {
	ns := r.Namespace
	pod := r.primaryPod()
	start := r.Now()
	var db recovered
	r.progress("Starting the database: scaling StatefulSet %s to 1 replica...", r.primaryInstance())
	if err := r.scaleDatabase(ctx, 1); err != nil {
		return db, fmt.Errorf("%w. The restore has succeeded; start the database with: %s", err, r.StartCommand())
	}
	r.progress("Waiting for PostgreSQL to replay %s and to be promoted...", r.ReplayDescription())

	pause := r.Options.TargetAction == repo.TargetActionPause
	lastStatus := ""
	var crashed error
	err := kube.WaitFor(waitCtx, r.PollInterval, r.Timeout, func(ctx context.Context) (bool, error) {
		p, err := r.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		status := "pod " + pod + " " + string(p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name != databaseContainer {
				continue
			}
			waiting := cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
			if cs.RestartCount > 0 || cs.State.Terminated != nil || waiting {
				crashed = r.recoveryFailed(ctx, pod, cs)
				return false, crashed
			}
			if cs.State.Running == nil {
				return false, nil
			}
		}
		stdout, stderr, err := r.Exec(ctx, ns, pod, databaseContainer, []string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
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
					if tl, err := repo.SegmentTimeline(walFile); err == nil && walFileName.MatchString(walFile) {
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
			r.progress("  %s", status)
			lastStatus = status
		}
		return false, nil
	})
	db.duration = r.Now().Sub(start)
	switch {
	case crashed != nil:
		return db, crashed
	case errors.Is(err, context.Canceled):
		return db, fmt.Errorf("interrupted while PostgreSQL was recovering: it goes on. Watch it with kubectl logs -f %s -c %s -n %s",
			pod, databaseContainer, ns)
	case waitEnded(err):
		return db, fmt.Errorf("PostgreSQL has not finished its recovery within --timeout=%s: it may still be replaying WAL. Watch it with kubectl logs -f %s -c %s -n %s",
			r.Timeout, pod, databaseContainer, ns)
	case err != nil:
		return db, err
	}
	return db, nil
}

// recoveryFailed scales the database back to 0 when PostgreSQL failed to
// start after the restore (it would only fail again), and explains why,
// with the FATAL lines of its log.
func (r *InPlace) recoveryFailed(ctx context.Context, pod string, cs corev1.ContainerStatus) error {
	ns, name := r.Namespace, r.Name
	previous := cs.RestartCount > 0 && cs.State.Terminated == nil
	lines := r.podLogTail(ctx, pod, databaseContainer, previous)
	if !previous && !slices.ContainsFunc(lines, postgresFailure) {
		// The kubelet may have restarted the container since its status was
		// read: the new one's log only says that recovery was interrupted,
		// and the failure is in the previous one's.
		if prev := r.podLogTail(ctx, pod, databaseContainer, true); slices.ContainsFunc(prev, postgresFailure) {
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
		if len(lines) > logLines {
			lines = lines[len(lines)-logLines:]
		}
		for _, l := range lines {
			fatal = append(fatal, "  | "+l)
		}
	}
	stopped := "The database was scaled back to 0, so that it does not restart in a loop."
	if err := r.scaleDatabase(ctx, 0); err != nil {
		stopped = fmt.Sprintf("Scaling it back to 0 failed too (%v).", err)
	}
	advice := "Fix the cause, then restore again: " + r.Command
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
			name, ns, r.Command)
	}
	return fmt.Errorf("the restore Job succeeded, but PostgreSQL failed to recover: container %s of pod %s exited (restarts: %d). Its log says:\n%s\n%s\n%s",
		databaseContainer, pod, cs.RestartCount, strings.Join(fatal, "\n"), stopped, advice)
}

// postgresFailure tells whether a line of PostgreSQL's log is why it
// stopped.
func postgresFailure(line string) bool {
	return strings.Contains(line, "FATAL:") || strings.Contains(line, "PANIC:")
}
