package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/exec"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// renderedClusterObjects are the objects of cluster name in namespace ns that
// the backup commands read: the settings ConfigMap and the repository
// host Deployment as create cluster renders them, and running pods.
func renderedClusterObjects(t *testing.T, name, ns string) []runtime.Object {
	t.Helper()
	var objects []runtime.Object
	for _, u := range fakecluster.Render(t, cluster.Spec{Name: name, Namespace: ns}, fakecluster.Material()) {
		if u.GetKind() == "Deployment" || u.GetKind() == "ConfigMap" && u.GetName() == cluster.SettingsConfigMapName(name) {
			objects = append(objects, fakecluster.Typed(t, u))
		}
	}
	return append(objects,
		fakecluster.RunningPod(ns, name+"-backrest-shared-repo-5d8f7-abcde", fakecluster.PodLabels(name, cluster.ComponentRepo)),
		fakecluster.RunningPod(ns, cluster.PodName(name), cluster.Labels(name, cluster.ComponentDatabase)))
}

// runBackup runs `backup` with args against f.
func runBackup(t *testing.T, f *kubefake.Factory, exec execFunc, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewBackupOptions(streams)
	o.exec = exec
	o.interval = time.Millisecond
	o.now = func() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) }
	cmd := newCmdBackup(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// checkRefused checks that bad input was refused as a usage error
// containing want, before any request.
func checkRefused(t *testing.T, f *kubefake.Factory, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
	var usage *usageError
	if !errors.As(err, &usage) {
		t.Errorf("error %T is not a usage error", err)
	}
	if n := len(f.Clientset.Actions()); n != 0 {
		t.Errorf("sent %d requests for bad input: %v", n, f.Clientset.Actions())
	}
}

// runCommand executes cmd with args, as main would.
func runCommand(cmd *cobra.Command, args ...string) error {
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	return cmd.Execute()
}

func noExec(t *testing.T) execFunc {
	return func(context.Context, string, string, string, []string) (string, string, error) {
		t.Error("exec was called")
		return "", "", errors.New("no exec")
	}
}

// Bad input is refused before any request: nothing is started.
func TestBackupBadInputSendsNothing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", nil, "a cluster name is required: backup NAME"},
		{"two names", []string{"a", "b"}, "backup takes one cluster name, got 2 arguments: a b"},
		{"bad name", []string{"Hippo_1"}, `cluster name "Hippo_1" is not valid`},
		{"unknown backup type", []string{"hippo", "--backup-type=tarball"}, `unknown --backup-type "tarball": valid backup types are pgbackrest, pgdump and pgbasebackup`},
		{"pgbasebackup with database", []string{"hippo", "--backup-type=pgbasebackup", "--database=app"}, "--database applies to --backup-type=pgdump only"},
		{"pgbasebackup forbidden option", []string{"hippo", "--backup-type=pgbasebackup", "--backup-opts=--pgdata=/tmp"}, "--pgdata is not an allowed pg_basebackup option"},
		{"pgdump forbidden option", []string{"hippo", "--backup-type=pgdump", "--backup-opts=--host=evil --table=t"}, "--host is managed by kubectl-pgo and cannot be set"},
		{"pgdump unknown option", []string{"hippo", "--backup-type=pgdump", "--backup-opts=--rows-per-insert=5"}, "--rows-per-insert is not an allowed pg_dump option"},
		{"pgdump short option", []string{"hippo", "--backup-type=pgdump", "--backup-opts=-t orders"}, "give pg_dump options in their long form"},
		{"dump-all with database", []string{"hippo", "--backup-type=pgdump", "--dump-all", "--database=app"}, "--dump-all dumps every database: it cannot be combined with --database"},
		{"pgdump with type", []string{"hippo", "--backup-type=pgdump", "--type=full"}, "--type is a pgBackRest backup type"},
		{"pgdump bad pvc size", []string{"hippo", "--backup-type=pgdump", "--pvc-size=lots"}, "invalid --pvc-size"},
		{"database without pgdump", []string{"hippo", "--database=app"}, "--database applies to --backup-type=pgdump only"},
		{"bad type", []string{"hippo", "--type=huge"}, `unknown --type "huge": use one of full, diff, incr`},
		{"managed option", []string{"hippo", "--backup-opts=--stanza=other"}, "option --stanza is managed by kubectl-pgo and cannot be passed in --backup-opts"},
		{"managed repo path", []string{"hippo", "--backup-opts=--type=full --repo1-path=/tmp"}, "option --repo1-path is managed by kubectl-pgo"},
		{"unknown option", []string{"hippo", "--backup-opts=--frobnicate"}, "option --frobnicate is unknown or not supported in --backup-opts"},
		{"several bad options", []string{"hippo", "--backup-opts=--pg1-host=x --bogus"}, "invalid --backup-opts:\n  option --pg1-host is managed by kubectl-pgo and cannot be passed in --backup-opts\n  option --bogus is unknown"},
		{"types disagree", []string{"hippo", "--type=full", "--backup-opts=--type=diff"}, "--type=full and --backup-opts='--type=diff' disagree: give the type once"},
		{"short timeout", []string{"hippo", "--timeout=1s"}, "--timeout=1s is too short"},
		{"bad output", []string{"hippo", "-o", "wide"}, `invalid output format "wide"`},
		{"repo 5", []string{"hippo", "--repo=5"}, "--repo=5 is not a repository: a cluster has repo1, and up to repo4"},
		{"unknown repository type", []string{"hippo", "--pgbackrest-storage-type=ftp"}, `unknown --pgbackrest-storage-type "ftp": use local, s3, gcs or azure`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
			_, _, err := runBackup(t, f, noExec(t), tc.args...)
			checkRefused(t, f, err, tc.want)
		})
	}
}

