package jobs

import (
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
)

func TestScheduleGolden(t *testing.T) {
	job, err := BackupJob{Cluster: "hippo", Namespace: "pgo", RepoHost: renderedRepoHost(t, "hippo"), Type: "full",
		Options: mustOptions(t, "--process-max=2"), Suffix: "abcde"}.Render()
	if err != nil {
		t.Fatal(err)
	}
	cj, err := Schedule{Name: "hippo-pgbackrest-full", Cluster: "hippo", Namespace: "pgo", Cron: "0 1 * * *",
		Type: BackupTypePGBackRest, Job: job}.Render()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "schedule-pgbackrest.yaml", cj)

	// The template is the backup Job, as backup renders it, but for the
	// suspension and the schedule's label.
	tmpl := cj.Spec.JobTemplate
	want := job.DeepCopy()
	want.Spec.Suspend = nil
	want.Spec.Template.Labels[LabelSchedule] = "hippo-pgbackrest-full"
	if !reflect.DeepEqual(tmpl.Spec, want.Spec) {
		t.Error("the CronJob's Job spec is not the backup Job's")
	}
	if tmpl.Labels[LabelSchedule] != "hippo-pgbackrest-full" || tmpl.Labels["app.kubernetes.io/component"] != ComponentBackup {
		t.Errorf("Job labels %v: want the backup Job's and the schedule's", tmpl.Labels)
	}
	if job.Labels[LabelSchedule] != "" {
		t.Error("Render changed the Job it was given")
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || *cj.Spec.StartingDeadlineSeconds != 600 ||
		*cj.Spec.SuccessfulJobsHistoryLimit != 3 || *cj.Spec.FailedJobsHistoryLimit != 3 {
		t.Errorf("policy %s, deadline %d, history %d/%d", cj.Spec.ConcurrencyPolicy, *cj.Spec.StartingDeadlineSeconds,
			*cj.Spec.SuccessfulJobsHistoryLimit, *cj.Spec.FailedJobsHistoryLimit)
	}
	if !ScheduleSelector("hippo").AsSelector().Matches(labelsSet(cj.Labels)) || ScheduleSelector("other").AsSelector().Matches(labelsSet(cj.Labels)) {
		t.Errorf("ScheduleSelector does not select the CronJob by its cluster: %v", cj.Labels)
	}
	if !BackupSelector("hippo").AsSelector().Matches(labelsSet(tmpl.Labels)) {
		t.Error("the scheduled Jobs are not backup Jobs to the backup queue")
	}
	if cmd := strings.Join(tmpl.Spec.Template.Spec.Containers[0].Command, " "); !strings.Contains(cmd, "--lock-path=/backrestrepo/"+BackupLockDir) {
		t.Errorf("command %q: the lock is not on the repository PVC", cmd)
	}
}

func TestScheduledDumpGolden(t *testing.T) {
	job := PGDumpJob{Cluster: "hippo", Namespace: "pgo", Image: "ghcr.io/kubectl-pgo/postgres:15", Database: "app",
		PVC: "backup-hippo-pgdump-pvc", Suffix: "x7k2p", Scheduled: true}.Render()
	cj, err := Schedule{Name: "nightly", Cluster: "hippo", Namespace: "pgo", Cron: "@daily", TimeZone: "Europe/Paris",
		Type: BackupTypePGDump, Job: job, SuccessfulHistory: 7}.Render()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "schedule-pgdump.yaml", cj)
	if _, ok := cj.Spec.JobTemplate.Labels[LabelPGDumpTimestamp]; ok {
		t.Error("a scheduled dump has a timestamp label fixed at render time")
	}
	env := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env
	if env[0].Name != "JOB_NAME" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-name']" {
		t.Errorf("JOB_NAME must come first, from the pod's job-name label: %+v", env[0])
	}
	ran := &batchv1.Job{}
	ran.Name = "nightly-29400000"
	ran.Annotations = cj.Spec.JobTemplate.Annotations
	if got := DumpPath(ran); got != "/pgdump/hippo-backups/nightly-29400000/app.dump" {
		t.Errorf("DumpPath = %q", got)
	}
	base := PGBaseBackupJob{Cluster: "hippo", Namespace: "pgo", Image: "img", PVC: "p", Scheduled: true}.Render()
	ran.Annotations = base.Annotations
	if got := DumpPath(ran); got != "/pgbasebackup/hippo-backups/nightly-29400000" {
		t.Errorf("base backup DumpPath = %q", got)
	}
}

