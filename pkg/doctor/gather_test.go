package doctor

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Gather, with the fake clientset and a fake exec, runs each command in
// the pod it belongs to, and the facts it gathers of a healthy cluster
// pass every check.
func TestGather(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "demo"}
	spec.Default()
	pg, rc := doctorSecrets(t, "hippo", "demo", doctorNow.Add(-24*time.Hour))
	running := func(name, component, container string) *corev1.Pod {
		p := readyRunningPod("demo", name, cluster.Labels("hippo", component))
		if component == cluster.ComponentRepo {
			p.Labels[cluster.LabelPGBackRestCommands] = "true"
		}
		p.Spec.Containers = []corev1.Container{{Name: container}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: container, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return p
	}
	client := fake.NewClientset(pg, rc, running("hippo-0", cluster.ComponentDatabase, "database"),
		running("hippo-backrest-shared-repo-x", cluster.ComponentRepo, "pgbackrest"))
	var mu sync.Mutex
	var calls []string
	exec := func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
		mu.Lock()
		calls = append(calls, pod+"/"+container+": "+command[0])
		mu.Unlock()
		line := strings.Join(command, " ")
		switch {
		case strings.Contains(line, "server-ping"):
			return "", "", nil
		case command[0] == "psql":
			return readTestdata(t, "../repo/testdata/archiver-ok.json"), "", nil
		case strings.HasSuffix(line, " info"):
			return readTestdata(t, "../repo/testdata/info-one-full.json"), "", nil
		case strings.Contains(line, " check"):
			return readTestdata(t, "../repo/testdata/check-ok.txt"), "", nil
		case command[0] == "df":
			return dfHalf, "", nil
		case command[0] == "du":
			return "5242880\t/backrestrepo/hippo-backrest-shared-repo\n", "", nil
		}
		t.Errorf("unexpected exec %q", command)
		return "", "", nil
	}
	f, err := Gather(context.Background(), client, exec, spec, Options{Namespace: "demo", Name: "hippo", Now: doctorNow})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 7 {
		t.Errorf("%d execs, want 7: %q", len(calls), calls)
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