// Refusals at run time create no Job.
func TestBackupRefusalsStartNothing(t *testing.T) {
	// A full backup that runs.
	running := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-backup-full-aaaaa", Namespace: "default", Labels: cluster.Labels("hippo", jobs.ComponentBackup)}}
	running.Labels[jobs.LabelPGBackRestType] = "full"
	tests := []struct {
		name   string
		mutate func([]runtime.Object) []runtime.Object
		want   string
	}{
		{
			name:   "cluster not found",
			mutate: func([]runtime.Object) []runtime.Object { return nil },
			want:   `cluster "hippo" not found in namespace "default" (no ConfigMap hippo-pgo-config)`,
		},
		{
			name: "repository host not running",
			mutate: func(objs []runtime.Object) []runtime.Object {
				for _, o := range objs {
					if p, ok := o.(*corev1.Pod); ok && p.Labels[cluster.LabelComponent] == cluster.ComponentRepo {
						p.Status.Phase = corev1.PodPending
					}
				}
				return objs
			},
			want: `cannot back up cluster "hippo": its repository host is not running (no running pod matches`,
		},
		{
			name: "repository host scaled to zero",
			mutate: func(objs []runtime.Object) []runtime.Object {
				var out []runtime.Object
				for _, o := range objs {
					if p, ok := o.(*corev1.Pod); ok && p.Labels[cluster.LabelComponent] == cluster.ComponentRepo {
						continue
					}
					out = append(out, o)
				}
				return out
			},
			want: "its repository host is not running",
		},
		{
			name:   "another backup runs",
			mutate: func(objs []runtime.Object) []runtime.Object { return append(objs, running) },
			want:   "a backup of cluster hippo is already running: Job hippo-backup-full-aaaaa (full,",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(tc.mutate(renderedClusterObjects(t, "hippo", "default"))...)
			_, _, err := runBackup(t, f, noExec(t), "hippo", "--type=full")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasSuffix(err.Error(), "Nothing was started") && tc.name != "cluster not found" {
				t.Errorf("error does not say that nothing was started: %v", err)
			}
			if created := fakecluster.CreatedJobs(f.Clientset); len(created) != 0 {
				t.Errorf("created Jobs %v", created)
			}
		})
	}
}

