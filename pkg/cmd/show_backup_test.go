package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// -update rewrites testdata/*.golden; registered here unless another test
// file of the package has registered it (package variables are set before
// init functions run).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite testdata/*.golden with the current output")
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update if intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

var testNow = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func fakeBackupJob(ns, clusterName, name, typ string, created time.Duration, state string) *batchv1.Job {
	l := cluster.Labels(clusterName, jobs.ComponentBackup)
	l[jobs.LabelBackupType] = jobs.BackupTypePGBackRest
	l[jobs.LabelPGBackRestType] = typ
	start := metav1.NewTime(testNow.Add(created))
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l, CreationTimestamp: start}}
	j.Status.StartTime = &start
	switch state {
	case "complete":
		done := metav1.NewTime(start.Add(9 * time.Second))
		j.Status.CompletionTime = &done
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	case "failed":
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded",
			LastTransitionTime: metav1.NewTime(start.Add(4 * time.Minute))}}
	}
	return j
}

func runShow(t *testing.T, f *kubefake.Factory, exec execFunc, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewShowBackupOptions(streams)
	o.exec = exec
	o.now = func() time.Time { return testNow }
	cmd := newCmdShowBackup(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// infoExec answers pgbackrest info with a capture of testdata.
func infoExec(t *testing.T, calls *[]fakecluster.ExecCall, file string) execFunc {
	var mu sync.Mutex
	return func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
		mu.Lock()
		*calls = append(*calls, fakecluster.ExecCall{Pod: pod, Container: container, Command: command})
		mu.Unlock()
		return fakecluster.RepoTestdata(t, ""+file), "", nil
	}
}

func TestShowBackup(t *testing.T) {
	objects := append(renderedClusterObjects(t, "hippo", "default"),
		fakeBackupJob("default", "hippo", "hippo-backup-incr-ccccc", "incr", -10*time.Minute, "complete"),
		fakeBackupJob("default", "hippo", "hippo-backup-full-aaaaa", "full", -40*time.Minute, "complete"),
		fakeBackupJob("default", "hippo", "hippo-backup-full-bbbbb", "full", -30*time.Minute, "failed"),
		fakeBackupJob("default", "hippo", "hippo-backup-diff-ddddd", "diff", -time.Minute, "running"),
		fakeBackupJob("default", "other", "other-backup-full-eeeee", "full", -time.Minute, "running"),
	)
	f := kubefake.NewFactory(objects...)
	var calls []fakecluster.ExecCall
	out, _, err := runShow(t, f, infoExec(t, &calls, "info-full-diff-incr.json"), "hippo")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "show-backup.golden", out)
	if len(calls) != 1 || calls[0].Container != "pgbackrest" || !slices.Equal(calls[0].Command[3:], []string{"sh", "", "", "pgbackrest", "--stanza=db", "--output=json", "info"}) {
		t.Errorf("execs = %+v", calls)
	}
	// The requests: the repository pod and the Jobs, sent at once, and
	// the exec (not sent through the fake clientset). The cluster's
	// existence is asked only when reading it fails.
	var reqs []string
	for _, a := range f.Clientset.Actions() {
		reqs = append(reqs, a.GetVerb()+" "+a.GetResource().Resource)
	}
	slices.Sort(reqs)
	if got := strings.Join(reqs, ", "); got != "list jobs, list pods" {
		t.Errorf("requests = %s", got)
	}

	out, _, err = runShow(t, f, infoExec(t, &calls, "info-full-diff-incr.json"), "hippo", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var back ClusterBackups
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if back.Cluster != "hippo" || back.Repository == nil || len(back.Repository.Backups) != 3 || len(back.Jobs) != 4 ||
		back.Repository.Backups[2].Prior != back.Repository.Backups[1].Label || back.Jobs[0].Name != "hippo-backup-full-aaaaa" {
		t.Errorf("JSON = %s", out)
	}
}

func TestShowBackupNoBackups(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	var calls []fakecluster.ExecCall
	out, _, err := runShow(t, f, infoExec(t, &calls, "info-empty-stanza.json"), "hippo")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "show-backup-empty.golden", out)
	if !strings.Contains(out, "no backups yet") {
		t.Errorf("output does not say there are no backups:\n%s", out)
	}
}

