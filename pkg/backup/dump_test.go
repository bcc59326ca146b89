package backup

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// dumpJob is a finished pgdump Job of the cluster on the PVC.
func dumpJob(clusterName, pvc, ts string, ok bool) *batchv1.Job {
	l := cluster.Labels(clusterName, jobs.ComponentPGDump)
	l[jobs.LabelPGDumpTimestamp] = ts
	l[jobs.LabelPGDumpPVC] = pvc
	cond := batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}
	if !ok {
		cond.Type = batchv1.JobFailed
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: clusterName + "-pgdump-" + ts, Namespace: "default", Labels: l,
			Annotations: map[string]string{jobs.AnnotationPGDumpDatabase: "app", jobs.AnnotationPGDumpPath: "/x/" + ts}},
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond}},
	}
}

func pvc(name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
}

// FindDump picks the dump named, the latest at or before the target, or
// the latest completed one, of any cluster, on the PVC.
func TestFindDump(t *testing.T) {
	client := fake.NewClientset(pvc("p"),
		dumpJob("hippo", "p", "2026-11-24-10-00-00", true),
		dumpJob("rhino", "p", "2026-11-24-11-00-00", true),
		dumpJob("hippo", "p", "2026-11-24-12-00-00", false),
		dumpJob("hippo", "other", "2026-11-24-13-00-00", true))
	find := func(q DumpQuery) (string, error) {
		q.Cluster, q.Namespace, q.BackupType = "hippo", "default", jobs.BackupTypePGDump
		d, err := FindDump(context.Background(), client, q, jobs.DumpSelector(jobs.BackupTypePGDump, ""), "dump")
		if err != nil {
			return "", err
		}
		return d.Cluster + " " + d.Name, nil
	}
	for _, tc := range []struct {
		q    DumpQuery
		want string
	}{
		{DumpQuery{PVC: "p"}, "rhino 2026-11-24-11-00-00"},
		{DumpQuery{PVC: "p", Name: "2026-11-24-10-00-00"}, "hippo 2026-11-24-10-00-00"},
		{DumpQuery{PVC: "p", Target: time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)}, "hippo 2026-11-24-10-00-00"},
		{DumpQuery{PVC: "p", Name: "2026-11-24-12-00-00"}, "dump 2026-11-24-12-00-00 does not exist on PVC p; its dumps are: 2026-11-24-10-00-00 (cluster hippo, app), 2026-11-24-11-00-00 (cluster rhino, app). Nothing was changed"},
		{DumpQuery{PVC: "p", Target: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}, "no dump on PVC p was made at or before 2026-11-24T09:00:00Z: the oldest is 2026-11-24-10-00-00. Nothing was changed"},
		{DumpQuery{PVC: "none"}, `PVC none does not exist in namespace "default": there are no dumps to restore there; nothing was changed`},
	} {
		got, err := find(tc.q)
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.q, got, tc.want)
		}
	}
	client = fake.NewClientset(pvc("p"))
	if _, err := find(DumpQuery{PVC: "p"}); err == nil || err.Error() != `PVC p has no completed dumps for cluster "hippo": make one with kubectl pgo backup hippo --backup-type=pgdump; nothing was changed` {
		t.Errorf("error = %v", err)
	}
}

