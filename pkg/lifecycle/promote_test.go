package lifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// PlanPromote refuses a cluster that is not a standby, reads the replay and the source's
// archive, and warns when the source may still write: a recent last transaction, or its pod
// ready where the user can see it. Planning changes nothing.
func TestPlanPromote(t *testing.T) {
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	spec := cluster.Spec{Name: "dr", Namespace: "dr", Standby: &cluster.StandbySpec{Source: "hippo", SourceNamespace: "prod"}}
	f := newClusterFactory(
		fakecluster.RunningPod("dr", "dr-0", fakecluster.PodLabels("dr", cluster.ComponentDatabase), "database", "pgbackrest"),
		fakecluster.RunningPod("prod", "hippo-0", fakecluster.PodLabels("hippo", cluster.ComponentDatabase), "database", "pgbackrest"))
	lastTransaction := "2026-12-04T17:58:30Z"
	exec := func(_ context.Context, _, pod, _ string, command []string) (string, string, error) {
		if pod != "dr-0" {
			t.Errorf("exec in pod %s, want dr-0 only", pod)
		}
		if strings.Join(command, " ") == strings.Join([]string{"bash", cluster.StandbySourceCommand, "--stanza=db", "--output=json", "info"}, " ") {
			return `[{"name":"db","status":{"code":0,"message":"ok"},"archive":[{"id":"15-1","min":"000000010000000000000003","max":"000000010000000000000009"}]}]`, "", nil
		}
		return `{"inRecovery": true, "paused": false, "replayLSN": "0/9000060", "lastTransaction": "` + lastTransaction + `", "timeline": 1}`, "", nil
	}
	plan := func(s cluster.Spec) (*PromotePlan, error) {
		return PlanPromote(context.Background(), clients(f), PromoteRequest{Spec: s, Exec: exec, Now: func() time.Time { return now }})
	}

	if _, err := plan(cluster.Spec{Name: "hippo", Namespace: "prod"}); err == nil || !strings.Contains(err.Error(), `cluster "hippo" is not a standby cluster`) || !strings.Contains(err.Error(), "Nothing was changed") {
		t.Errorf("a cluster that is not a standby: err = %v", err)
	}
	p, err := plan(spec)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Standby
	if s.ReplaySegment != "000000010000000000000009" || s.SourceArchiveMax != "000000010000000000000009" || s.SegmentsBehind == nil || *s.SegmentsBehind != 0 || p.Promoted {
		t.Errorf("plan: %+v, want segment 9 replayed, 0 behind, not promoted", s)
	}
	if len(p.Warnings) != 2 || !strings.Contains(p.Warnings[0], "committed a transaction 1m30s ago") ||
		!strings.Contains(p.Warnings[1], "cluster hippo is running (pod hippo-0 is ready in namespace prod)") {
		t.Errorf("warnings: %q, want the recent transaction and the running source", p.Warnings)
	}
	for _, a := range f.Clientset.Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" {
			t.Errorf("planning changed something: %s %s", v, a.GetResource().Resource)
		}
	}

	// An old last transaction and no source in sight: no warning.
	lastTransaction = "2026-12-04T10:00:00Z"
	other := spec
	other.Standby = &cluster.StandbySpec{Source: "gone"}
	if p, err := plan(other); err != nil || len(p.Warnings) != 0 {
		t.Errorf("a quiet, invisible source: %+v, %v; want no warning", p, err)
	}
}