func TestShowBackupErrors(t *testing.T) {
	t.Run("cluster not found", func(t *testing.T) {
		f := kubefake.NewFactory()
		_, _, err := runShow(t, f, noExec(t), "hippo")
		if err == nil || !strings.HasPrefix(err.Error(), `cluster "hippo" not found in namespace "default"`) {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("repository host down", func(t *testing.T) {
		var objects []runtime.Object
		for _, o := range renderedClusterObjects(t, "hippo", "default") {
			if p, ok := o.(*corev1.Pod); ok && p.Labels[cluster.LabelComponent] == cluster.ComponentRepo {
				continue
			}
			objects = append(objects, o)
		}
		_, _, err := runShow(t, kubefake.NewFactory(objects...), noExec(t), "hippo")
		if err == nil || !strings.HasPrefix(err.Error(), `cannot show the backups of cluster "hippo": the repository host (or, for an S3-only cluster, the database pod) is not running: no running pod matches`) {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("exec forbidden", func(t *testing.T) {
		forbidden := func(context.Context, string, string, string, []string) (string, string, error) {
			return "", "", errors.New(`pods "x" is forbidden: User "u" cannot create resource "pods/exec"`)
		}
		_, _, err := runShow(t, kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...), forbidden, "hippo")
		if err == nil || !strings.Contains(err.Error(), "exec into pod default/hippo-backrest-shared-repo-5d8f7-abcde is forbidden (kubectl pgo needs the create verb on pods/exec in namespace default)") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("repository refuses", func(t *testing.T) {
		var calls []fakecluster.ExecCall
		out, _, err := runShow(t, kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...), infoExec(t, &calls, "info-unknown-ca.json"), "hippo")
		// A stanza in error is shown, with pgBackRest's message.
		if err != nil || !strings.Contains(out, "status: error (other)") || !strings.Contains(out, "unknown ca") {
			t.Errorf("error %v, output:\n%s", err, out)
		}
	})
}

func TestShowBackupBadInputSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "a cluster name is required, or -A or --selector"},
		{[]string{"hippo", "-A"}, "a cluster NAME cannot be combined with -A or --selector"},
		{[]string{"hippo", "--selector", "env=prod"}, "a cluster NAME cannot be combined"},
		{[]string{"--selector", "env in (prod"}, `invalid --selector "env in (prod"`},
		{[]string{"a", "b"}, "takes one cluster name, got 2 arguments"},
		{[]string{"hippo", "-o", "wide"}, `invalid output format "wide"`},
	} {
		f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
		_, _, err := runShow(t, f, noExec(t), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want %q", tc.args, err, tc.want)
		}
		if n := len(f.Clientset.Actions()); n != 0 {
			t.Errorf("%v: sent %d requests", tc.args, n)
		}
	}
}

// With -A, every cluster is read, in parallel; one that fails is reported
// after the others, and the command fails.
func TestShowBackupAllNamespaces(t *testing.T) {
	var objects []runtime.Object
	objects = append(objects, renderedClusterObjects(t, "hippo", "pg")...)
	objects = append(objects, renderedClusterObjects(t, "zebra", "pg")...)
	for _, o := range renderedClusterObjects(t, "broken", "other") {
		if p, ok := o.(*corev1.Pod); ok && p.Labels[cluster.LabelComponent] == cluster.ComponentRepo {
			continue
		}
		objects = append(objects, o)
	}
	objects = append(objects, fakeBackupJob("pg", "zebra", "zebra-backup-full-aaaaa", "full", -time.Hour, "complete"))
	f := kubefake.NewFactory(objects...)

	// Both execs must be in flight at once to return: proof of
	// parallelism.
	var calls []fakecluster.ExecCall
	var mu sync.Mutex
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	exec := func(ctx context.Context, _, pod, container string, command []string) (string, string, error) {
		mu.Lock()
		calls = append(calls, fakecluster.ExecCall{Pod: pod, Container: container, Command: command})
		mu.Unlock()
		started <- struct{}{}
		select {
		case <-release:
		case <-time.After(5 * time.Second):
			return "", "", errors.New("the other cluster was not queried at the same time")
		}
		return fakecluster.RepoTestdata(t, "info-one-full.json"), "", nil
	}
	go func() {
		<-started
		<-started
		close(release)
	}()
	out, _, err := runShow(t, f, exec, "-A")
	if err == nil || err.Error() != "1 of 3 clusters could not be read:\n  cluster other/broken: the repository host (or, for an S3-only cluster, the database pod) is not running: no running pod matches \"app.kubernetes.io/instance=broken,kubectl-pgo/pgbackrest-commands=true,pg-cluster=broken\" in namespace \"other\"" {
		t.Errorf("error = %v", err)
	}
	checkGolden(t, "show-backup-all.golden", out)

	out, _, _ = runShowFresh(t, objects, "-A", "-o", "yaml")
	if !strings.Contains(out, "items:") || !strings.Contains(out, "cluster: broken") || !strings.Contains(out, "error: 'the repository host (or, for an S3-only cluster") {
		t.Errorf("yaml:\n%s", out)
	}
}

func runShowFresh(t *testing.T, objects []runtime.Object, args ...string) (string, string, error) {
	var calls []fakecluster.ExecCall
	return runShow(t, kubefake.NewFactory(objects...), infoExec(t, &calls, "info-one-full.json"), args...)
}

func TestShowBackupSelector(t *testing.T) {
	var objects []runtime.Object
	for _, name := range []string{"hippo", "rhino"} {
		for _, o := range renderedClusterObjects(t, name, "default") {
			if cm, ok := o.(*corev1.ConfigMap); ok && name == "hippo" {
				cm.Labels["env"] = "prod"
			}
			objects = append(objects, o)
		}
	}
	out, _, err := runShowFresh(t, objects, "--selector", "env=prod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "cluster: hippo") || strings.Contains(out, "rhino") {
		t.Errorf("output:\n%s", out)
	}
	_, errOut, err := runShowFresh(t, objects, "--selector", "env=dev")
	if err != nil || errOut != "No clusters found matching \"env=dev\" in namespace \"default\".\n" {
		t.Errorf("error %v, stderr %q", err, errOut)
	}
}

// pgdumpJob is a finished pgdump (or pgbasebackup) Job of the cluster.
func pgdumpJob(ns, clusterName, component, ts string) *batchv1.Job {
	l := cluster.Labels(clusterName, component)
	l[jobs.LabelPGDumpTimestamp] = ts
	l[jobs.LabelPGDumpPVC] = "backup-" + clusterName + "-pvc"
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: clusterName + "-" + component + "-" + ts, Namespace: ns, Labels: l,
			Annotations: map[string]string{jobs.AnnotationPGDumpDatabase: "app", jobs.AnnotationPGDumpPath: "/x/" + ts}},
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}},
	}
}

