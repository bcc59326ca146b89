package backup

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

var testNow = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func now() time.Time { return testNow }

// testRequest is an incremental backup of cluster hippo, with its
// repository host's Deployment and pods among objects.
func testRequest(t *testing.T) (Request, []runtime.Object) {
	t.Helper()
	spec := cluster.Spec{Name: "hippo", Namespace: "default"}
	spec.Default()
	deploy, err := cluster.RepoHostDeployment(spec)
	if err != nil {
		t.Fatal(err)
	}
	return Request{Cluster: "hippo", Namespace: "default", Spec: spec, Type: repo.BackupIncr, Deadline: time.Hour},
		append(clusterPods(), deploy)
}

// Refusals create no Job, and say that nothing was started.
func TestStartRefusals(t *testing.T) {
	// A full backup that runs.
	running := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-backup-full-aaaaa", Namespace: "default", Labels: cluster.Labels("hippo", jobs.ComponentBackup)}}
	running.Labels[jobs.LabelPGBackRestType] = "full"
	without := func(name string) func([]runtime.Object) []runtime.Object {
		return func(objs []runtime.Object) []runtime.Object {
			var out []runtime.Object
			for _, o := range objs {
				if o.(metav1.Object).GetName() != name {
					out = append(out, o)
				}
			}
			return out
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func([]runtime.Object) []runtime.Object
		want   string
	}{
		{"repository host not running", without(repoPod), `cannot back up cluster "hippo": its repository host is not running (no running pod matches`},
		{"repository host Deployment missing", without(cluster.RepoHostName("hippo")),
			`its repository host Deployment hippo-backrest-shared-repo is missing in namespace "default"; run kubectl pgo create cluster hippo again`},
		{"another backup runs", func(objs []runtime.Object) []runtime.Object { return append(objs, running) },
			"a backup of cluster hippo is already running: Job hippo-backup-full-aaaaa (full,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, objs := testRequest(t)
			client := fake.NewClientset(tc.mutate(objs)...)
			_, err := Start(context.Background(), client, r, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasSuffix(err.Error(), "Nothing was started") {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if created := fakecluster.CreatedJobs(client); len(created) != 0 {
				t.Errorf("created Jobs %v", created)
			}
		})
	}
}

// Start starts the Job resumed, with pgBackRest's command; Wait follows
// it, and confirms the new backup with pgbackrest info.
func TestStartAndWait(t *testing.T) {
	r, objs := testRequest(t)
	r.Type = repo.BackupDiff
	opts, err := repo.ParseBackupOptions("--process-max=4")
	if err != nil {
		t.Fatal(err)
	}
	r.Options = opts
	client := fake.NewClientset(objs...)
	job, err := Start(context.Background(), client, r, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(job.Name, "hippo-backup-diff-") || job.Spec.Suspend == nil || *job.Spec.Suspend {
		t.Errorf("job %s, suspend %v", job.Name, job.Spec.Suspend)
	}
	if got := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "); got != "tini -- pgbackrest --stanza=db backup --type=diff --start-fast --log-level-console=info --lock-path=/backrestrepo/kubectl-pgo-lock --process-max=4" {
		t.Errorf("command = %s", got)
	}
	result := NewResult(r, job)
	if result.Status != Started || result.Type != "diff" || result.BackupType != "pgbackrest" || !strings.Contains(result.Command, "--type=diff") {
		t.Errorf("result = %+v", result)
	}

	fakecluster.FinishJobs(client, true, 0, "")
	var log, errOut bytes.Buffer
	var infos []string
	w := Waiter{Client: client, Info: infoFrom(t, "info-one-full.json", &infos), Log: &log, ErrOut: &errOut, Interval: time.Millisecond, Now: now}
	if err := w.Wait(context.Background(), r, job, &result); err != nil {
		t.Fatal(err)
	}
	// The fake log is "fake logs", without a label: the backup is found
	// in pgbackrest info.
	if result.Status != Succeeded || result.Label != "20261126-071946F" || result.Backup == nil || result.Stop.Sub(*result.Start) != 7*time.Second ||
		log.String() != "fake logs\n" || len(infos) != 1 || infos[0] != repoPod+" " {
		t.Errorf("result %+v, log %q, info calls %q", result, log.String(), infos)
	}
}

// A failed backup is explained, with the repository volume when it is
// full.
func TestWaitFails(t *testing.T) {
	r, objs := testRequest(t)
	client := fake.NewClientset(objs...)
	job, err := Start(context.Background(), client, r, now)
	if err != nil {
		t.Fatal(err)
	}
	fakecluster.FinishJobs(client, false, 56, "")
	var out bytes.Buffer
	w := Waiter{Client: client, Exec: fakecluster.FullVolumeExec(t), Log: &out, ErrOut: &out, Interval: time.Millisecond, Now: now}
	result := NewResult(r, job)
	err = w.Wait(context.Background(), r, job, &result)
	if err == nil {
		t.Fatal("a failed backup Job did not fail")
	}
	for _, want := range []string{"backup job hippo-backup-incr-", " failed (BackoffLimitExceeded: Job has reached the specified backoff limit); pgbackrest exited with code 56", "kubectl logs job/hippo-backup-incr-",
		"\nThe repository volume is full: 100% used, 0B free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if result.Status != Failed || result.Reason != "BackoffLimitExceeded" || result.ExitCode == nil || *result.ExitCode != 56 || result.Label != "" ||
		len(result.Errors) != 1 || !strings.HasPrefix(result.Errors[0], "The repository volume is full") {
		t.Errorf("result = %+v", result)
	}
}
