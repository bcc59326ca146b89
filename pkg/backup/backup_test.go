package backup

import (
	"context"
	"os"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const repoPod = "hippo-backrest-shared-repo-5d8f7-abcde"

// clusterPods are the running repository host and database pods of
// cluster hippo.
func clusterPods() []runtime.Object {
	repoLabels := cluster.Labels("hippo", cluster.ComponentRepo)
	repoLabels[cluster.LabelPGBackRestCommands] = "true"
	return []runtime.Object{
		fakecluster.RunningPod("default", repoPod, repoLabels),
		fakecluster.RunningPod("default", cluster.PodName("hippo"), cluster.Labels("hippo", cluster.ComponentDatabase)),
	}
}

func TestRepoFull(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "default"}
	spec.Default()
	client := fake.NewClientset(clusterPods()...)
	for _, tc := range []struct {
		df, want string
	}{
		{fakecluster.DFFull, "The repository volume is full: 100% used, 0B free (df /backrestrepo/hippo-backrest-shared-repo in pod hippo-backrest-shared-repo-5d8f7-abcde). Free space, then check with kubectl pgo doctor hippo -n default"},
		{fakecluster.DFHalf, ""},
		{"garbage", ""},
		// df's Use% rounds up: 941 of 1000 is 95%, full; 940 is 94%.
		{"h\n/dev/x 100 96 4 96% /r", "The repository volume is full: 96% used, 4B free (df /backrestrepo/hippo-backrest-shared-repo in pod hippo-backrest-shared-repo-5d8f7-abcde). Free space, then check with kubectl pgo doctor hippo -n default"},
		{"h\n/dev/x 1000 941 59 95% /r", "The repository volume is full: 95% used, 59B free (df /backrestrepo/hippo-backrest-shared-repo in pod hippo-backrest-shared-repo-5d8f7-abcde). Free space, then check with kubectl pgo doctor hippo -n default"},
		{"h\n/dev/x 1000 940 60 94% /r", ""},
		{"", ""},
		{"h\n/dev/x a b c d /r", ""},
	} {
		var calls []fakecluster.ExecCall
		exec := fakecluster.RecordingExec(&calls, func(_, _ string, command []string) (string, string, error) { return tc.df, "", nil })
		if got := RepoFull(context.Background(), client, exec, "default", spec); got != tc.want {
			t.Errorf("RepoFull with df %q = %q, want %q", tc.df, got, tc.want)
		}
		if len(calls) != 1 || calls[0].Command[0] != "df" || calls[0].Container != "pgbackrest" {
			t.Errorf("execs = %+v", calls)
		}
	}
}

// infoFrom answers pgbackrest info with a testdata file of pkg/repo, and
// records the extra options it was given, and in which pod.
func infoFrom(t *testing.T, file string, calls *[]string) Info {
	return func(_ context.Context, _, pod string, extra ...string) (repo.Stanza, error) {
		*calls = append(*calls, pod+" "+strings.Join(extra, " "))
		data, err := os.ReadFile("../repo/testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		stanzas, err := repo.ParseInfo(data)
		if err != nil {
			t.Fatal(err)
		}
		return stanzas[0], nil
	}
}

// Confirm asks pgbackrest info about the label the log named; a label
// info does not know is reported.
func TestConfirm(t *testing.T) {
	var calls []string
	w := Waiter{Client: fake.NewClientset(clusterPods()...), Info: infoFrom(t, "info-set-diff.json", &calls)}
	b, err := w.Confirm(context.Background(), "default", "hippo", "20261126-071946F_20261126-072003D", &batchv1.Job{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Label != "20261126-071946F_20261126-072003D" || b.Type != "diff" || len(calls) != 1 || calls[0] != repoPod+" --set=20261126-071946F_20261126-072003D" {
		t.Errorf("backup %+v, info calls %q", b, calls)
	}
	w.Info = infoFrom(t, "info-set-not-found.json", &calls)
	if _, err := w.Confirm(context.Background(), "default", "hippo", "20991126-071946F", &batchv1.Job{}); err == nil ||
		!strings.Contains(err.Error(), "requested backup not found") {
		t.Errorf("error = %v", err)
	}
	// Without a label, the newest backup that started after the Job.
	w.Info = infoFrom(t, "info-one-full.json", &calls)
	b, err = w.Confirm(context.Background(), "default", "hippo", "", &batchv1.Job{})
	if err != nil || b.Label != "20261126-071946F" || calls[len(calls)-1] != repoPod+" " {
		t.Errorf("backup %+v, %v, info calls %q", b, err, calls)
	}
	// Without the repository pod, nothing can confirm it.
	w.Client = fake.NewClientset()
	if _, err := w.Confirm(context.Background(), "default", "hippo", "", &batchv1.Job{}); err == nil ||
		!strings.HasPrefix(err.Error(), "the backup succeeded, but pgbackrest info could not confirm it: ") {
		t.Errorf("error = %v", err)
	}
}

// A failed Job is explained: its condition, exit code, and pgBackRest's
// errors, the end of its log, or what to do about a deadline.
func TestJobFailed(t *testing.T) {
	code := int32(56)
	out := jobs.Outcome{Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", ExitCode: &code, Log: "a\nb\nc\nd\ne\nf\n"}
	if got, want := BackupJobFailed("hippo-backup-full-x", "pg", out, []string{"ERROR: [056]: x"}).Error(),
		"backup job hippo-backup-full-x failed (BackoffLimitExceeded: Job has reached the specified backoff limit); pgbackrest exited with code 56:\n  ERROR: [056]: x\nThe Job and its log are kept: kubectl logs job/hippo-backup-full-x -n pg"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got, want := DumpJobFailed("pgdump", "hippo-pgdump-x", "pg", out).Error(),
		"pgdump job hippo-pgdump-x failed (BackoffLimitExceeded: Job has reached the specified backoff limit); exit code 56; the end of its log:\n  b\n  c\n  d\n  e\n  f\nThe Job and its log are kept: kubectl logs job/hippo-pgdump-x -n pg"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	deadline := jobs.Outcome{Reason: "DeadlineExceeded"}
	if got := BackupJobFailed("b", "pg", deadline, nil).Error(); !strings.Contains(got, "(DeadlineExceeded); raise --timeout if the backup needs more time\n") {
		t.Errorf("got %s", got)
	}
	if got := DumpJobFailed("restore", "r", "pg", deadline).Error(); strings.Contains(got, "--timeout") {
		t.Errorf("a dump's failure names --timeout: %s", got)
	}
}

// Dumps go to a PVC of their own: a cluster's data or repository PVC is
// refused; a dump PVC, a base backup PVC or the user's own PVC is used.
func TestCheckPVC(t *testing.T) {
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"data PVC", cluster.Labels("hippo", cluster.ComponentDatabase), `PVC pg/p is the database PVC of cluster "hippo", not one for backups`},
		{"repository PVC", cluster.Labels("other", cluster.ComponentRepo), `PVC pg/p is the pgbackrest-repo PVC of cluster "other"`},
		{"dump PVC", cluster.Labels("hippo", jobs.ComponentPGDump), ""},
		{"base backup PVC", cluster.Labels("hippo", jobs.ComponentPGBaseBackup), ""},
		{"the user's own PVC", map[string]string{"app": "mine"}, ""},
	} {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "pg", Name: "p", Labels: c.labels}}
		err := checkPVC(pvc)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