// -A and --selector list the dumps (or base backups) of every cluster
// they select, grouped by cluster, each under its own.
func TestShowBackupPGDumpMany(t *testing.T) {
	objects := append(append(append(renderedClusterObjects(t, "hippo", "a"), renderedClusterObjects(t, "rhino", "a")...), renderedClusterObjects(t, "hippo", "b")...),
		pgdumpJob("a", "hippo", jobs.ComponentPGDump, "2026-11-24-12-00-00"),
		pgdumpJob("a", "hippo", jobs.ComponentPGDump, "2026-11-24-11-00-00"),
		pgdumpJob("a", "rhino", jobs.ComponentPGDump, "2026-11-24-12-00-00"),
		pgdumpJob("b", "hippo", jobs.ComponentPGDump, "2026-11-24-10-00-00"),
		pgdumpJob("b", "hippo", jobs.ComponentPGBaseBackup, "2026-11-24-10-00-00"),
	)
	for _, tc := range []struct {
		name string
		args []string
		want string // namespace/cluster:count ...
	}{
		{"every namespace", []string{"-A"}, "a/hippo:2 a/rhino:1 b/hippo:1"},
		{"selector", []string{"-A", "--selector", "pg-cluster=hippo"}, "a/hippo:2 b/hippo:1"},
		{"base backups", []string{"-A", "--backup-type=pgbasebackup"}, "a/hippo:0 a/rhino:0 b/hippo:1"},
		{"nothing selected", []string{"-A", "--selector", "pg-cluster=nope"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--backup-type=pgdump", "-o", "json"}, tc.args...)
			out, _, err := runShow(t, kubefake.NewFactory(objects...), noExec(t), args...)
			if err != nil {
				t.Fatal(err)
			}
			var lists PGDumpLists
			if err := json.Unmarshal([]byte(out), &lists); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			var got []string
			for _, l := range lists.Items {
				got = append(got, fmt.Sprintf("%s/%s:%d", l.Namespace, l.Cluster, len(l.Dumps)))
				for i, d := range l.Dumps {
					if d.Cluster != l.Cluster || d.Namespace != l.Namespace || (i > 0 && d.Name < l.Dumps[i-1].Name) {
						t.Errorf("dump %+v in list %s/%s", d, l.Namespace, l.Cluster)
					}
				}
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("lists %q, want %q", s, tc.want)
			}
		})
	}
	out, _, err := runShow(t, kubefake.NewFactory(objects...), noExec(t), "-A", "--backup-type=pgdump")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "NAMESPACE  CLUSTER  NAME") || !strings.HasPrefix(lines[1], "a          hippo    2026-11-24-11-00-00") ||
		!strings.HasPrefix(lines[4], "b          hippo    2026-11-24-10-00-00") {
		t.Errorf("table:\n%s", out)
	}
}

