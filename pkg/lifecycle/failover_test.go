package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// PlanFailover picks the streaming replica with the least lag, takes a target by pod or instance
// name, and refuses (before any change) a cluster without replicas, an unknown target, the primary,
// a target that lags beyond MaxLag or does not stream, unless Force, which keeps a warning.
func TestPlanFailover(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "default", Replicas: 3}
	db := fakecluster.PodLabels("hippo", cluster.ComponentDatabase)
	f := newClusterFactory(
		fakecluster.RunningPod("default", "hippo-0", db, "database", "pgbackrest"),
		fakecluster.RunningPod("default", "hippo-r1-0", db, "database", "pgbackrest"),
		fakecluster.RunningPod("default", "hippo-r2-0", db, "database", "pgbackrest"),
		fakecluster.RunningPod("default", "hippo-r3-0", db, "database", "pgbackrest"))
	exec := func(_ context.Context, _, pod, _ string, command []string) (string, string, error) {
		switch query := command[len(command)-1]; {
		case strings.Contains(query, "pg_stat_replication"):
			return `[{"name": "hippo-r1", "state": "streaming", "lagBytes": 900000},
			         {"name": "hippo-r2", "state": "streaming", "lagBytes": 4096},
			         {"name": "hippo-r3", "state": "catchup", "lagBytes": 0}]`, "", nil
		case pod == "hippo-0":
			return `{"inRecovery": false, "timeline": 2}`, "", nil
		default:
			return `{"inRecovery": true, "timeline": 2}`, "", nil
		}
	}
	plan := func(r FailoverRequest) (*FailoverPlan, error) {
		r.Exec = exec
		if r.Spec.Name == "" {
			r.Spec = spec
		}
		if r.MaxLag == 0 {
			r.MaxLag = DefaultMaxLag
		}
		return PlanFailover(context.Background(), clients(f), r)
	}

	p, err := plan(FailoverRequest{})
	if err != nil || p.From.Pod != "hippo-0" || p.To.Pod != "hippo-r2-0" || len(p.Warnings) != 0 {
		t.Fatalf("default: %+v, %v; want hippo-0 to hippo-r2-0 (the least lag among the streaming)", p, err)
	}
	if p, err := plan(FailoverRequest{Target: "hippo-r1"}); err != nil || p.To.Pod != "hippo-r1-0" {
		t.Errorf("--target=hippo-r1: %+v, %v", p, err)
	}
	for _, c := range []struct {
		name string
		r    FailoverRequest
		want string
	}{
		{"no replicas", FailoverRequest{Spec: cluster.Spec{Name: "hippo", Namespace: "default"}}, "has no replica to fail over to"},
		{"unknown target", FailoverRequest{Target: "hippo-r9-0"}, "--target=hippo-r9-0 is not an instance of cluster \"hippo\": its replicas are hippo-r1-0, hippo-r2-0, hippo-r3-0"},
		{"target is the primary", FailoverRequest{Target: "hippo-0"}, "is already the primary"},
		{"lag", FailoverRequest{Target: "hippo-r1-0", MaxLag: 1024}, "replica hippo-r1-0 is 900000 bytes behind the primary, more than --max-lag=1024"},
		{"not streaming", FailoverRequest{Target: "hippo-r3-0"}, "replica hippo-r3-0 is not streaming (hippo-r3-0: catchup)"},
	} {
		if _, err := plan(c.r); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	p, err = plan(FailoverRequest{Target: "hippo-r1-0", MaxLag: 1024, Force: true})
	if err != nil || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "900000 bytes behind") {
		t.Errorf("--force: %+v, %v; want the lag as a warning", p, err)
	}
	for _, a := range f.Clientset.Actions() {
		if a.GetVerb() != "list" {
			t.Errorf("planning changed something: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}

	// The primary cannot be asked: refused without --force, which names it; with --force the
	// replica that replayed the furthest, asked of each replica.
	exec = func(_ context.Context, _, pod, _ string, command []string) (string, string, error) {
		switch query := command[len(command)-1]; {
		case pod == "hippo-0":
			return "", "", errors.New("dial tcp 10.88.1.1:10250: connect: connection refused")
		case strings.Contains(query, "pg_last_wal_replay_lsn"):
			return map[string]string{"hippo-r1-0": "0/5000000", "hippo-r2-0": "0/9000060", "hippo-r3-0": "0/3000000"}[pod], "", nil
		default:
			return `{"inRecovery": true, "timeline": 2}`, "", nil
		}
	}
	if _, err := plan(FailoverRequest{}); err == nil || !strings.Contains(err.Error(), "the primary hippo-0 cannot be asked (") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("unreachable primary without --force: %v", err)
	}
	if p, err := plan(FailoverRequest{Force: true}); err != nil || p.To.Pod != "hippo-r2-0" || len(p.Warnings) != 1 {
		t.Errorf("unreachable primary with --force: %+v, %v; want hippo-r2-0 (replayed the furthest) and one warning", p, err)
	}
}
