package cmd

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// The fake cluster of these tests is fakecluster.New: cluster "hippo" in
// namespace "pgo", with one full backup.

// runRestore runs `kubectl pgo restore` with args; stdin is answer, on a
// terminal when terminal is true.
func runRestore(t *testing.T, fx *fakecluster.Cluster, answer string, terminal bool, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(answer)
	o := NewRestoreOptions(streams)
	o.exec = fx.Exec
	o.isTerminal = func(io.Reader) bool { return terminal }
	o.pollInterval = time.Millisecond
	o.now = func() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) }
	cmd := newRestoreCommand(fx.Factory, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// Invalid flags are refused before any request.
func TestRestoreInvalidInputSendsNothing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", nil, "a cluster name is required"},
		{"two names", []string{"a", "b"}, "takes one cluster name"},
		{"bad name", []string{"Hippo_1"}, `"Hippo_1" is not a cluster name`},
		{"malformed timestamp", []string{"hippo", "--pitr-target=2026-11-24 12:00"}, `invalid --pitr-target: "2026-11-24 12:00" is not a valid point-in-time target: give a date, a time and a time zone, e.g. '2026-11-24 12:00:00+00'`},
		{"timestamp without zone", []string{"hippo", "--pitr-target=2026-11-24 12:00:00"}, "it has no time zone"},
		{"denied option", []string{"hippo", "--backup-opts=--stanza=x"}, "--stanza cannot be given"},
		{"unknown option", []string{"hippo", "--backup-opts=--bogus=1"}, "--bogus is not a restore option"},
		{"malformed set", []string{"hippo", "--backup-opts=--set=latest"}, `"latest" is not a backup label`},
		{"conflicting targets", []string{"hippo", "--pitr-target=2026-11-24T12:00:00Z", "--backup-opts=--type=xid --target=5"}, "conflicts with --type=xid"},
		{"target twice", []string{"hippo", "--pitr-target=2026-11-24T12:00:00Z", "--backup-opts=--type=time '--target=2026-11-24T12:00:00Z'"}, "both give the target"},
		{"shutdown", []string{"hippo", "--backup-opts=--type=immediate --target-action=shutdown"}, "shutdown is not supported"},
		{"timeout", []string{"hippo", "--timeout=0s"}, "--timeout must be more than 0"},
		{"unknown backup type", []string{"hippo", "--backup-type=tar"}, `unknown --backup-type "tar"`},
		{"pgbasebackup with options", []string{"hippo", "--backup-type=pgbasebackup", "--backup-opts=--set=x"}, "--backup-opts does not apply to --backup-type=pgbasebackup"},
		{"pgbasebackup with a database", []string{"hippo", "--backup-type=pgbasebackup", "--pgdump-database=app"}, "--pgdump-database applies to --backup-type=pgdump only"},
		{"pgbasebackup malformed name", []string{"hippo", "--backup-type=pgbasebackup", "--backup-name=last"}, `invalid --backup-name "last": a pgbasebackup backup is named by its UTC timestamp`},
		{"pgdump name and target", []string{"hippo", "--backup-type=pgdump", "--backup-name=2026-11-24-12-00-00", "--pitr-target=2026-11-24T12:00:00Z"}, "give --backup-name or --pitr-target, not both"},
		{"pgdump malformed name", []string{"hippo", "--backup-type=pgdump", "--backup-name=latest"}, `invalid --backup-name "latest"`},
		{"pgdump forbidden option", []string{"hippo", "--backup-type=pgdump", "--backup-opts=--dbname=x"}, "--dbname is managed by kubectl-pgo"},
		{"pgdump bad pvc", []string{"hippo", "--backup-type=pgdump", "--backup-pvc=Bad_PVC"}, `invalid --backup-pvc "Bad_PVC"`},
		{"timeline not a number", []string{"hippo", "--target-timeline=abc"}, `invalid --target-timeline: "abc" is not a timeline: use current, latest or a timeline number such as 2`},
		{"timeline zero", []string{"hippo", "--target-timeline=0"}, `"0" is not a timeline`},
		{"timeline twice", []string{"hippo", "--target-timeline=2", "--backup-opts=--target-timeline=latest"}, "--target-timeline is given twice"},
		{"backup-name without pgdump", []string{"hippo", "--backup-name=2026-11-24-12-00-00"}, "--backup-name applies to --backup-type=pgdump or pgbasebackup only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := fakecluster.New(t)
			_, _, err := runRestore(t, fx, "yes\n", true, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if n := len(fx.Factory.Clientset.Actions()); n != 0 {
				t.Errorf("%d API requests despite invalid input: %v", n, fx.Factory.Clientset.Actions())
			}
			if len(fx.Execs()) != 0 {
				t.Errorf("commands run despite invalid input: %v", fx.Execs())
			}
		})
	}
}