func TestScheduleRenderRefuses(t *testing.T) {
	job := PGDumpJob{Cluster: "hippo", Namespace: "pgo", Image: "img", Database: "app", PVC: "p", Scheduled: true}.Render()
	ok := Schedule{Name: "s", Cluster: "hippo", Namespace: "pgo", Cron: "0 1 * * *", Type: BackupTypePGDump, Job: job}
	for _, tc := range []struct {
		name   string
		change func(*Schedule)
		want   string
	}{
		{"no Job", func(s *Schedule) { s.Job = nil }, "the Job are required"},
		{"long name", func(s *Schedule) { s.Name = strings.Repeat("a", 53) }, "at most 52"},
		{"bad name", func(s *Schedule) { s.Name = "Nightly" }, "is not valid"},
		{"bad cron", func(s *Schedule) { s.Cron = "0 25 * * *" }, "invalid cron expression"},
		{"bad zone", func(s *Schedule) { s.TimeZone = "Mars/Olympus" }, "unknown time zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			if _, err := s.Render(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseCron(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		expr, zone string
		next       string // RFC 3339, or the error wanted
		fails      bool
	}{
		{expr: "0 1 * * *", next: "2026-11-27T01:00:00Z"},
		{expr: "*/15 * * * *", next: "2026-11-26T10:45:00Z"},
		{expr: "@hourly", next: "2026-11-26T11:00:00Z"},
		{expr: "0 1 * * *", zone: "Europe/Paris", next: "2026-11-27T01:00:00+01:00"},
		{expr: "0 1 * * MON-FRI", next: "2026-11-27T01:00:00Z"},
		{expr: "", fails: true, next: "empty"},
		{expr: "0 1 * *", fails: true, next: "expected exactly 5 fields"},
		{expr: "0 0 1 * * *", fails: true, next: "expected exactly 5 fields"},
		{expr: "61 * * * *", fails: true, next: "invalid cron expression"},
		{expr: "every day", fails: true, next: "invalid cron expression"},
		{expr: "CRON_TZ=UTC 0 1 * * *", fails: true, next: "--time-zone"},
		{expr: "0 1 * * *", zone: "Local", fails: true, next: "unknown time zone"},
		{expr: "0 1 * * *", zone: "Nowhere/Town", fails: true, next: "unknown time zone"},
	} {
		t.Run(tc.expr+" "+tc.zone, func(t *testing.T) {
			s, loc, err := ParseCron(tc.expr, tc.zone)
			if tc.fails {
				if err == nil || !strings.Contains(err.Error(), tc.next) {
					t.Fatalf("err = %v, want %q", err, tc.next)
				}
				if !NextRun(tc.expr, tc.zone, at).IsZero() {
					t.Error("NextRun of a bad expression is not zero")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(at.In(loc)).Format(time.RFC3339); got != tc.next {
				t.Errorf("next = %s, want %s", got, tc.next)
			}
			if got := NextRun(tc.expr, tc.zone, at).Format(time.RFC3339); got != tc.next {
				t.Errorf("NextRun = %s, want %s", got, tc.next)
			}
		})
	}
}

func TestDefaultScheduleName(t *testing.T) {
	if got := DefaultScheduleName("hippo", BackupTypePGBackRest, "incr"); got != "hippo-pgbackrest-incr" {
		t.Errorf("got %s", got)
	}
	if got := DefaultScheduleName("hippo", BackupTypePGDump, ""); got != "hippo-pgdump" {
		t.Errorf("got %s", got)
	}
}
