package fakecluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// The repository of the fake cluster: one full backup that ended at
// 07:25:29, and WAL archived until 07:40:00 (the file's time stamp).
const (
	InfoOneFull = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000006","min":"000000010000000000000001"}],
"backup":[{"archive":{"start":"000000010000000000000002","stop":"000000010000000000000002"},"backrest":{"format":5,"version":"2.45"},
"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":1,"repository":{"delta":1,"size":1},"size":1},
"label":"20261126-072526F","lsn":{"start":"0/2000028","stop":"0/2000100"},"prior":null,"reference":null,
"timestamp":{"start":1795677926,"stop":1795677929},"type":"full"}],
"cipher":"none","db":[{"id":1,"repo-key":1,"system-id":7712377869901631504,"version":"15"}],"name":"db",
"repo":[{"cipher":"none","key":1,"status":{"code":0,"message":"ok"}}],"status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}}]`
	InfoNoBackups = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":null,"min":null}],"backup":[],"cipher":"none",
"db":[{"id":1,"repo-key":1,"system-id":7712371840594409285,"version":"15"}],"name":"db",
"repo":[{"cipher":"none","key":1,"status":{"code":2,"message":"no valid backups"}}],"status":{"code":2,"lock":{"backup":{"held":false}},"message":"no valid backups"}}]`
	// LastArchived is what the archive's newest WAL file's time stamp
	// prints as: 2026-11-26 07:40:00 UTC.
	LastArchived = "1795678800\n"
)

// Cluster is a fake cluster "hippo" in namespace "pgo": its objects as
// create cluster renders them, a running database pod and repository
// host, controllers for its StatefulSet and Jobs, and an exec (Exec) that
// answers like the real containers. Tests set the fields to vary it.
type Cluster struct {
	Factory *kubefake.Factory
	// Info is what pgbackrest info prints; PSQL what psql prints.
	Info, PSQL string
	// JobFails makes every Job fail; JobRuns makes it never finish.
	JobFails, JobRuns bool

	mu    sync.Mutex
	execs []string
}

// New is the fake cluster hippo with one full backup, its database
// running and its WAL archived.
func New(t testing.TB) *Cluster {
	t.Helper()
	objects := TypedOfKinds(t, Render(t, cluster.Spec{Name: "hippo", Namespace: "pgo"}, Material()), "ConfigMap", "StatefulSet")
	objects = append(objects,
		RunningPod("pgo", "hippo-0", cluster.Labels("hippo", cluster.ComponentDatabase), "database", "pgbackrest"),
		RunningPod("pgo", "hippo-backrest-shared-repo-abc", PodLabels("hippo", cluster.ComponentRepo), "pgbackrest"),
	)
	fx := &Cluster{
		Factory: kubefake.NewFactory(objects...),
		Info:    InfoOneFull,
		PSQL:    "f||00000002000000000000000B\n",
	}
	fx.Factory.NS = "pgo"
	c := fx.Factory.Clientset
	podsGVR := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	// The StatefulSet controller: the pod goes at 0 replicas and comes
	// back at 1.
	c.PrependReactor("patch", "statefulsets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		patch := string(action.(k8stesting.PatchAction).GetPatch())
		switch {
		case strings.Contains(patch, `"replicas":0`):
			_ = c.Tracker().Delete(podsGVR, "pgo", "hippo-0")
		case strings.Contains(patch, `"replicas":1`):
			_ = c.Tracker().Add(RunningPod("pgo", "hippo-0", cluster.Labels("hippo", cluster.ComponentDatabase), "database", "pgbackrest"))
		}
		return false, nil, nil
	})
	// The Job controller: the Job finishes at once.
	c.PrependReactor("create", "jobs", func(action k8stesting.Action) (bool, runtime.Object, error) {
		job := action.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		job.UID = types.UID("job-uid")
		cond := batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}
		if fx.JobFails {
			cond = batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}
		}
		if !fx.JobRuns {
			job.Status.Conditions = []batchv1.JobCondition{cond}
		}
		return false, nil, nil
	})
	return fx
}

// Exec answers pgbackrest info with Info, the shell command that reads the
// archive's time stamp with LastArchived, and psql with PSQL, and records
// each command as "pod/container: command".
func (fx *Cluster) Exec(_ context.Context, ns, pod, container string, command []string) (string, string, error) {
	fx.mu.Lock()
	fx.execs = append(fx.execs, pod+"/"+container+": "+strings.Join(command, " "))
	fx.mu.Unlock()
	switch {
	case slices.Contains(command, "info"):
		return fx.Info, "", nil
	case command[0] == "sh":
		return LastArchived, "", nil
	case command[0] == "psql":
		return fx.PSQL, "", nil
	case command[0] == "bash" && strings.Contains(command[len(command)-1], "ALTER ROLE"):
		return "unchanged\n", "", nil // the superuser's password after a restore
	}
	return "", "", fmt.Errorf("unexpected command %q", command)
}

// Execs are the commands Exec ran, in order, as "pod/container: command".
func (fx *Cluster) Execs() []string {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	return slices.Clone(fx.execs)
}

// Mutations are the requests to the typed clientset that changed
// something, as "verb resource".
func (fx *Cluster) Mutations() []string {
	var m []string
	for _, a := range fx.Factory.Clientset.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		m = append(m, a.GetVerb()+" "+a.GetResource().Resource)
	}
	return m
}

// Refused fails t unless err contains want and nothing in the fake
// cluster changed: what a refusal must be.
func (fx *Cluster) Refused(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
	if m := fx.Mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}
}