// What only the cluster can tell is refused before anything is stopped.
func TestRestoreRefusesBeforeStopping(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		answer string
		tty    bool
		setup  func(*fakecluster.Cluster)
		want   string
	}{
		{name: "missing cluster", args: []string{"nope", "--yes"}, want: `cluster "nope" not found in namespace "pgo"`},
		{name: "no backups", args: []string{"hippo", "--yes"}, setup: func(fx *fakecluster.Cluster) { fx.Info = fakecluster.InfoNoBackups },
			want: `cluster "hippo" has no backups to restore from: take one first (kubectl pgo backup hippo -n pgo --wait)`},
		{name: "unknown set", args: []string{"hippo", "--yes", "--backup-opts=--set=20261124-000000F"},
			want: "backup 20261124-000000F does not exist in the repository of cluster \"hippo\"; its backups are:\n  20261126-072526F (full, ended 2026-11-26 07:25:29+00)"},
		{name: "target before the first backup", args: []string{"hippo", "--yes", "--pitr-target=2026-11-26 07:25:00+00"},
			want: "target 2026-11-26 07:25:00+00 is before the end of the oldest backup (20261126-072526F"},
		{name: "target after the last archived WAL", args: []string{"hippo", "--yes", "--pitr-target=2026-11-26T07:41:00Z"}, setup: fakecluster.StopDatabasePod,
			want: "target 2026-11-26 07:41:00+00 is after the last archived WAL: the newest WAL segment (000000010000000000000006) was archived at 2026-11-26 07:40:01+00"},
		{name: "target after now", args: []string{"hippo", "--yes", "--pitr-target=2026-11-26T08:01:00Z"},
			want: "target 2026-11-26 08:01:00+00 is after the last archived WAL: the newest WAL segment (the current one of the running database) was archived at 2026-11-26 08:00:00+00"},
		{name: "unknown timeline", args: []string{"hippo", "--yes", "--target-timeline=7"}, setup: fakecluster.WithTimelines,
			want: `cannot restore cluster "hippo": timeline 7 does not exist in the archive; its timelines are 1, 2, 3 (see kubectl pgo show backup). Nothing was changed`},
		{name: "set off the current timeline", args: []string{"hippo", "--yes", "--backup-opts=--set=20261204-045249F_20261204-045300I"}, setup: fakecluster.WithTimelines,
			want: "backup 20261204-045249F_20261204-045300I cannot be restored to timeline 3: backup 20261204-045249F_20261204-045300I ended at LSN 0/4000100 on timeline 1, after timeline 2 forked off it at 0/32F5EE8. Backups that can:\n  20261204-045249F (full, ended 2026-12-04 04:52:53+00)"},
		{name: "time on an abandoned timeline", args: []string{"hippo", "--yes", "--pitr-target=2026-12-04 04:52:59+00"}, setup: fakecluster.WithTimelines,
			want: "at 2026-12-04 04:52:59+00 the database was on timeline 1, and timeline 2 forked off it at LSN 0/32F5EE8, at an earlier point (before 2026-12-04 04:52:57.886614+00), so timeline 3 does not hold that state: add --target-timeline=1"},
		{name: "declined", args: []string{"hippo"}, answer: "no\n", tty: true, want: `restore of cluster "hippo" cancelled: the answer was "no", not yes; nothing was changed`},
		{name: "no answer", args: []string{"hippo"}, answer: "", tty: true, want: `the answer was "", not yes`},
		{name: "no terminal", args: []string{"hippo"}, answer: "yes\n", want: "stdin is not a terminal: pass --yes"},
		{name: "repository host down", args: []string{"hippo", "--yes"}, setup: func(fx *fakecluster.Cluster) {
			_ = fx.Factory.Clientset.Tracker().Delete(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "pgo", "hippo-backrest-shared-repo-abc")
		}, want: `the repository host (or, for an S3-only cluster, the database pod) of cluster "hippo" is not running`},
		{name: "restore running", args: []string{"hippo", "--yes"}, setup: func(fx *fakecluster.Cluster) {
			_ = fx.Factory.Clientset.Tracker().Add(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-restore", Namespace: "pgo",
				CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 26, 7, 58, 0, 0, time.UTC))}})
		}, want: `a restore of cluster "hippo" is already running: Job hippo-restore, started 2m0s ago`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := fakecluster.New(t)
			if tc.setup != nil {
				tc.setup(fx)
			}
			_, _, err := runRestore(t, fx, tc.answer, tc.tty, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if m := fx.Mutations(); len(m) != 0 {
				t.Errorf("changes despite the refusal: %v", m)
			}
			for _, e := range fx.Execs() {
				// Reading pg_stat_archiver changes nothing.
				if strings.Contains(e, "psql") && !strings.Contains(e, "FROM pg_stat_archiver") {
					t.Errorf("ran in the database: %s", e)
				}
			}
		})
	}
}

