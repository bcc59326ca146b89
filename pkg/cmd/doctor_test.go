package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// doctorExec answers every command doctor runs in a healthy cluster.
func doctorExec(t *testing.T, calls *[]fakecluster.ExecCall, objects ...runtime.Object) execFunc {
	var mu sync.Mutex
	return func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
		mu.Lock()
		*calls = append(*calls, fakecluster.ExecCall{Pod: pod, Container: container, Command: command})
		mu.Unlock()
		out, ok := fakecluster.HealthyAnswer(t, command)
		if !ok {
			out, ok = fakecluster.LoadedAnswer(command, objects...)
		}
		if !ok {
			t.Errorf("unexpected exec %q", command)
		}
		return out, "", nil
	}
}

func runDoctor(t *testing.T, objects []runtime.Object, execFn execFunc, args ...string) (string, error) {
	t.Helper()
	streams, out, _ := testStreams("")
	o := NewDoctorOptions(streams)
	o.exec = execFn
	o.now = func() time.Time { return fakecluster.HealthyNow }
	cmd := newCmdDoctor(kubefake.NewFactory(objects...), o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	// nil would make cobra read os.Args.
	cmd.SetArgs(append([]string{}, args...))
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), err
}

// doctorObjects are a cluster's objects, its Secrets, and its pods with
// their containers running.
func doctorObjects(t *testing.T) []runtime.Object {
	pg, rc := fakecluster.Secrets(t, "hippo", "default", fakecluster.HealthyNow.Add(-24*time.Hour))
	objects := renderedClusterObjects(t, "hippo", "default")
	for _, o := range objects {
		if p, ok := o.(*corev1.Pod); ok {
			container := map[string]string{cluster.ComponentDatabase: "database", cluster.ComponentRepo: "pgbackrest"}[p.Labels[cluster.LabelComponent]]
			p.Spec.Containers = []corev1.Container{{Name: container}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: container, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}
	}
	return append(objects, pg, rc)
}

func TestDoctorHealthy(t *testing.T) {
	objects := doctorObjects(t)
	var calls []fakecluster.ExecCall
	out, err := runDoctor(t, objects, doctorExec(t, &calls, objects...), "hippo")
	if err != nil {
		t.Fatalf("doctor of a healthy cluster: %v\n%s", err, out)
	}
	checkGolden(t, "doctor.golden", out)
	for _, c := range calls {
		want := map[string]string{"database": "hippo-0", "pgbackrest": "hippo-backrest-shared-repo-5d8f7-abcde"}[c.Container]
		if c.Pod != want {
			t.Errorf("exec %q in %s/%s", c.Command, c.Pod, c.Container)
		}
		if strings.Contains(strings.Join(c.Command, " "), " check") && !strings.Contains(strings.Join(c.Command, " "), "--archive-timeout=30") {
			t.Errorf("pgbackrest check without a short archive timeout: %q", c.Command)
		}
	}
	if len(calls) != 15 {
		t.Errorf("%d execs, want 15 (8, and 7 reads of what the pods loaded): %+v", len(calls), calls)
	}

	calls = nil
	out, err = runDoctor(t, objects, doctorExec(t, &calls, objects...), "hippo", "--no-check", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r DoctorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !r.Healthy || r.Failed != 0 || r.Warnings != 0 || len(r.Checks) != 13 {
		t.Errorf("report = %s", out)
	}
	for _, c := range calls {
		if strings.Contains(strings.Join(c.Command, " "), " check") {
			t.Errorf("--no-check ran %q", c.Command)
		}
	}
}

func TestDoctorFails(t *testing.T) {
	objects := doctorObjects(t)
	var calls []fakecluster.ExecCall
	healthy := doctorExec(t, &calls, objects...)
	full := func(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
		if command[0] == "df" {
			return fakecluster.DFFull, "", nil
		}
		return healthy(ctx, ns, pod, container, command)
	}
	out, err := runDoctor(t, objects, full, "hippo")
	if err == nil || !strings.Contains(err.Error(), "1 of 14 checks failed: repo1 PVC usage") {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(out, "✗   repo1 PVC usage") || !strings.Contains(out, "fix: free space") {
		t.Errorf("output:\n%s", out)
	}
}

func TestDoctorBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "takes one cluster name, got 0"},
		{[]string{"a", "b"}, "takes one cluster name, got 2"},
		{[]string{"Bad_Name"}, "is not valid"},
		{[]string{"hippo", "--max-backup-age=0s"}, "--max-backup-age must be positive"},
		{[]string{"hippo", "-o", "wide"}, "invalid output format"},
		{[]string{"nosuch"}, `cluster "nosuch" not found`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var calls []fakecluster.ExecCall
			_, err := runDoctor(t, renderedClusterObjects(t, "hippo", "default"), doctorExec(t, &calls), tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if len(calls) > 0 {
				t.Errorf("bad input ran %+v", calls)
			}
		})
	}
}

func TestUnreachableHint(t *testing.T) {
	timeout := &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: context.DeadlineExceeded}
	for _, tc := range []struct {
		err  error
		hint bool
	}{
		{timeout, true},
		{fmt.Errorf("list pods: %w", timeout), true},
		{context.DeadlineExceeded, true},
		{errors.New(`no running pod matches "x"`), false},
		{apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New("no")), false},
	} {
		if got := unreachableHint(tc.err) != ""; got != tc.hint {
			t.Errorf("unreachableHint(%v) = %v, want %v", tc.err, got, tc.hint)
		}
		if want := map[bool]string{true: "could not be looked up", false: "is not running"}[tc.hint]; tc.hint && notRunning(tc.err) != want {
			t.Errorf("notRunning(%v) = %q, want %q", tc.err, notRunning(tc.err), want)
		}
	}
}