// StartDump checks the database, refuses beside a restore before it
// creates anything, creates the PVC when missing, then the Job.
func TestStartDump(t *testing.T) {
	r := DumpRequest{Cluster: "hippo", Namespace: "default", Image: "postgres", BackupType: jobs.BackupTypePGDump,
		Database: "app", PVC: "backup-hippo-pgdump-pvc", PVCSize: "1Gi", Deadline: time.Hour}
	var calls []fakecluster.ExecCall
	exists := fakecluster.RecordingExec(&calls, func(_, _ string, _ []string) (string, string, error) { return "1\n", "", nil })
	client := fake.NewClientset()
	job, err := StartDump(context.Background(), client, exists, r, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Pod != "hippo-0" || calls[0].Container != "database" ||
		!strings.HasSuffix(strings.Join(calls[0].Command, " "), "WHERE datname = 'app'") {
		t.Errorf("execs %+v", calls)
	}
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), r.PVC, metav1.GetOptions{}); err != nil {
		t.Errorf("PVC: %v", err)
	}
	result := NewDumpResult(r, job)
	if result.Name != "2026-11-26-08-00-00" || result.Database != "app" || result.PVC != r.PVC || result.Status != Started {
		t.Errorf("result %+v", result)
	}

	// A database that does not exist, and a restore that runs, start
	// nothing.
	missing := func(context.Context, string, string, string, []string) (string, string, error) { return "0\n", "", nil }
	restore := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-restore", Namespace: "default", Labels: cluster.Labels("hippo", jobs.ComponentRestore)}}
	for _, tc := range []struct {
		exec    Exec
		objects []runtime.Object
		want    string
	}{
		{missing, nil, `database "app" does not exist in cluster "hippo". Nothing was started`},
		{func(context.Context, string, string, string, []string) (string, string, error) {
			return "", "", errors.New("no pod")
		},
			nil, `cannot check that database "app" exists in cluster "hippo" (is pod hippo-0 running?): no pod. Nothing was started`},
		{exists, []runtime.Object{restore}, "(if it is stuck, delete it: kubectl delete job hippo-restore -n default). Nothing was started"},
	} {
		client := fake.NewClientset(tc.objects...)
		if _, err := StartDump(context.Background(), client, tc.exec, r, now); err == nil || !strings.HasSuffix(err.Error(), tc.want) ||
			tc.objects != nil && !strings.HasPrefix(err.Error(), "restore Job hippo-restore of cluster hippo is running (started just now): a pgdump backup cannot run beside it.") {
			t.Errorf("error = %v, want %q", err, tc.want)
		}
		for _, a := range client.Actions() {
			if v := a.GetVerb(); v != "get" && v != "list" {
				t.Errorf("changed something: %s %s", v, a.GetResource().Resource)
			}
		}
	}
}

// WaitDump reads the size at the end of the log; a failed Job is
// explained with the end of its log.
func TestWaitDump(t *testing.T) {
	r := DumpRequest{Cluster: "hippo", Namespace: "default", BackupType: jobs.BackupTypePGDump, Deadline: time.Hour}
	if s := sizeFromLog("pg_dump: done\n" + jobs.SizeMarker + " 2048\n"); s == nil || *s != 2048 {
		t.Errorf("size %v", s)
	}
	job := dumpJob("hippo", "p", "2026-11-24-10-00-00", false)
	client := fake.NewClientset(job, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x", Namespace: "default", Labels: map[string]string{batchv1.JobNameLabel: job.Name}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: jobs.PGDumpContainer,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}}})
	var out bytes.Buffer
	result := DumpResult{Status: Started}
	err := WaitDump(context.Background(), client, r, job, &out, &out, time.Millisecond, &result)
	if err == nil || !strings.HasPrefix(err.Error(), "pgdump job hippo-pgdump-2026-11-24-10-00-00 failed") || result.Status != Failed || result.Reason != "Failed" {
		t.Errorf("error %v, result %+v", err, result)
	}
}

// A dump keeps its cluster's major on its Job; it restores into the same or a newer major, and
// an older one is refused before anything is asked of the cluster.
func TestDumpRestoreMajor(t *testing.T) {
	r := DumpRequest{Cluster: "old", Namespace: "default", Image: "postgres", PostgresVersion: 17, BackupType: jobs.BackupTypePGDump,
		All: true, PVC: "backup-old-pgdump-pvc", PVCSize: "1Gi", Deadline: time.Hour}
	job, err := StartDump(context.Background(), fake.NewClientset(), nil, r, now)
	if err != nil {
		t.Fatal(err)
	}
	dump := DumpFromJob(job)
	if dump.PostgresVersion != 17 {
		t.Fatalf("the dump's major = %d, want 17 (annotations %v)", dump.PostgresVersion, job.Annotations)
	}
	for version, refused := range map[int]bool{15: true, 17: false, 18: false} {
		var execs int
		exec := func(context.Context, string, string, string, []string) (string, string, error) {
			execs++
			return "1\n", "", nil
		}
		err := CheckDumpRestore(context.Background(), fake.NewClientset(), exec,
			DumpRestore{Cluster: "new", Namespace: "default", PostgresVersion: version, Dump: &dump, Database: "postgres"}, now())
		if refused != (err != nil) || (refused && (execs != 0 ||
			!strings.Contains(err.Error(), "is of PostgreSQL 17 (cluster old), and cluster new runs PostgreSQL 15: a dump loads into the same or a newer major"))) {
			t.Errorf("into PostgreSQL %d: error %v after %d execs, want refused: %v", version, err, execs, refused)
		}
	}
}