// After a PITR, a restore to the latest point starts from the backup on
// the current timeline's history, not from the newest one: the defect of
// issue 16, where PostgreSQL then stopped with "requested timeline 2 is
// not a child of this server's history".
func TestRestoreLatestAfterPITRChoosesBackupOnTheTimeline(t *testing.T) {
	fx := fakecluster.New(t)
	fakecluster.WithTimelines(fx)
	_, errOut, err := runRestore(t, fx, "", false, "hippo", "--yes", "--wait=false")
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "overwritten with backup 20261204-045249F (full") {
		t.Errorf("the prompt names another backup:\n%s", errOut)
	}
	job, err := fx.Factory.Clientset.BatchV1().Jobs("pgo").Get(context.Background(), "hippo-restore", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cmd := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "); !strings.Contains(cmd, "restore --delta --set=20261204-045249F --log-level-console=info") {
		t.Errorf("job command: %s", cmd)
	}

	// Timeline 1 by number: the incremental, the newest backup on it.
	fx = fakecluster.New(t)
	fakecluster.WithTimelines(fx)
	if _, errOut, err = runRestore(t, fx, "", false, "hippo", "--yes", "--wait=false", "--target-timeline=1"); err != nil {
		t.Fatalf("restore: %v\n%s", err, errOut)
	}
	job, err = fx.Factory.Clientset.BatchV1().Jobs("pgo").Get(context.Background(), "hippo-restore", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cmd := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "); !strings.Contains(cmd, "--set=20261204-045249F_20261204-045300I --target-timeline=1 ") {
		t.Errorf("job command: %s", cmd)
	}
}

func TestRestoreWithoutWait(t *testing.T) {
	fx := fakecluster.New(t)
	out, errOut, err := runRestore(t, fx, "yes\n", true, "hippo", "--wait=false", "--pitr-target=2026-11-26 07:30:00+00", "--backup-opts=--process-max=2")
	if err != nil {
		t.Fatalf("restore: %v\nstderr:\n%s", err, errOut)
	}
	if got, want := strings.Join(fx.Mutations(), ", "), "patch statefulsets, delete jobs, create jobs"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	for _, want := range []string{
		`This restores cluster "hippo" in namespace "pgo" in place:`,
		"StatefulSet hippo is scaled to 0 (pod hippo-0)",
		"Its data directory /pgdata/hippo on PVC hippo is overwritten with backup 20261126-072526F (full, ended 2026-11-26 07:25:29+00)",
		"replays the archived WAL up to 2026-11-26 07:30:00+00",
		`Type "yes" to restore:`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("prompt lacks %q:\n%s", want, errOut)
		}
	}
	for _, want := range []string{
		"Restore Job hippo-restore created in namespace pgo",
		"kubectl logs -f job/hippo-restore -n pgo",
		"kubectl scale statefulset hippo --replicas=1 -n pgo",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	job, err := fx.Factory.Clientset.BatchV1().Jobs("pgo").Get(context.Background(), "hippo-restore", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " ")
	if !strings.Contains(cmd, "--stanza=db restore --delta --set=20261126-072526F --type=time --target=2026-11-26 07:30:00+00 --target-action=promote --process-max=2") {
		t.Errorf("job command: %s", cmd)
	}
	sts, err := fx.Factory.Clientset.AppsV1().StatefulSets("pgo").Get(context.Background(), "hippo", metav1.GetOptions{})
	if err != nil || *sts.Spec.Replicas != 0 {
		t.Errorf("StatefulSet replicas = %v, %v; want 0 until the Job is done", sts.Spec.Replicas, err)
	}
}

