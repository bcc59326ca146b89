package restore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// newInPlace is the restore of the fixture's cluster hippo with the
// pgBackRest options opts (as --backup-opts gives them), as the command
// builds it from its flags.
func newInPlace(t *testing.T, fx *fakecluster.Cluster, progress io.Writer, opts string) *InPlace {
	t.Helper()
	options, err := repo.ParseRestoreOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	target, err := options.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return &InPlace{
		Client: fx.Factory.Clientset, Exec: fx.Exec, Progress: progress,
		Name: "hippo", Namespace: "pgo", Options: options, Target: target,
		Timeout: time.Minute, PollInterval: time.Millisecond,
		Now:     func() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) },
		Command: "kubectl pgo restore hippo -n pgo",
	}
}

// Check, Start and Wait without cobra: the backup is chosen before
// anything changes; Start stops the database and creates the Job; Wait
// follows it and starts the database, promoted on a new timeline.
func TestInPlace(t *testing.T) {
	fx := fakecluster.New(t)
	var progress bytes.Buffer
	r := newInPlace(t, fx, &progress, "--process-max=2")
	ctx := context.Background()
	plan, err := r.Check(ctx)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if plan.Backup.Label != "20261126-072526F" || r.Options.Set != "20261126-072526F" || !plan.ArchiveFirst || !plan.OnLatest || plan.Replicas != 1 {
		t.Errorf("plan = %+v, set %q", plan, r.Options.Set)
	}
	if m := fx.Mutations(); len(m) != 0 {
		t.Errorf("Check changed %v", m)
	}
	if got := r.ReplayDescription(); got != "all the archived WAL (the latest point)" {
		t.Errorf("ReplayDescription = %q", got)
	}

	job, err := r.Start(ctx, plan)
	if err != nil {
		t.Fatalf("Start: %v\n%s", err, progress.String())
	}
	if got, want := strings.Join(fx.Mutations(), ", "), "patch statefulsets, delete jobs, create jobs"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if cmd := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "); !strings.Contains(cmd, "restore --delta --set=20261126-072526F --process-max=2") {
		t.Errorf("job command: %s", cmd)
	}
	for _, want := range []string{"Stopping the database: scaling StatefulSet hippo to 0 replicas", "Started the restore Job hippo-restore"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}

	res, err := r.Wait(ctx, plan, job)
	if err != nil {
		t.Fatalf("Wait: %v\n%s", err, progress.String())
	}
	if res.Timeline != 2 || res.Paused {
		t.Errorf("result = %+v", res)
	}
	if got, want := strings.Join(fx.Mutations(), ", "), "patch statefulsets, delete jobs, create jobs, patch statefulsets"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
}

func TestJobFailureMessage(t *testing.T) {
	o := &InPlace{Name: "hippo", Namespace: "pgo"}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-restore"}}
	pod := fakecluster.RunningPod("pgo", "hippo-restore-x", nil, "pgbackrest")
	pod.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 75}}
	err := o.jobFailed(job, pod, batchv1.JobCondition{Reason: "BackoffLimitExceeded"}, []string{
		"INFO: restore command begin",
		"ERROR: [075]: backup set 20261124-000000F is not valid",
		"INFO: restore command end: aborted with exception [075]",
	})
	for _, want := range []string{
		"the restore exited with code 75 (BackoffLimitExceeded)",
		"The errors in its log:\n  ERROR: [075]: backup set 20261124-000000F is not valid",
		"  | INFO: restore command end: aborted with exception [075]",
		"kubectl logs job/hippo-restore -n pgo",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// After a PITR, Check starts from the backup on the current timeline's
// history, not the newest one (issue 16), and names it with --set; with
// --target-timeline=1 it takes the newest backup on timeline 1.
func TestCheckChoosesBackupOnTheTimeline(t *testing.T) {
	for _, tc := range []struct{ opts, set, timeline string }{
		{"", "20261204-045249F", ""},
		{"--target-timeline=1", "20261204-045249F_20261204-045300I", "1"},
	} {
		fx := fakecluster.New(t)
		fakecluster.WithTimelines(fx)
		r := newInPlace(t, fx, io.Discard, tc.opts)
		plan, err := r.Check(context.Background())
		if err != nil {
			t.Fatalf("%s: Check: %v", tc.opts, err)
		}
		if plan.Backup.Label != tc.set || r.Options.Set != tc.set || r.Options.TargetTimeline != tc.timeline {
			t.Errorf("%s: backup %s, --set=%s, --target-timeline=%s; want %s, %s", tc.opts, plan.Backup.Label, r.Options.Set, r.Options.TargetTimeline, tc.set, tc.timeline)
		}
	}
}

// With the database stopped, nothing is archived first, and a time after
// the newest archived WAL is refused before anything changes.
func TestCheckTargetAfterTheArchive(t *testing.T) {
	fx := fakecluster.New(t)
	fakecluster.StopDatabasePod(fx)
	r := newInPlace(t, fx, io.Discard, "--type=time '--target=2026-11-26 07:41:00+00'")
	_, err := r.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "target 2026-11-26 07:41:00+00 is after the last archived WAL: the newest WAL segment (000000010000000000000006) was archived at 2026-11-26 07:40:01+00") {
		t.Fatalf("error = %v", err)
	}
	if m := fx.Mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}
}

// restoreAll runs Check, Start and Wait, as kubectl pgo restore --yes
// does.
func restoreAll(r *InPlace) (Result, error) {
	ctx := context.Background()
	plan, err := r.Check(ctx)
	if err != nil {
		return Result{}, err
	}
	job, err := r.Start(ctx, plan)
	if err != nil {
		return Result{}, err
	}
	return r.Wait(ctx, plan, job)
}

