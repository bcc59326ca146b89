package doctor

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Gather, with the fake clientset and a fake exec, runs each command in
// the pod it belongs to, and the facts it gathers of a healthy cluster
// pass every check.
func TestGather(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "demo"}
	spec.Default()
	pg, rc := fakecluster.Secrets(t, "hippo", "demo", fakecluster.HealthyNow.Add(-24*time.Hour))
	running := func(name, component, container string) *corev1.Pod {
		return fakecluster.RunningPod("demo", name, fakecluster.PodLabels("hippo", component), container)
	}
	client := fake.NewClientset(pg, rc, running("hippo-0", cluster.ComponentDatabase, "database"),
		running("hippo-backrest-shared-repo-x", cluster.ComponentRepo, "pgbackrest"))
	var mu sync.Mutex
	var calls []string
	exec := func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
		mu.Lock()
		calls = append(calls, pod+"/"+container+": "+command[0])
		mu.Unlock()
		out, ok := fakecluster.HealthyAnswer(t, command)
		if !ok {
			out, ok = fakecluster.LoadedAnswer(command, pg, rc)
		}
		if !ok {
			t.Errorf("unexpected exec %q", command)
		}
		return out, "", nil
	}
	f, err := Gather(context.Background(), client, exec, spec, Options{Namespace: "demo", Name: "hippo", Now: fakecluster.HealthyNow})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 15 {
		t.Errorf("%d execs, want 15 (8, and 7 reads of what the pods loaded): %q", len(calls), calls)
	}
	for _, c := range calls {
		pod, container, _ := strings.Cut(strings.Split(c, ":")[0], "/")
		if want := map[string]string{"database": "hippo-0", "pgbackrest": "hippo-backrest-shared-repo-x"}[container]; pod != want {
			t.Errorf("exec %s", c)
		}
	}
	for _, c := range Diagnose(f, DefaultMaxBackupAge) {
		if c.Status != OK {
			t.Errorf("%s %s: %s", c.Name, c.Status, c.Detail)
		}
	}
}