func TestRestoreWait(t *testing.T) {
	fx := fakecluster.New(t)
	out, errOut, err := runRestore(t, fx, "", false, "hippo", "--yes")
	if err != nil {
		t.Fatalf("restore: %v\nstderr:\n%s", err, errOut)
	}
	if got, want := strings.Join(fx.Mutations(), ", "), "patch statefulsets, delete jobs, create jobs, patch statefulsets"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	sts, err := fx.Factory.Clientset.AppsV1().StatefulSets("pgo").Get(context.Background(), "hippo", metav1.GetOptions{})
	if err != nil || *sts.Spec.Replicas != 1 {
		t.Errorf("StatefulSet replicas = %v, %v; want 1", sts.Spec.Replicas, err)
	}
	for _, want := range []string{
		`Cluster "hippo" restored in namespace "pgo" from backup 20261126-072526F, to the end of the archived WAL (the latest point)`,
		"PostgreSQL recovered and was promoted on timeline 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(errOut, `Type "yes"`) {
		t.Errorf("--yes asked anyway:\n%s", errOut)
	}
}

func TestRestorePausedAtTarget(t *testing.T) {
	fx := fakecluster.New(t)
	fx.PSQL = "t|paused|\n"
	out, errOut, err := runRestore(t, fx, "", false, "hippo", "--yes", "--backup-opts=--type=immediate --target-action=pause")
	if err != nil {
		t.Fatalf("restore: %v\nstderr:\n%s", err, errOut)
	}
	if !strings.Contains(out, "PostgreSQL is paused at the target") || !strings.Contains(out, "pg_wal_replay_resume()") {
		t.Errorf("output:\n%s", out)
	}
}

// baseBackupObjects are the base backup PVC of hippo and the Jobs that
// made two base backups on it.
func baseBackupObjects() []k8sruntime.Object {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "backup-hippo-pgbasebackup-pvc", Namespace: "pgo"}}
	out := []k8sruntime.Object{pvc}
	for _, ts := range []string{"2026-11-26-07-00-00", "2026-11-26-07-30-00"} {
		j := pgdumpJob("pgo", "hippo", jobs.ComponentPGBaseBackup, ts)
		j.Labels[jobs.LabelPGDumpPVC] = pvc.Name
		j.Annotations[jobs.AnnotationPGDumpPath] = "/pgbasebackup/hippo-backups/" + ts
		out = append(out, j)
	}
	return out
}