func TestJobFailure(t *testing.T) {
	fx := fakecluster.New(t)
	fx.JobFails = true
	var errOut bytes.Buffer
	_, err := restoreAll(newInPlace(t, fx, &errOut, ""))
	if err == nil {
		t.Fatalf("no error; stderr:\n%s", errOut.String())
	}
	for _, want := range []string{
		"the restore Job hippo-restore failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
		"The database is still stopped (StatefulSet hippo has 0 replicas)",
		"run the restore again (it replaces the failed Job): kubectl pgo restore hippo -n pgo",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Left stopped: one scale-down, no scale-up.
	if got, want := strings.Join(fx.Mutations(), ", "), "patch statefulsets, delete jobs, create jobs"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}

	// Running it again replaces the failed Job.
	fx.JobFails = false
	fx.Factory.Clientset.ClearActions()
	if _, err := restoreAll(newInPlace(t, fx, &errOut, "")); err != nil {
		t.Fatalf("second restore: %v\n%s", err, errOut.String())
	}
	if got, want := strings.Join(fx.Mutations(), ", "), "delete jobs, create jobs, patch statefulsets"; got != want {
		t.Errorf("changes of the retry = %s, want %s (the StatefulSet is at 0 already)", got, want)
	}
}

func TestRecoveryFailure(t *testing.T) {
	fx := fakecluster.New(t)
	c := fx.Factory.Clientset
	// The database container keeps failing after the restore.
	c.PrependReactor("get", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		get, ok := action.(k8stesting.GetAction)
		if !ok || get.GetName() != "hippo-0" {
			return false, nil, nil
		}
		p := fakecluster.RunningPod("pgo", "hippo-0", cluster.Labels("hippo", cluster.ComponentDatabase), "database", "pgbackrest")
		p.Status.ContainerStatuses[0].RestartCount = 1
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		return true, p, nil
	})
	var errOut bytes.Buffer
	_, err := restoreAll(newInPlace(t, fx, &errOut, ""))
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL failed to recover") || !strings.Contains(err.Error(), "scaled back to 0") {
		t.Fatalf("error = %v\nstderr:\n%s", err, errOut.String())
	}
	if got, want := strings.Join(fx.Mutations(), ", "), "patch statefulsets, delete jobs, create jobs, patch statefulsets, patch statefulsets"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	sts, _ := c.AppsV1().StatefulSets("pgo").Get(context.Background(), "hippo", metav1.GetOptions{})
	if *sts.Spec.Replicas != 0 {
		t.Errorf("replicas = %d, want 0 after a failed recovery", *sts.Spec.Replicas)
	}
}

func TestTimeoutSaysHowToGoOn(t *testing.T) {
	fx := fakecluster.New(t)
	fx.JobRuns = true
	r := newInPlace(t, fx, io.Discard, "")
	r.Timeout = 50 * time.Millisecond
	_, err := restoreAll(r)
	if err == nil || !strings.Contains(err.Error(), "Timed out after 50ms while the restore Job hippo-restore was running. It goes on") ||
		!strings.Contains(err.Error(), "kubectl scale statefulset hippo --replicas=1 -n pgo") {
		t.Fatalf("error = %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the timeout error is returned raw")
	}
}

// A restore to the latest point from a backup that WAL missing from the
// archive follows is refused before anything changes: its recovery would
// end at the gap without an error. A restore to the backup's end
// (--type=immediate) does not list the WAL.
func TestCheckRefusesLatestAcrossMissingWAL(t *testing.T) {
	fx := fakecluster.New(t)
	fakecluster.StopDatabasePod(fx)
	fx.Info = fakecluster.RepoTestdata(t, "info-wal-gap.txt")
	r := newInPlace(t, fx, io.Discard, "")
	_, err := r.Check(context.Background())
	want := `cannot restore cluster "hippo" to its latest point from backup 20261126-071946F: repo1 is missing WAL 000000010000000000000004 to 000000010000000000000007 (4 segments) after 000000010000000000000003, ` +
		"dropped (the archive-push queue was full) or lost, so the recovery would stop at 000000010000000000000003 without an error"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "kubectl pgo backup hippo -n pgo --wait") {
		t.Fatalf("error = %v\nwant %s", err, want)
	}
	if m := fx.Mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}
	if !slices.ContainsFunc(fx.Execs(), func(e string) bool { return strings.Contains(e, " wal ") }) {
		t.Errorf("the WAL was not listed: %q", fx.Execs())
	}

	fx = fakecluster.New(t)
	fakecluster.StopDatabasePod(fx)
	fx.Info = fakecluster.RepoTestdata(t, "info-wal-gap.txt")
	r = newInPlace(t, fx, io.Discard, "--type=immediate")
	if _, err := r.Check(context.Background()); err != nil {
		t.Fatalf("--type=immediate: %v", err)
	}
	for _, e := range fx.Execs() {
		if strings.Contains(e, " wal ") {
			t.Errorf("--type=immediate listed the WAL: %s", e)
		}
	}
}

// After a restore to a time before kubectl pgo rotate password, the superuser gets the
// Secret's password again: the script logs in with it, and only when that fails sets it.
func TestSuperuserPasswordScript(t *testing.T) {
	for _, want := range []string{`PGPASSWORD="$(cat /etc/kubectl-pgo/password)"`, "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=require",
		"echo unchanged\nelse", `ALTER ROLE :"superuser" PASSWORD :'password';`} {
		if !strings.Contains(superuserPasswordScript, want) {
			t.Errorf("the script lacks %q:\n%s", want, superuserPasswordScript)
		}
	}
}