func TestBackupStarts(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	out, _, err := runBackup(t, f, noExec(t), "hippo", "--backup-opts=--type=diff --process-max=4")
	if err != nil {
		t.Fatal(err)
	}
	created := fakecluster.CreatedJobs(f.Clientset)
	if len(created) != 1 || !strings.HasPrefix(created[0], "hippo-backup-diff-") {
		t.Fatalf("created %v", created)
	}
	if !strings.HasPrefix(out, "backup job "+created[0]+" started: pgbackrest diff backup of cluster hippo in namespace default\n") ||
		!strings.Contains(out, "kubectl logs -f job/"+created[0]+" -n default") {
		t.Errorf("output:\n%s", out)
	}
	job, err := f.Clientset.BatchV1().Jobs("default").Get(context.Background(), created[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if job.Spec.Suspend == nil || *job.Spec.Suspend {
		t.Error("the Job was left suspended")
	}
	if got := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "); got != "tini -- pgbackrest --stanza=db backup --start-fast --log-level-console=info --lock-path=/backrestrepo/kubectl-pgo-lock --type=diff --process-max=4" {
		t.Errorf("command = %s", got)
	}
}

func TestBackupStartsJSON(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	out, _, err := runBackup(t, f, noExec(t), "hippo", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r BackupResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if r.Status != BackupStarted || r.Cluster != "hippo" || r.Type != "incr" || r.BackupType != "pgbackrest" ||
		!strings.HasPrefix(r.Job, "hippo-backup-incr-") || !strings.Contains(r.Command, "--type=incr") {
		t.Errorf("result = %+v", r)
	}
}

func TestBackupWaitSucceeds(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	fakecluster.FinishJobs(f.Clientset, true, 0, "")
	var calls []fakecluster.ExecCall
	exec := fakecluster.RecordingExec(&calls, func(_, _ string, _ []string) (string, string, error) {
		return fakecluster.RepoTestdata(t, "info-one-full.json"), "", nil
	})
	out, _, err := runBackup(t, f, exec, "hippo", "--type=full", "--wait")
	if err != nil {
		t.Fatal(err)
	}
	// The fake log is "fake logs", without a label: the backup is found
	// in pgbackrest info.
	if !strings.Contains(out, "fake logs\n") || !strings.HasSuffix(out, "backup 20261126-071946F completed in 7s: full, database 22.1MiB, repository 4.3MiB\n") {
		t.Errorf("output:\n%s", out)
	}
	if len(calls) != 1 || calls[0].Container != "pgbackrest" || !strings.HasPrefix(calls[0].Pod, "hippo-backrest-shared-repo-") ||
		strings.Join(calls[0].Command, " ") != "pgbackrest --stanza=db --output=json info" {
		t.Errorf("execs = %+v", calls)
	}
}

func TestBackupWaitConfirmsTheLabel(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	// The log names the label: info is asked about that backup only.
	var calls []fakecluster.ExecCall
	exec := fakecluster.RecordingExec(&calls, func(_, _ string, _ []string) (string, string, error) {
		return fakecluster.RepoTestdata(t, "info-set-diff.json"), "", nil
	})
	streams, _, _ := testStreams("")
	o := NewBackupOptions(streams)
	o.exec, o.interval, o.Name, o.namespace = exec, time.Millisecond, "hippo", "default"
	client, _ := f.KubernetesClient()
	// The command's waiter runs pgbackrest info with its exec.
	confirm := func(label string) (*repo.BackupSummary, error) {
		return o.waiter(client, io.Discard).Confirm(context.Background(), "default", "hippo", label, &batchv1.Job{})
	}
	b, err := confirm("20261126-071946F_20261126-072003D")
	if err != nil {
		t.Fatal(err)
	}
	if b.Label != "20261126-071946F_20261126-072003D" || b.Type != "diff" || strings.Join(calls[0].Command, " ") != "pgbackrest --stanza=db --output=json info --set=20261126-071946F_20261126-072003D" {
		t.Errorf("backup %+v, execs %+v", b, calls)
	}
	// A label info does not know is reported.
	exec2 := fakecluster.RecordingExec(&calls, func(_, _ string, _ []string) (string, string, error) {
		return fakecluster.RepoTestdata(t, "info-set-not-found.json"), "", nil
	})
	o.exec = exec2
	if _, err := confirm("20991126-071946F"); err == nil ||
		!strings.Contains(err.Error(), "requested backup not found") {
		t.Errorf("error = %v", err)
	}
}

func TestBackupWaitFails(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	fakecluster.FinishJobs(f.Clientset, false, 56, "")
	// backup.Waiter explains the failure (its tests check how); the
	// command returns it, and prints the result with -o json.
	out, _, err := runBackup(t, f, fakecluster.FullVolumeExec(t), "hippo", "--type=full", "--wait", "-o", "json")
	if err == nil {
		t.Fatal("a failed backup Job did not fail the command")
	}
	for _, want := range []string{"backup job hippo-backup-full-", "kubectl logs job/hippo-backup-full-", "\nThe repository volume is full: 100% used, 0B free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var r BackupResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if r.Status != BackupFailed || r.Reason != "BackoffLimitExceeded" || r.ExitCode == nil || *r.ExitCode != 56 || r.Label != "" {
		t.Errorf("result = %+v", r)
	}
}

func TestBkExecErrorForbidden(t *testing.T) {
	forbidden := errors.New(`unable to upgrade connection: pods "hippo-0" is forbidden: User "system:serviceaccount:pgo:reader" cannot create resource "pods/exec" in API group "" in the namespace "pgo"`)
	err := execError("run pgbackrest info in the repository pod", "pgo", "hippo-0", forbidden)
	if !strings.HasPrefix(err.Error(), "cannot run pgbackrest info in the repository pod: exec into pod pgo/hippo-0 is forbidden (kubectl pgo needs the create verb on pods/exec in namespace pgo)") {
		t.Errorf("error = %v", err)
	}
	exited := &kube.ExecError{Namespace: "pgo", Pod: "hippo-0", Command: []string{"pgbackrest"}, Code: 55, Err: exec.CodeExitError{Code: 55}}
	if err := execError("x", "pgo", "hippo-0", exited); !errors.As(err, new(*kube.ExecError)) {
		t.Errorf("an exit status lost its type: %v", err)
	}
}

// A dump or base backup is refused while the cluster is being restored,
// before its PVC or Job is created.
func TestPGBackupRefusedDuringRestore(t *testing.T) {
	for _, tc := range []struct{ backupType, component, want string }{
		{"pgbasebackup", jobs.ComponentRestore, "restore Job hippo-restore of cluster hippo is running (started just now): a pgbasebackup backup cannot run beside it"},
		{"pgdump", jobs.ComponentRestore, "a pgdump backup cannot run beside it"},
		{"pgdump", jobs.ComponentPGDumpRestore, "pgdump-restore Job hippo-restore of cluster hippo is running"},
	} {
		t.Run(tc.backupType+" beside "+tc.component, func(t *testing.T) {
			restore := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-restore", Namespace: "default", Labels: cluster.Labels("hippo", tc.component)}}
			f := kubefake.NewFactory(append(renderedClusterObjects(t, "hippo", "default"), restore)...)
			exec := func(context.Context, string, string, string, []string) (string, string, error) { return "1\n", "", nil }
			_, _, err := runBackup(t, f, exec, "hippo", "--backup-type="+tc.backupType)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasSuffix(err.Error(), "Nothing was started") {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			for _, a := range f.Clientset.Actions() {
				if v := a.GetVerb(); v != "get" && v != "list" {
					t.Errorf("changed something: %s %s", v, a.GetResource().Resource)
				}
			}
		})
	}
}
