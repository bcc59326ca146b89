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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

var scheduleNow = time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)

func runCreateSchedule(t *testing.T, f *kubefake.Factory, exec execFunc, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewCreateScheduleOptions(streams)
	o.exec = exec
	o.now = func() time.Time { return scheduleNow }
	cmd := newCmdCreateSchedule(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func scheduleFactory(t *testing.T) *kubefake.Factory {
	f := newClusterFactory(renderedClusterObjects(t, "hippo", "default")...)
	allowAccess(f)
	fakeApply(f)
	return f
}

// appliedCronJobs are the CronJobs the dynamic fake stored.
func appliedCronJobs(t *testing.T, f *kubefake.Factory) []batchv1.CronJob {
	t.Helper()
	list, err := f.Dynamic.Resource(schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}).
		Namespace("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []batchv1.CronJob
	for _, u := range list.Items {
		var cj batchv1.CronJob
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cj); err != nil {
			t.Fatal(err)
		}
		out = append(out, cj)
	}
	return out
}

// Bad input is refused before any request: nothing is created.
func TestCreateScheduleBadInputSendsNothing(t *testing.T) {
	base := []string{"hippo", "--schedule=0 1 * * *"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"--schedule=0 1 * * *"}, "a cluster name is required"},
		{"bad cluster name", []string{"Hippo", "--schedule=0 1 * * *", "--pgbackrest-backup-type=full"}, `cluster name "Hippo" is not valid`},
		{"no schedule", []string{"hippo", "--pgbackrest-backup-type=full"}, "--schedule is required"},
		{"empty schedule", []string{"hippo", "--schedule=", "--pgbackrest-backup-type=full"}, "the cron expression is empty"},
		{"malformed cron", []string{"hippo", "--schedule=0 25 * * *", "--pgbackrest-backup-type=full"}, `invalid cron expression "0 25 * * *"`},
		{"six fields", []string{"hippo", "--schedule=0 0 1 * * *", "--pgbackrest-backup-type=full"}, "expected exactly 5 fields"},
		{"time zone in the expression", []string{"hippo", "--schedule=TZ=UTC 0 1 * * *", "--pgbackrest-backup-type=full"}, "give the time zone with --time-zone"},
		{"unknown time zone", append(base, "--pgbackrest-backup-type=full", "--time-zone=Mars/Olympus"), `unknown time zone "Mars/Olympus"`},
		{"repository twice", append(base, "--pgbackrest-backup-type=full", "--repo=1", "--pgbackrest-storage-type=local"), "give the repository once"},
		{"repository of a dump", append(base, "--schedule-type=pgdump", "--repo=1"), "--repo applies to --schedule-type=pgbackrest only"},
		{"repository in the options too", append(base, "--pgbackrest-backup-type=full", "--repo=1", "--schedule-opts=--repo=1"), "the repository is given twice"},
		{"unknown schedule type", append(base, "--schedule-type=policy"), `unknown --schedule-type "policy": valid schedule types are pgbackrest, pgdump, pgbasebackup`},
		{"no pgbackrest type", base, "--pgbackrest-backup-type is required with --schedule-type=pgbackrest: use one of full, diff, incr"},
		{"bad pgbackrest type", append(base, "--pgbackrest-backup-type=huge"), `unknown --pgbackrest-backup-type "huge"`},
		{"forbidden schedule opts", append(base, "--pgbackrest-backup-type=full", "--schedule-opts=--repo1-path=/tmp"), "option --repo1-path is managed by kubectl-pgo and cannot be passed in --schedule-opts"},
		{"unknown schedule opts", append(base, "--pgbackrest-backup-type=full", "--schedule-opts=--frobnicate --pg1-host=x"), "invalid --schedule-opts:\n  option --frobnicate is unknown"},
		{"types disagree", append(base, "--pgbackrest-backup-type=full", "--schedule-opts=--type=diff"), "--pgbackrest-backup-type=full and --schedule-opts='--type=diff' disagree"},
		{"database with pgbackrest", append(base, "--pgbackrest-backup-type=full", "--database=app"), "--database applies to --schedule-type=pgdump only"},
		{"pvc with pgbackrest", append(base, "--pgbackrest-backup-type=full", "--pvc-name=x"), "--pvc-name applies to --schedule-type=pgdump or pgbasebackup only"},
		{"pgbackrest type with pgdump", append(base, "--schedule-type=pgdump", "--pgbackrest-backup-type=full"), "--pgbackrest-backup-type applies to --schedule-type=pgbackrest only"},
		{"forbidden pgdump opts", append(base, "--schedule-type=pgdump", "--schedule-opts=--host=evil"), "invalid --schedule-opts:\n  --host is managed by kubectl-pgo"},
		{"database with pgbasebackup", append(base, "--schedule-type=pgbasebackup", "--database=app"), "--database applies to --schedule-type=pgdump only"},
		{"empty database", append(base, "--schedule-type=pgdump", "--database= "), "--database must not be empty"},
		{"bad pvc size", append(base, "--schedule-type=pgdump", "--pvc-size=lots"), "invalid --pvc-size"},
		{"bad schedule name", append(base, "--pgbackrest-backup-type=full", "--schedule-name=Nightly"), `schedule name "Nightly" is not valid`},
		{"long default name", []string{strings.Repeat("a", 40), "--schedule=@daily", "--pgbackrest-backup-type=full"}, "give a shorter --schedule-name"},
		{"bad dry run", append(base, "--pgbackrest-backup-type=full", "--dry-run=maybe"), `invalid --dry-run value "maybe"`},
		{"bad output", append(base, "--pgbackrest-backup-type=full", "-o", "table"), `invalid output format "table"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := scheduleFactory(t)
			_, _, err := runCreateSchedule(t, f, noExec(t), tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			var usage *usageError
			if !errors.As(err, &usage) && tc.name != "no name" {
				t.Errorf("error %T is not a usage error", err)
			}
			assertNoRequests(t, f)
		})
	}
}

func TestCreateSchedulePGBackRest(t *testing.T) {
	f := scheduleFactory(t)
	out, _, err := runCreateSchedule(t, f, noExec(t), "hippo", "--schedule=0 1 * * *", "--pgbackrest-backup-type=full", "--schedule-opts=--process-max=2")
	if err != nil {
		t.Fatal(err)
	}
	if want := "schedule hippo-pgbackrest-full created: pgbackrest full backup of cluster hippo at '0 1 * * *' (the controller's time zone); next run 2026-11-27 01:00 UTC\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	cjs := appliedCronJobs(t, f)
	if len(cjs) != 1 || cjs[0].Name != "hippo-pgbackrest-full" {
		t.Fatalf("CronJobs %v", cjs)
	}
	cj := cjs[0]
	// The Job template is what backup renders for the same cluster.
	deploy, _ := f.Clientset.AppsV1().Deployments("default").Get(context.Background(), cluster.RepoHostName("hippo"), metav1.GetOptions{})
	want, err := jobs.BackupJob{Cluster: "hippo", Namespace: "default", RepoHost: deploy, Type: "full", Options: mustParse(t, "--process-max=2")}.Render()
	if err != nil {
		t.Fatal(err)
	}
	got := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Command
	if strings.Join(got, " ") != strings.Join(want.Spec.Template.Spec.Containers[0].Command, " ") {
		t.Errorf("command %q, want backup's %q", got, want.Spec.Template.Spec.Containers[0].Command)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || cj.Labels[cluster.LabelCluster] != "hippo" {
		t.Errorf("CronJob %+v", cj.ObjectMeta)
	}

	// Again: unchanged.
	out, _, err = runCreateSchedule(t, f, noExec(t), "hippo", "--schedule=0 1 * * *", "--pgbackrest-backup-type=full", "--schedule-opts=--process-max=2")
	if err != nil || !strings.HasPrefix(out, "schedule hippo-pgbackrest-full unchanged:") {
		t.Errorf("second create: %v\n%s", err, out)
	}
}

// A schedule backs up to the repository chosen with --repo, and refuses
// one the cluster does not have.
func TestCreateScheduleRepository(t *testing.T) {
	f := scheduleFactory(t)
	if _, _, err := runCreateSchedule(t, f, noExec(t), "hippo", "--schedule=@daily", "--pgbackrest-backup-type=full", "--repo=1"); err != nil {
		t.Fatal(err)
	}
	cjs := appliedCronJobs(t, f)
	if len(cjs) != 1 || !strings.Contains(strings.Join(cjs[0].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Command, " "), " --repo=1") {
		t.Fatalf("the scheduled backup does not name repo1: %v", cjs)
	}
	_, _, err := runCreateSchedule(t, scheduleFactory(t), noExec(t), "hippo", "--schedule=@daily", "--pgbackrest-backup-type=full", "--schedule-name=s3", "--pgbackrest-storage-type=s3")
	if err == nil || !strings.Contains(err.Error(), `cluster "hippo" has no s3 repository`) {
		t.Errorf("a schedule to a repository the cluster lacks: %v", err)
	}
}

func mustParse(t *testing.T, s string) repo.BackupOptions {
	t.Helper()
	o, err := repo.ParseBackupOptions(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestCreateScheduleDryRunClientWritesNothing(t *testing.T) {
	f := scheduleFactory(t)
	out, errOut, err := runCreateSchedule(t, f, noExec(t), "hippo", "--schedule=@daily", "--pgbackrest-backup-type=incr", "--dry-run=client", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kind: CronJob") || !strings.Contains(out, "name: hippo-pgbackrest-incr") || !strings.Contains(out, "schedule: '@daily'") {
		t.Errorf("output is not the CronJob:\n%s", out)
	}
	if !strings.Contains(errOut, "schedule hippo-pgbackrest-incr created (dry run)") {
		t.Errorf("stderr %q", errOut)
	}
	if w := writes(f); len(w) != 0 {
		t.Errorf("a client dry run wrote %v", w)
	}
}

func TestCreateScheduleRefusals(t *testing.T) {
	other := &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: metav1.ObjectMeta{Name: "hippo-pgbackrest-full", Namespace: "default", Labels: map[string]string{"app": "mine"}}}
	tests := []struct {
		name    string
		objects func(t *testing.T) []runtime.Object
		dynamic []runtime.Object
		args    []string
		exec    func(t *testing.T) execFunc
		want    string
	}{
		{
			name:    "cluster not found",
			objects: func(*testing.T) []runtime.Object { return nil },
			args:    []string{"hippo", "--schedule=@daily", "--pgbackrest-backup-type=full"},
			want:    `cluster "hippo" not found in namespace "default" (no ConfigMap hippo-pgo-config): list the clusters with kubectl pgo show cluster -A. No schedule was created`,
		},
		{
			name:    "name taken by another CronJob",
			objects: func(t *testing.T) []runtime.Object { return renderedClusterObjects(t, "hippo", "default") },
			dynamic: []runtime.Object{other},
			args:    []string{"hippo", "--schedule=@daily", "--pgbackrest-backup-type=full"},
			want:    "CronJob hippo-pgbackrest-full already exists in namespace \"default\" and is not a schedule of cluster \"hippo\"",
		},
		{
			name:    "database missing",
			objects: func(t *testing.T) []runtime.Object { return renderedClusterObjects(t, "hippo", "default") },
			args:    []string{"hippo", "--schedule=@daily", "--schedule-type=pgdump", "--database=nope"},
			exec: func(t *testing.T) execFunc {
				var calls []fakecluster.ExecCall
				return fakecluster.RecordingExec(&calls, func(string, string, []string) (string, string, error) { return "0\n", "", nil })
			},
			want: `database "nope" does not exist in cluster "hippo". No schedule was created`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory(tc.objects(t)...)
			for _, obj := range tc.dynamic {
				m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Dynamic.Tracker().Add(&unstructured.Unstructured{Object: m}); err != nil {
					t.Fatal(err)
				}
			}
			allowAccess(f)
			fakeApply(f)
			exec := noExec(t)
			if tc.exec != nil {
				exec = tc.exec(t)
			}
			_, _, err := runCreateSchedule(t, f, exec, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if w := writes(f); len(w) != 0 {
				t.Errorf("wrote %v", w)
			}
		})
	}
}

func TestCreateSchedulePGDump(t *testing.T) {
	f := scheduleFactory(t)
	var calls []fakecluster.ExecCall
	exec := fakecluster.RecordingExec(&calls, func(string, string, []string) (string, string, error) { return "1\n", "", nil })
	out, _, err := runCreateSchedule(t, f, exec, "hippo", "--schedule=0 3 * * 0", "--schedule-type=pgdump", "--database=app", "--time-zone=Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "schedule hippo-pgdump created: pg_dump of database app of cluster hippo at '0 3 * * 0' (Europe/Paris); next run 2026-11-29 03:00 CET") {
		t.Errorf("output %q", out)
	}
	if _, err := f.Clientset.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), "backup-hippo-pgdump-pvc", metav1.GetOptions{}); err != nil {
		t.Errorf("the dump PVC was not created: %v", err)
	}
	cjs := appliedCronJobs(t, f)
	if len(cjs) != 1 || ptr.Deref(cjs[0].Spec.TimeZone, "") != "Europe/Paris" || cjs[0].Labels[jobs.LabelBackupType] != "pgdump" {
		t.Fatalf("CronJobs %+v", cjs)
	}
}

// scheduleCronJob is a stored schedule with its status.
func scheduleCronJob(name, clusterName string, lastSchedule *time.Time) *batchv1.CronJob {
	l := cluster.Labels(clusterName, jobs.ComponentSchedule)
	l[jobs.LabelBackupType] = "pgbackrest"
	l[jobs.LabelPGBackRestType] = "full"
	l[jobs.LabelSchedule] = name
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: l, UID: types.UID("uid-" + name)},
		Spec:       batchv1.CronJobSpec{Schedule: "0 1 * * *", Suspend: ptr.To(false)},
	}
	if lastSchedule != nil {
		cj.Status.LastScheduleTime = &metav1.Time{Time: *lastSchedule}
	}
	return cj
}

func scheduleRun(cj *batchv1.CronJob, name string, created time.Time, succeeded bool) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "default", Labels: map[string]string{jobs.LabelSchedule: cj.Name},
		CreationTimestamp: metav1.Time{Time: created},
		OwnerReferences:   []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: ptr.To(true)}},
	}}
	if succeeded {
		done := metav1.Time{Time: created.Add(time.Minute)}
		j.Status.CompletionTime = &done
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	} else {
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
	}
	return j
}

func runShowSchedule(t *testing.T, f *kubefake.Factory, args ...string) (string, error) {
	t.Helper()
	streams, out, _ := testStreams("")
	o := NewShowScheduleOptions(streams)
	o.now = func() time.Time { return scheduleNow }
	cmd := newCmdShowSchedule(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), err
}

func TestShowSchedule(t *testing.T) {
	scheduled := scheduleNow.Add(-9*time.Hour - 30*time.Minute) // 01:00
	cj := scheduleCronJob("hippo-pgbackrest-full", "hippo", &scheduled)
	// A run started by hand after the scheduled one, which failed.
	manual := scheduleRun(cj, "hippo-pgbackrest-full-manual", scheduleNow.Add(-time.Hour), false)
	ok := scheduleRun(cj, "hippo-pgbackrest-full-29400000", scheduled, true)
	stranger := scheduleRun(cj, "not-ours", scheduleNow, true)
	stranger.OwnerReferences = nil
	otherCluster := scheduleCronJob("zebra-pgbackrest-full", "zebra", nil)
	f := newClusterFactory(append(renderedClusterObjects(t, "hippo", "default"), cj, manual, ok, stranger, otherCluster)...)

	out, err := runShowSchedule(t, f, "hippo")
	if err != nil {
		t.Fatal(err)
	}
	want := "NAME                    CLUSTER   SCHEDULE    TYPE              LAST RUN               LAST RESULT   LAST SUCCESS           NEXT RUN               SUSPENDED\n" +
		"hippo-pgbackrest-full   hippo     0 1 * * *   pgbackrest full   2026-11-26T09:30:00Z   Failed        2026-11-26T01:01:00Z   2026-11-27T01:00:00Z   false\n"
	if out != want {
		t.Errorf("table:\n%s\nwant:\n%s", out, want)
	}

	out, err = runShowSchedule(t, f, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list ScheduleList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[0].Name != "hippo-pgbackrest-full" || list.Items[0].LastRunJob != "hippo-pgbackrest-full-manual" ||
		list.Items[1].Cluster != "zebra" || list.Items[1].LastRun != nil {
		t.Errorf("json %s", out)
	}

	out, err = runShowSchedule(t, f, "-l", "pg-cluster=zebra")
	if err != nil || !strings.Contains(out, "zebra-pgbackrest-full") || strings.Contains(out, "hippo-pgbackrest-full") {
		t.Errorf("-l: %v\n%s", err, out)
	}
}

func TestShowScheduleNothing(t *testing.T) {
	f := newClusterFactory(renderedClusterObjects(t, "hippo", "default")...)
	out, err := runShowSchedule(t, f, "hippo")
	if err != nil || !strings.HasPrefix(out, "no schedules found for cluster hippo in namespace \"default\"") {
		t.Errorf("%v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `cluster "nope" not found in namespace "default"`},
		{[]string{"--schedule-name=nope"}, `schedule "nope" not found in namespace "default"`},
		{[]string{"hippo", "-A"}, "a cluster NAME and -A cannot be used together"},
		{[]string{"-l", "a=(b"}, "invalid --selector"},
	} {
		if _, err := runShowSchedule(t, f, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

func runDeleteSchedule(t *testing.T, f *kubefake.Factory, stdin string, terminal bool, args ...string) (string, error) {
	t.Helper()
	streams, out, _ := testStreams(stdin)
	o := NewDeleteScheduleOptions(streams)
	o.isTerminal = func(io.Reader) bool { return terminal }
	cmd := newCmdDeleteSchedule(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), err
}

func TestDeleteSchedule(t *testing.T) {
	objects := func() []runtime.Object {
		return []runtime.Object{
			scheduleCronJob("hippo-pgbackrest-full", "hippo", nil), scheduleCronJob("hippo-pgbackrest-incr", "hippo", nil),
			scheduleCronJob("zebra-pgbackrest-full", "zebra", nil),
		}
	}
	remaining := func(f *kubefake.Factory) []string {
		list, _ := f.Clientset.BatchV1().CronJobs("default").List(context.Background(), metav1.ListOptions{})
		var names []string
		for _, cj := range list.Items {
			names = append(names, cj.Name)
		}
		return names
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		terminal bool
		want     string // the error, or the output
		fails    bool
		left     string
	}{
		{name: "one, with --yes", args: []string{"hippo", "--schedule-name=hippo-pgbackrest-full", "--yes"},
			want: "schedule hippo-pgbackrest-full deleted\n", left: "hippo-pgbackrest-incr zebra-pgbackrest-full"},
		{name: "all of the cluster, confirmed", args: []string{"hippo"}, stdin: "y\n", terminal: true,
			want: "schedule hippo-pgbackrest-full deleted\nschedule hippo-pgbackrest-incr deleted\n", left: "zebra-pgbackrest-full"},
		{name: "answered no", args: []string{"hippo"}, stdin: "n\n", terminal: true, fails: true,
			want: `cancelled: no schedule of cluster "hippo" was deleted`, left: "hippo-pgbackrest-full hippo-pgbackrest-incr zebra-pgbackrest-full"},
		{name: "no terminal", args: []string{"hippo"}, fails: true,
			want: "pass --yes (or --no-prompt)", left: "hippo-pgbackrest-full hippo-pgbackrest-incr zebra-pgbackrest-full"},
		{name: "another cluster's schedule", args: []string{"hippo", "--schedule-name=zebra-pgbackrest-full", "--no-prompt"}, fails: true,
			want: `cluster "hippo" has no schedule "zebra-pgbackrest-full" in namespace "default"`, left: "hippo-pgbackrest-full hippo-pgbackrest-incr zebra-pgbackrest-full"},
		{name: "no schedules", args: []string{"nope", "--yes"}, fails: true,
			want: `cluster "nope" has no schedules in namespace "default": nothing to delete`, left: "hippo-pgbackrest-full hippo-pgbackrest-incr zebra-pgbackrest-full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory(objects()...)
			allowAccess(f)
			out, err := runDeleteSchedule(t, f, tc.stdin, tc.terminal, tc.args...)
			if tc.fails {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error = %v, want %q", err, tc.want)
				}
			} else if err != nil || !strings.HasSuffix(out, tc.want) {
				t.Errorf("error %v, output %q, want it to end with %q", err, out, tc.want)
			}
			if got := strings.Join(remaining(f), " "); got != tc.left {
				t.Errorf("left %q, want %q", got, tc.left)
			}
		})
	}
}

func TestCompleteScheduleNames(t *testing.T) {
	f := newClusterFactory(scheduleCronJob("hippo-pgbackrest-full", "hippo", nil), scheduleCronJob("hippo-pgdump", "hippo", nil),
		scheduleCronJob("zebra-pgbackrest-full", "zebra", nil))
	streams, _, _ := testStreams("")
	cmd := NewCmdDeleteSchedule(f, streams)
	complete := completeScheduleNames(f)
	for _, tc := range []struct {
		args       []string
		toComplete string
		want       string
	}{
		{[]string{"hippo"}, "", "hippo-pgbackrest-full hippo-pgdump"},
		{[]string{"hippo"}, "hippo-pgd", "hippo-pgdump"},
		{nil, "", "hippo-pgbackrest-full hippo-pgdump zebra-pgbackrest-full"},
		{[]string{"zebra"}, "hippo", ""},
	} {
		got, directive := complete(cmd, tc.args, tc.toComplete)
		if strings.Join(got, " ") != tc.want || directive != cobra.ShellCompDirectiveNoFileComp {
			t.Errorf("complete(%v, %q) = %v, %v; want %q", tc.args, tc.toComplete, got, directive, tc.want)
		}
	}
}
