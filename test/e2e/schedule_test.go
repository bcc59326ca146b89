package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestSchedule: bad input creates no CronJob; a pgBackRest schedule and a
// pgdump schedule are created, run (a Job made from the CronJob, as
// kubectl create job --from=cronjob/... makes it), their backups listed
// by show backup and their runs by show schedule; a scheduled backup that
// starts while another holds pgBackRest's lock fails clearly; delete
// schedule and delete cluster remove the CronJobs.
func TestSchedule(t *testing.T) {
	t.Parallel()
	c := newBkCluster(t)
	env := c.env
	cronJobs := func(t *testing.T) []string {
		t.Helper()
		list, err := env.Client.BatchV1().CronJobs(c.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, cj := range list.Items {
			names = append(names, cj.Name)
		}
		return names
	}

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"malformed cron", []string{c.name, "--schedule=0 25 * * *", "--pgbackrest-backup-type=full"}, `invalid cron expression "0 25 * * *"`},
			{"six fields", []string{c.name, "--schedule=0 0 1 * * *", "--pgbackrest-backup-type=full"}, "expected exactly 5 fields"},
			{"unknown schedule type", []string{c.name, "--schedule=0 1 * * *", "--schedule-type=policy"}, `unknown --schedule-type "policy"`},
			{"forbidden schedule opts", []string{c.name, "--schedule=0 1 * * *", "--pgbackrest-backup-type=full", "--schedule-opts=--repo1-path=/tmp"},
				"option --repo1-path is managed by kubectl-pgo and cannot be passed in --schedule-opts"},
			{"unknown time zone", []string{c.name, "--schedule=0 1 * * *", "--pgbackrest-backup-type=full", "--time-zone=Mars/Olympus"}, `unknown time zone "Mars/Olympus"`},
			{"cluster does not exist", []string{"nope", "--schedule=0 1 * * *", "--pgbackrest-backup-type=full"},
				`cluster "nope" not found in namespace "` + c.ns + `"`},
			{"database does not exist", []string{c.name, "--schedule=0 1 * * *", "--schedule-type=pgdump", "--database=nope"},
				`database "nope" does not exist in cluster "hippo". No schedule was created`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := c.pgo(t, append([]string{"create", "schedule"}, tc.args...)...)
				if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
					t.Errorf("want a failure saying %q:\n%s", tc.want, res)
				}
				if names := cronJobs(t); len(names) != 0 {
					t.Errorf("CronJobs %v were created", names)
				}
			})
		}
	})

	full := c.name + "-pgbackrest-full"
	dump := c.name + "-pgdump"
	res := c.pgo(t, "create", "schedule", c.name, "--schedule=0 1 * * *", "--pgbackrest-backup-type=full", "--schedule-opts=--process-max=2")
	if res.ExitCode != 0 || !strings.HasPrefix(res.Stdout, "schedule "+full+" created: pgbackrest full backup of cluster hippo at '0 1 * * *'") {
		t.Fatalf("create schedule:\n%s", res)
	}
	res = c.pgo(t, "create", "schedule", c.name, "--schedule=30 2 * * *", "--schedule-type=pgdump", "--database=postgres")
	if res.ExitCode != 0 || !strings.HasPrefix(res.Stdout, "schedule "+dump+" created") {
		t.Fatalf("create schedule --schedule-type=pgdump:\n%s", res)
	}
	if res := c.pgo(t, "create", "schedule", c.name, "--schedule=0 1 * * *", "--pgbackrest-backup-type=full", "--schedule-opts=--process-max=2"); res.ExitCode != 0 ||
		!strings.HasPrefix(res.Stdout, "schedule "+full+" unchanged") {
		t.Errorf("create schedule again:\n%s", res)
	}
	cj, err := env.Client.BatchV1().CronJobs(c.ns).Get(context.Background(), full, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || cj.Spec.StartingDeadlineSeconds == nil ||
		cj.Spec.SuccessfulJobsHistoryLimit == nil || cj.Spec.FailedJobsHistoryLimit == nil {
		t.Errorf("CronJob spec: policy %s, deadline %v, history %v/%v", cj.Spec.ConcurrencyPolicy, cj.Spec.StartingDeadlineSeconds,
			cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit)
	}

	t.Run("a run makes a backup", func(t *testing.T) {
		job := scRun(t, env, c.ns, full, "manual-1")
		if !scWaitJob(t, env, c.ns, job, 5*time.Minute) {
			t.Fatalf("scheduled backup Job %s failed", job)
		}
		res := c.pgo(t, "show", "backup", c.name, "-o", "json")
		if res.ExitCode != 0 {
			t.Fatalf("show backup:\n%s", res)
		}
		var b cmd.ClusterBackups
		if err := json.Unmarshal([]byte(res.Stdout), &b); err != nil {
			t.Fatalf("show backup -o json: %v\n%s", err, res.Stdout)
		}
		if b.Repository == nil || len(b.Repository.Backups) != 1 || b.Repository.Backups[0].Type != "full" {
			t.Errorf("show backup does not list one full backup:\n%s", res.Stdout)
		}
		found := false
		for _, j := range b.Jobs {
			found = found || (j.Name == job && j.State == jobs.StateSucceeded)
		}
		if !found {
			t.Errorf("show backup does not list the scheduled Job %s as Succeeded: %+v", job, b.Jobs)
		}

		res = c.pgo(t, "show", "schedule", c.name, "-o", "json")
		if res.ExitCode != 0 {
			t.Fatalf("show schedule:\n%s", res)
		}
		var l cmd.ScheduleList
		if err := json.Unmarshal([]byte(res.Stdout), &l); err != nil {
			t.Fatalf("show schedule -o json: %v\n%s", err, res.Stdout)
		}
		if len(l.Items) != 2 || l.Items[0].Name != full || l.Items[1].Name != dump {
			t.Fatalf("show schedule lists %+v, want %s and %s", l.Items, full, dump)
		}
		s := l.Items[0]
		if s.Schedule != "0 1 * * *" || s.BackupType != "pgbackrest" || s.PGBackRestType != "full" || s.LastRunJob != job ||
			s.LastRunStatus != jobs.StateSucceeded || s.LastRun == nil || s.LastSuccess == nil || s.NextRun == nil || s.Suspended {
			t.Errorf("show schedule: %+v", s)
		}
		if s.NextRun != nil && (s.NextRun.UTC().Hour() != 1 || s.NextRun.Minute() != 0 || !s.NextRun.After(time.Now())) {
			t.Errorf("next run %s is not the next 01:00 UTC", s.NextRun)
		}
		res = c.pgo(t, "show", "schedule", c.name)
		t.Logf("show schedule:\n%s", res.Stdout)
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "LAST RUN") || !strings.Contains(res.Stdout, full) || !strings.Contains(res.Stdout, "Succeeded") {
			t.Errorf("show schedule (table):\n%s", res)
		}
	})

	t.Run("a run beside another backup fails on the lock", func(t *testing.T) {
		// Hold pgBackRest's backup lock on the repository PVC from the
		// repository host, as a running backup Job would, until released.
		// pgBackRest 2.45 names it db-backup.lock; newer ones, one per repository, db-backup-1.lock.
		dir := "/backrestrepo/" + jobs.BackupLockDir
		locks := []string{dir + "/db-backup.lock", dir + "/db-backup-1.lock"}
		held := make(chan string, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, err := scRepoExec(ctx, c, []string{"timeout", "150", "flock", locks[0], "flock", locks[1], "sh", "-c",
				"touch /tmp/held; while [ ! -e /tmp/release ]; do sleep 1; done; rm -f /tmp/held /tmp/release"})
			held <- fmt.Sprint(out, err)
		}()
		release := func() { _ = c.repoExec(t, []string{"touch", "/tmp/release"}) }
		defer func() {
			release()
			t.Logf("lock holder: %s", <-held)
		}()
		if err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := scRepoExec(ctx, c, []string{"test", "-e", "/tmp/held"})
			return err == nil, nil
		}); err != nil {
			t.Fatal("the lock was not taken within 1m")
		}
		job := scRun(t, env, c.ns, full, "manual-2")
		if scWaitJob(t, env, c.ns, job, 3*time.Minute) {
			t.Fatalf("the scheduled backup %s ran while the lock was held", job)
		}
		logs := env.Run(t, "kubectl", "-n", c.ns, "logs", "job/"+job)
		if !strings.Contains(logs.Stdout, "unable to acquire lock on file '"+locks[0]+"'") && !strings.Contains(logs.Stdout, "unable to acquire lock on file '"+locks[1]+"'") {
			t.Errorf("the failed Job's log does not name the lock:\n%s", logs)
		}
		res := c.pgo(t, "show", "schedule", c.name, "--schedule-name", full, "-o", "json")
		var l cmd.ScheduleList
		if err := json.Unmarshal([]byte(res.Stdout), &l); err != nil || len(l.Items) != 1 {
			t.Fatalf("show schedule --schedule-name: %v\n%s", err, res)
		}
		if s := l.Items[0]; s.LastRunJob != job || s.LastRunStatus != jobs.StateFailed || s.LastSuccess == nil {
			t.Errorf("after a failed run, show schedule says %+v", s)
		}
	})

	t.Run("a pgdump run makes a dump", func(t *testing.T) {
		job := scRun(t, env, c.ns, dump, "manual-1")
		if !scWaitJob(t, env, c.ns, job, 3*time.Minute) {
			t.Fatalf("scheduled dump Job %s failed", job)
		}
		res := c.pgo(t, "show", "backup", c.name, "--backup-type=pgdump", "-o", "json")
		var l cmd.PGDumpList
		if err := json.Unmarshal([]byte(res.Stdout), &l); err != nil {
			t.Fatalf("show backup --backup-type=pgdump: %v\n%s", err, res)
		}
		want := fmt.Sprintf("%s/%s-backups/%s/postgres.dump", jobs.PGDumpMount, c.name, job)
		if len(l.Dumps) != 1 || l.Dumps[0].Job != job || l.Dumps[0].Path != want || l.Dumps[0].JobStatus != jobs.StateSucceeded ||
			l.Dumps[0].Size == nil || *l.Dumps[0].Size == 0 {
			t.Errorf("show backup --backup-type=pgdump: %+v, want one dump at %s with a size", l.Dumps, want)
		}
	})

	t.Run("delete schedule", func(t *testing.T) {
		res := c.pgo(t, "delete", "schedule", c.name, "--schedule-name", dump, "--yes")
		if res.ExitCode != 0 || res.Stdout != "schedule "+dump+" deleted\n" {
			t.Errorf("delete schedule --schedule-name:\n%s", res)
		}
		if names := cronJobs(t); strings.Join(names, " ") != full {
			t.Errorf("CronJobs %v, want only %s", names, full)
		}
		// The dump's Job stays: it is the dump's record.
		res = c.pgo(t, "show", "backup", c.name, "--backup-type=pgdump")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, dump+"-manual-1") {
			t.Errorf("the scheduled dump is no longer listed:\n%s", res)
		}
		res = c.pgo(t, "delete", "schedule", c.name)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "pass --yes (or --no-prompt)") {
			t.Errorf("delete schedule without a terminal or --yes:\n%s", res)
		}
		res = c.pgo(t, "delete", "schedule", c.name, "--no-prompt")
		if res.ExitCode != 0 || res.Stdout != "schedule "+full+" deleted\n" {
			t.Errorf("delete schedule (all):\n%s", res)
		}
		if names := cronJobs(t); len(names) != 0 {
			t.Errorf("CronJobs %v are left", names)
		}
		res = c.pgo(t, "delete", "schedule", c.name, "--yes")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `cluster "hippo" has no schedules in namespace "`+c.ns+`": nothing to delete`) {
			t.Errorf("delete schedule with none left:\n%s", res)
		}
		res = c.pgo(t, "show", "schedule", c.name)
		if res.ExitCode != 0 || !strings.HasPrefix(res.Stdout, "no schedules found for cluster hippo") {
			t.Errorf("show schedule with none left:\n%s", res)
		}
	})

	t.Run("delete cluster removes its schedules", func(t *testing.T) {
		if res := c.pgo(t, "create", "schedule", c.name, "--schedule=@daily", "--pgbackrest-backup-type=incr"); res.ExitCode != 0 {
			t.Fatalf("create schedule:\n%s", res)
		}
		res := c.pgo(t, "delete", "cluster", c.name, "--yes")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "cronjob.batch/"+c.name+"-pgbackrest-incr deleted") {
			t.Errorf("delete cluster:\n%s", res)
		}
		if names := cronJobs(t); len(names) != 0 {
			t.Errorf("CronJobs %v are left after delete cluster", names)
		}
	})
}