// A base backup restore is refused, before anything changes, when the
// backup or its PVC is missing, or a Job of the cluster runs.
func TestRestoreBaseBackupRefuses(t *testing.T) {
	running := func(name, component string) func(*fakecluster.Cluster) {
		return func(fx *fakecluster.Cluster) {
			l := cluster.Labels("hippo", component)
			_ = fx.Factory.Clientset.Tracker().Add(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pgo", Labels: l,
				CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 26, 7, 59, 0, 0, time.UTC))}})
		}
	}
	for _, tc := range []struct {
		name  string
		args  []string
		setup func(*fakecluster.Cluster)
		want  string
	}{
		{"unknown name", []string{"--backup-name=2026-11-26-06-00-00"}, nil,
			"base backup 2026-11-26-06-00-00 does not exist on PVC backup-hippo-pgbasebackup-pvc; its base backups are: 2026-11-26-07-00-00 (cluster hippo, app), 2026-11-26-07-30-00"},
		{"missing PVC", []string{"--backup-pvc=nope"}, nil, "PVC nope does not exist in namespace \"pgo\""},
		{"before every backup", []string{"--pitr-target=2026-11-26T06:00:00Z"}, nil, "no base backup on PVC backup-hippo-pgbasebackup-pvc was made at or before 2026-11-26T06:00:00Z: the oldest is 2026-11-26-07-00-00"},
		{"pgBackRest backup running", nil, running("hippo-backup-full-aaaaa", jobs.ComponentBackup),
			"backup Job hippo-backup-full-aaaaa of cluster hippo is running (started 1m0s ago): a restore cannot run beside it"},
		{"dump running", nil, running("hippo-pgdump-aaaaa", jobs.ComponentPGDump), "pgdump Job hippo-pgdump-aaaaa of cluster hippo is running"},
		{"base backup running", nil, running("hippo-pgbasebackup-aaaaa", jobs.ComponentPGBaseBackup), "a restore cannot run beside it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := fakecluster.New(t)
			for _, obj := range baseBackupObjects() {
				_ = fx.Factory.Clientset.Tracker().Add(obj)
			}
			if tc.setup != nil {
				tc.setup(fx)
			}
			_, _, err := runRestore(t, fx, "", false, append([]string{"hippo", "--backup-type=pgbasebackup", "--yes"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if m := fx.Mutations(); len(m) != 0 {
				t.Errorf("changes despite the refusal: %v", m)
			}
		})
	}
}

func TestRestoreBaseBackupWithoutWait(t *testing.T) {
	fx := fakecluster.New(t)
	for _, obj := range baseBackupObjects() {
		_ = fx.Factory.Clientset.Tracker().Add(obj)
	}
	out, errOut, err := runRestore(t, fx, "yes\n", true, "hippo", "--backup-type=pgbasebackup", "--backup-name=2026-11-26-07-00-00", "--wait=false")
	if err != nil {
		t.Fatalf("restore: %v\nstderr:\n%s", err, errOut)
	}
	if got, want := strings.Join(fx.Mutations(), ", "), "patch statefulsets, delete jobs, create jobs"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	for _, want := range []string{
		"is emptied, and base backup 2026-11-26-07-00-00 (taken 2026-11-26 07:00:00+00, /pgbasebackup/hippo-backups/2026-11-26-07-00-00 on PVC backup-hippo-pgbasebackup-pvc)",
		"PostgreSQL then replays the WAL of the base backup, up to its end, and is promoted on a new timeline",
		"Every change made after the base backup is lost",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("prompt lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "run kubectl pgo restore hippo -n pgo --backup-type=pgbasebackup --backup-name=2026-11-26-07-00-00 again") {
		t.Errorf("output:\n%s", out)
	}
	for _, e := range fx.Execs() {
		if strings.Contains(e, "pgbackrest") {
			t.Errorf("read the pgBackRest repository: %s", e)
		}
	}
	job, err := fx.Factory.Clientset.BatchV1().Jobs("pgo").Get(context.Background(), "hippo-restore", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := job.Spec.Template.Spec.Containers[0].Command
	if got := strings.Join(cmd[len(cmd)-3:], " "); got != "/pgdata/hippo /pgbasebackup/hippo-backups/2026-11-26-07-00-00 db" {
		t.Errorf("job arguments: %s", got)
	}
}

// With --wait, the restore ends with PostgreSQL promoted, and the recovery
// settings of the Job removed from postgresql.auto.conf.
func TestRestoreBaseBackupWait(t *testing.T) {
	fx := fakecluster.New(t)
	for _, obj := range baseBackupObjects() {
		_ = fx.Factory.Clientset.Tracker().Add(obj)
	}
	out, errOut, err := runRestore(t, fx, "", false, "hippo", "--backup-type=pgbasebackup", "--yes")
	if err != nil {
		t.Fatalf("restore: %v\nstderr:\n%s", err, errOut)
	}
	if !strings.Contains(out, "from base backup 2026-11-26-07-30-00") || !strings.Contains(out, "promoted on timeline 2") {
		t.Errorf("output:\n%s", out)
	}
	reset := ""
	for _, e := range fx.Execs() {
		if strings.Contains(e, "ALTER SYSTEM") {
			reset = e
		}
	}
	for _, s := range []string{"restore_command", "recovery_target", "recovery_target_action", "recovery_target_timeline"} {
		if !strings.Contains(reset, "-c ALTER SYSTEM RESET "+s) {
			t.Errorf("%s is not reset: %q", s, reset)
		}
	}
	if got, want := strings.Join(fx.Mutations(), ", "), "patch statefulsets, delete jobs, create jobs, patch statefulsets"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
}
