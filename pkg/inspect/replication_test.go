package inspect

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Instances asks every running instance whether it is in recovery and its timeline, and the
// primary for its WAL senders; a replica the primary does not list is "not connected", and a
// pod that does not run is named as such, without an exec.
func TestInstances(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "pg", Replicas: 2}
	db := fakecluster.PodLabels("hippo", cluster.ComponentDatabase)
	pods := []corev1.Pod{
		*fakecluster.RunningPod("pg", "hippo-0", db, "database", "pgbackrest"),
		*fakecluster.RunningPod("pg", "hippo-r1-0", db, "database", "pgbackrest"),
	}
	var asked []string
	var mu sync.Mutex
	exec := func(_ context.Context, _, pod, _ string, command []string) (string, string, error) {
		query := command[len(command)-1]
		mu.Lock()
		asked = append(asked, pod)
		mu.Unlock()
		switch {
		case strings.Contains(query, "pg_stat_replication"):
			return `[{"name": "hippo-r1", "state": "streaming", "lagBytes": 2048, "lagSeconds": 0.5}]`, "", nil
		case pod == "hippo-0":
			return `{"inRecovery": false, "timeline": 3}`, "", nil
		default:
			return `{"inRecovery": true, "timeline": 3}`, "", nil
		}
	}
	got := Instances(context.Background(), exec, spec, pods)
	if len(got) != 3 || len(asked) != 3 {
		t.Fatalf("%d instances, %d execs (%v), want 3 and 3", len(got), len(asked), asked)
	}
	p, r1, r2 := got[0], got[1], got[2]
	if p.Name != "hippo" || p.Role != cluster.RolePrimary || p.InRecovery == nil || *p.InRecovery || p.Timeline != 3 || p.State != "" {
		t.Errorf("primary: %+v", p)
	}
	if r1.Role != cluster.RoleReplica || r1.InRecovery == nil || !*r1.InRecovery || r1.State != "streaming" || *r1.LagBytes != 2048 || *r1.LagSeconds != 0.5 {
		t.Errorf("replica 1: %+v", r1)
	}
	if r2.Pod != "hippo-r2-0" || r2.Error != "no pod" || r2.State != "not connected" || r2.InRecovery != nil {
		t.Errorf("replica 2, without a pod: %+v", r2)
	}
	if primaries := Primaries(got); len(primaries) != 1 || primaries[0] != "hippo-0" {
		t.Errorf("Primaries = %v", primaries)
	}
}