// After restores, show backup names the timelines and marks the backups
// a restore of the current timeline cannot start from (the output of a
// real cluster: a full and an incremental on timeline 1, a PITR between
// them, a restore to the latest point, and a PITR on timeline 1 again).
func TestShowBackupTimelines(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	var calls []fakecluster.ExecCall
	out, _, err := runShow(t, f, infoExec(t, &calls, "info-timelines.txt"), "hippo")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "show-backup-timelines.golden", out)
	js, _, err := runShow(t, f, infoExec(t, &calls, "info-timelines.txt"), "hippo", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got ClusterBackups
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	r := got.Repository
	if r == nil || r.CurrentTimeline != 4 || len(r.Timelines) != 4 || r.Timelines[3].Parent != 1 || r.Timelines[3].ForkLSN != "0/6195E88" {
		t.Fatalf("timelines = %+v", r)
	}
	// Timeline 4 forked off 1 after both backups: both reach it.
	for _, b := range r.Backups {
		if b.Timeline != 1 || b.ReachesCurrentTimeline == nil || !*b.ReachesCurrentTimeline {
			t.Errorf("backup %s: timeline %d, reaches %v", b.Label, b.Timeline, b.ReachesCurrentTimeline)
		}
	}
}

// Before the last PITR, the current timeline was 3: the incremental,
// taken on timeline 1 after timeline 2 forked off, cannot start its
// restore.
func TestShowBackupBackupOffTheCurrentTimeline(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	var calls []fakecluster.ExecCall
	out, _, err := runShow(t, f, infoExec(t, &calls, "info-timelines-3.txt"), "hippo")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"timeline: 1, restores to the current timeline 3: yes",
		"timeline: 1, restores to the current timeline 3: no (ended at LSN 0/4000100 on timeline 1, after timeline 2 forked off it at 0/32F5EE8; use --target-timeline=1 to restore its timeline)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
