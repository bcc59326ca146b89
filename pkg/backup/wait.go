package backup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const (
	// WaitGrace is how long a wait lasts beyond the Job's deadline, for the
	// Job controller to notice the deadline.
	WaitGrace = 2 * time.Minute
	// confirmTimeout bounds the pgbackrest info that confirms the new
	// backup.
	confirmTimeout = time.Minute
)

// Result is what `kubectl pgo backup -o json|yaml` prints: the Job that
// was started, and after Wait how it ended.
type Result struct {
	Job        string `json:"job"`
	Namespace  string `json:"namespace"`
	Cluster    string `json:"cluster"`
	BackupType string `json:"backupType"`
	// Type is the pgBackRest backup type asked for; Backup.Type is the one
	// made (pgBackRest makes an incr or a diff a full when there is no
	// full backup yet).
	Type    string `json:"type"`
	Command string `json:"command"`
	Status  string `json:"status"`
	// Label is the new backup's label, once it completed.
	Label string     `json:"label,omitempty"`
	Start *time.Time `json:"start,omitempty"`
	Stop  *time.Time `json:"stop,omitempty"`
	// Backup is the new backup as pgbackrest info reports it.
	Backup *repo.BackupSummary `json:"backup,omitempty"`
	// Reason, ExitCode and Errors say why a backup failed.
	Reason   string   `json:"reason,omitempty"`
	ExitCode *int32   `json:"exitCode,omitempty"`
	Errors   []string `json:"errors,omitempty"`
	// Warnings are problems that did not fail the backup.
	Warnings []string `json:"warnings,omitempty"`
}

// NewResult is the Result of a backup Job that Start started.
func NewResult(r Request, started *batchv1.Job) Result {
	return Result{
		Job:        started.Name,
		Namespace:  r.Namespace,
		Cluster:    r.Cluster,
		BackupType: jobs.BackupTypePGBackRest,
		Type:       r.Type,
		Command:    started.Annotations[jobs.AnnotationBackupCommand],
		Status:     Started,
	}
}

// Status values of a Result.
const (
	Started   = "Started"
	Succeeded = "Succeeded"
	Failed    = "Failed"
)

// Waiter follows a started backup Job: where it writes, what it runs.
type Waiter struct {
	Client kubernetes.Interface
	// Exec runs df when the backup failed (RepoFull); Info confirms the
	// new backup.
	Exec Exec
	Info Info
	// Log takes the Job's log; ErrOut its progress and the warnings.
	Log, ErrOut io.Writer
	Interval    time.Duration
	Now         func() time.Time
}

// Wait follows the Job to its end, then confirms the new backup with
// pgbackrest info. It fills result, and returns an error when the backup
// failed (saying so when the repository volume is full) or could not be
// followed. A backup that succeeded but could not be confirmed is a
// warning.
func (w Waiter) Wait(ctx context.Context, r Request, job *batchv1.Job, result *Result) error {
	err := w.follow(ctx, r, job, result)
	if result.Status == Failed {
		// pgBackRest often reports a full repository as a WAL segment that
		// was not archived in time: say what is behind it.
		if full := RepoFull(ctx, w.Client, w.Exec, r.Namespace, r.Spec); full != "" {
			result.Errors = append(result.Errors, full)
			err = fmt.Errorf("%w\n%s", err, full)
		}
	}
	return err
}

func (w Waiter) follow(ctx context.Context, r Request, job *batchv1.Job, result *Result) error {
	ns := job.Namespace
	waitCtx, cancel := context.WithTimeout(ctx, r.Deadline+WaitGrace)
	defer cancel()
	out, err := jobs.Follow(waitCtx, w.Client, ns, job.Name, jobs.FollowOptions{
		Container: jobs.RepoHostContainer,
		Log:       w.Log,
		Status:    statusTo(w.ErrOut),
		Interval:  w.Interval,
	})
	if err != nil {
		what := "could not follow"
		switch {
		case errors.Is(err, context.Canceled):
			what = "stopped following"
		case errors.Is(err, context.DeadlineExceeded):
			what = "timed out following"
		}
		result.Reason = err.Error()
		return fmt.Errorf("%s backup job %s: %w. The backup goes on without this command: follow it with kubectl logs -f job/%s -n %s",
			what, job.Name, err, job.Name, ns)
	}
	if t := out.Job.Status.StartTime; t != nil {
		start := t.UTC()
		result.Start = &start
	}
	stop := w.Now().UTC()
	if t := out.Job.Status.CompletionTime; t != nil {
		stop = t.UTC()
	} else if t := out.FinishedAt; t != nil {
		stop = t.UTC()
	}
	result.Stop = &stop
	result.ExitCode = out.ExitCode

	if !out.Succeeded {
		result.Status = Failed
		result.Reason = cmp.Or(out.Reason, "Failed")
		result.Errors = repo.ErrorLines(out.Log)
		return BackupJobFailed(job.Name, ns, out, result.Errors)
	}
	result.Status = Succeeded
	result.Label = repo.BackupLabelFromLog(out.Log)
	confirmCtx, cancelConfirm := context.WithTimeout(ctx, confirmTimeout)
	defer cancelConfirm()
	backup, err := w.Confirm(confirmCtx, r.Namespace, r.Cluster, result.Label, out.Job)
	if err != nil {
		result.Warnings = append(result.Warnings, err.Error())
		fmt.Fprintf(w.ErrOut, "Warning: %v\n", err)
		return nil
	}
	result.Label = backup.Label
	result.Backup = backup
	return nil
}

// Confirm reads the new backup from pgbackrest info in the repository
// pod: the one labelled in the log, or when the log did not say (a
// console log level below info), the newest one that started after the
// Job.
func (w Waiter) Confirm(ctx context.Context, ns, name, label string, job *batchv1.Job) (*repo.BackupSummary, error) {
	pod, err := FindPGBackRestPod(ctx, w.Client, ns, name)
	if err != nil {
		return nil, fmt.Errorf("the backup succeeded, but pgbackrest info could not confirm it: %w", err)
	}
	args := []string{}
	if label != "" {
		args = append(args, "--set="+label)
	}
	stanza, err := w.Info(ctx, ns, pod.Name, args...)
	if err != nil {
		return nil, fmt.Errorf("the backup succeeded, but pgbackrest info could not confirm it: %w", err)
	}
	// pgBackRest exits 0 with an error status, e.g. 6 for a label it does
	// not know.
	if err := stanza.Err(); err != nil {
		return nil, fmt.Errorf("the backup succeeded, but pgbackrest info could not confirm it: %w", err)
	}
	var found *repo.Backup
	if label != "" {
		if b, ok := repo.FindBackup(stanza.Backup, label); ok {
			found = &b
		}
	} else {
		since := job.CreationTimestamp.Unix()
		for _, b := range repo.SortBackups(stanza.Backup) {
			if b.Timestamp.Start >= since-1 {
				found = &b
			}
		}
	}
	if found == nil {
		what := "the new backup"
		if label != "" {
			what = "backup " + label
		}
		return nil, fmt.Errorf("the backup Job succeeded, but pgbackrest info does not list %s", what)
	}
	sum := repo.Summarize(repo.Stanza{Backup: []repo.Backup{*found}})
	return &sum.Backups[0], nil
}
