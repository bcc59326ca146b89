package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Backup schedules are CronJobs. Their jobTemplate is the Job that
// `kubectl pgo backup` would create, rendered by the same code (BackupJob,
// PGDumpJob, PGBaseBackupJob), so a scheduled backup and an on-demand one
// differ only in who creates the Job.
//
// A scheduled Job is not suspended, so it does not go through StartBackup's
// queue. What keeps backups apart then:
//   - concurrencyPolicy Forbid: a schedule never overlaps itself;
//   - its Job carries the backup Job labels, so `kubectl pgo backup` (and
//     restore) see it as an active backup and refuse to run beside it;
//   - pgBackRest takes the stanza's backup lock in the database pod, which
//     every backup reaches over TLS, and the backup Jobs keep their own lock
//     files on the repository PVC when there is one (BackupLockDir): a
//     scheduled backup that starts while another backup runs fails at once
//     with pgBackRest's "unable to acquire lock", and the schedule's next
//     run tries again.

// ComponentSchedule is the component of schedule CronJobs.
const ComponentSchedule = "schedule"

// Labels of a schedule CronJob and of the Jobs it creates.
const (
	// LabelSchedule is the schedule's name, on the CronJob and its Jobs.
	LabelSchedule = "kubectl-pgo.io/schedule"
)

// Schedule defaults.
const (
	// DefaultStartingDeadline: a run missed by more than this (the
	// controller was down, or a previous run was still going) is skipped
	// rather than started late.
	DefaultStartingDeadline = 10 * time.Minute
	// DefaultSuccessfulHistory and DefaultFailedHistory are the Jobs a
	// CronJob keeps.
	DefaultSuccessfulHistory = 3
	DefaultFailedHistory     = 3
)

// MaxScheduleNameLength is the longest CronJob name: its Jobs are named
// <schedule>-<minutes since the epoch>, and a Job name is at most 63
// characters.
const MaxScheduleNameLength = 52

// DefaultScheduleName is v4's schedule name: <cluster>-<type>, and for
// pgBackRest <cluster>-pgbackrest-<full|diff|incr>.
func DefaultScheduleName(clusterName, scheduleType, pgbackrestType string) string {
	if scheduleType == BackupTypePGBackRest {
		return clusterName + "-" + scheduleType + "-" + pgbackrestType
	}
	return clusterName + "-" + scheduleType
}

// ValidateScheduleName checks a CronJob name.
func ValidateScheduleName(name string) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("schedule name %q is not valid: %s", name, strings.Join(msgs, "; "))
	}
	if len(name) > MaxScheduleNameLength {
		return fmt.Errorf("schedule name %q has %d characters: a schedule name has at most %d (its Jobs add 11); give a shorter --schedule-name",
			name, len(name), MaxScheduleNameLength)
	}
	return nil
}

// cronParser is the parser the CronJob controller uses: five fields, and
// the descriptors such as @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron checks a cron expression as the CronJob controller reads it,
// in the given time zone (the controller's, which is UTC on most
// clusters, when empty).
func ParseCron(expr, timeZone string) (cron.Schedule, *time.Location, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil, fmt.Errorf("the cron expression is empty: give five fields, minute hour day-of-month month day-of-week, e.g. '0 1 * * *'")
	}
	// Kubernetes refuses a time zone inside the expression: it has a
	// field of its own.
	if strings.Contains(expr, "TZ") {
		return nil, nil, fmt.Errorf("invalid cron expression %q: give the time zone with --time-zone, not in the expression", expr)
	}
	loc := time.UTC
	if timeZone != "" {
		var err error
		if loc, err = time.LoadLocation(timeZone); err != nil || timeZone == "Local" {
			return nil, nil, fmt.Errorf("unknown time zone %q: give an IANA name such as Europe/Paris or UTC", timeZone)
		}
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid cron expression %q: %v; give five fields, minute hour day-of-month month day-of-week, e.g. '0 1 * * *'", expr, err)
	}
	return s, loc, nil
}

// NextRun is the first run of the expression after t, in the time zone;
// the zero time when it cannot be parsed.
func NextRun(expr, timeZone string, t time.Time) time.Time {
	s, loc, err := ParseCron(expr, timeZone)
	if err != nil {
		return time.Time{}
	}
	return s.Next(t.In(loc))
}

// Schedule describes a schedule's CronJob.
type Schedule struct {
	// Name is the CronJob's; Cluster and Namespace are the cluster's.
	Name, Cluster, Namespace string
	// Cron is the cron expression; TimeZone an IANA name, or empty.
	Cron, TimeZone string
	// Type is the backup type: pgbackrest, pgdump or pgbasebackup.
	Type string
	// Job is the Job that each run creates, as BackupJob, PGDumpJob or
	// PGBaseBackupJob render it; its name is not used.
	Job *batchv1.Job
	// StartingDeadline and the history limits take the defaults when zero.
	StartingDeadline                 time.Duration
	SuccessfulHistory, FailedHistory int32
}

// Render returns the CronJob.
func (s Schedule) Render() (*batchv1.CronJob, error) {
	if s.Job == nil || s.Cluster == "" || s.Namespace == "" {
		return nil, fmt.Errorf("schedule %s: the cluster, its namespace and the Job are required", s.Name)
	}
	if err := ValidateScheduleName(s.Name); err != nil {
		return nil, err
	}
	if _, _, err := ParseCron(s.Cron, s.TimeZone); err != nil {
		return nil, err
	}
	deadline := positiveOr(s.StartingDeadline, DefaultStartingDeadline)
	successful, failed := positiveOr(s.SuccessfulHistory, DefaultSuccessfulHistory), positiveOr(s.FailedHistory, DefaultFailedHistory)
	l := cluster.Labels(s.Cluster, ComponentSchedule)
	l[LabelBackupType] = s.Type
	if t := s.Job.Labels[LabelPGBackRestType]; t != "" {
		l[LabelPGBackRestType] = t
	}
	l[LabelSchedule] = s.Name

	// The Jobs keep the backup Job's labels, so that backup, restore and
	// show backup see them as they see their own, plus the schedule's name.
	tmpl := s.Job.DeepCopy()
	tmpl.Labels[LabelSchedule] = s.Name
	tmpl.Spec.Template.Labels[LabelSchedule] = s.Name
	// A CronJob's Job runs when created: the suspended start is
	// StartBackup's, for on-demand backups only.
	tmpl.Spec.Suspend = nil

	var tz *string
	if s.TimeZone != "" {
		tz = ptr.To(s.TimeZone)
	}
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: l},
		Spec: batchv1.CronJobSpec{
			Schedule:                   s.Cron,
			TimeZone:                   tz,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr.To(int64(deadline / time.Second)),
			SuccessfulJobsHistoryLimit: ptr.To(successful),
			FailedJobsHistoryLimit:     ptr.To(failed),
			Suspend:                    ptr.To(false),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: tmpl.Labels, Annotations: tmpl.Annotations},
				Spec:       tmpl.Spec,
			},
		},
	}, nil
}