// scRun creates a Job from the CronJob, as kubectl create job
// --from=cronjob/NAME does: the jobTemplate, owned by the CronJob.
func scRun(t *testing.T, env *framework.Env, ns, schedule, suffix string) string {
	t.Helper()
	ctx := context.Background()
	cj, err := env.Client.BatchV1().CronJobs(ns).Get(ctx, schedule, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}
	maps.Copy(ann, cj.Spec.JobTemplate.Annotations)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: schedule + "-" + suffix, Namespace: ns, Labels: cj.Spec.JobTemplate.Labels, Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: ptr.To(true)}},
		},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	created, err := env.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created.Name
}

// scWaitJob waits for the Job to end and tells whether it succeeded.
func scWaitJob(t *testing.T, env *framework.Env, ns, name string, timeout time.Duration) bool {
	t.Helper()
	var job *batchv1.Job
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		j, err := env.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		job = j
		return jobs.Finished(j), nil
	})
	if err != nil {
		t.Fatalf("Job %s has not ended within %s", name, timeout)
	}
	return jobs.State(job) == jobs.StateSucceeded
}

// scRepoExec runs a command in the repository host's pgbackrest container.
func scRepoExec(ctx context.Context, c *bkCluster, command []string) (string, error) {
	pods, err := c.env.Client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.RepoSelector(c.name).String()})
	if err != nil || len(pods.Items) == 0 {
		return "", fmt.Errorf("the repository pod: %v", err)
	}
	out, _, err := kube.ExecCapture(ctx, c.env.Config, c.env.Client, c.ns, pods.Items[0].Name, jobs.RepoHostContainer, command)
	return out, err
}
