package inspect

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Standby reads the replay and the source's archive; Problem names what stops a standby from
// following its source, and nothing for one that follows.
func TestStandbyReplay(t *testing.T) {
	spec := cluster.Spec{Name: "dr", Namespace: "dr", Standby: &cluster.StandbySpec{Source: "hippo", SourceNamespace: "prod"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dr-0", Namespace: "dr"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "database", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	row, archive := "", ""
	exec := func(_ context.Context, _, _, _ string, command []string) (string, string, error) {
		if command[0] == "bash" && command[1] == cluster.StandbySourceCommand {
			return archive, "", nil
		}
		return row, "", nil
	}
	read := func(r, a string) StandbyInfo {
		row, archive = r, a
		return Standby(context.Background(), exec, spec, pod)
	}
	archiveMax := func(max string) string {
		return `[{"name":"db","status":{"code":0,"message":"ok"},"archive":[{"id":"15-1","min":"000000010000000000000001","max":"` + max + `"}]}]`
	}

	s := read(`{"inRecovery": true, "paused": false, "replayLSN": "0/A000000", "lastTransaction": "2026-12-04T17:49:38Z", "timeline": 1}`, archiveMax("000000010000000000000009"))
	if s.Source != "prod/hippo" || s.ReplaySegment != "000000010000000000000009" || s.SegmentsBehind == nil || *s.SegmentsBehind != 0 || s.Problem() != "" {
		t.Errorf("a standby that follows: %+v, problem %q", s, s.Problem())
	}
	now := time.Date(2026, 12, 4, 17, 50, 0, 0, time.UTC)
	if got := s.Describe(now); got != "replayed up to 0/A000000 (segment 000000010000000000000009), last transaction of 2026-12-04T17:49:38Z (22s ago); the source's archive ends at 000000010000000000000009 (0 segments behind)" {
		t.Errorf("Describe = %q", got)
	}
	for _, tc := range []struct {
		name, row, archive, want string
	}{
		{"behind", `{"inRecovery": true, "replayLSN": "0/7000028", "timeline": 1}`, archiveMax("00000001000000000000000A"),
			"the replay has stopped or fallen behind: it is at 0/7000028 (segment 000000010000000000000007), and the source's archive holds 00000001000000000000000A, 3 segments further"},
		{"paused", `{"inRecovery": true, "paused": true, "replayLSN": "0/7000028", "timeline": 1}`, archiveMax("000000010000000000000007"),
			"the replay is paused at 0/7000028"},
		{"promoted behind the plugin's back", `{"inRecovery": false, "replayLSN": "0/7000028", "timeline": 2}`, archiveMax("000000010000000000000007"),
			"the database is not in recovery"},
		{"archive unreadable", `{"inRecovery": true, "replayLSN": "0/7000028", "timeline": 1}`, `[{"name":"db","status":{"code":99,"message":"other"},"archive":[]}]`,
			"reading the source's repositories: other"},
	} {
		if got := read(tc.row, tc.archive).Problem(); !strings.Contains(got, tc.want) {
			t.Errorf("%s: Problem() = %q, want %q", tc.name, got, tc.want)
		}
	}
	// A newer timeline's segment counts as the newest.
	s = read(`{"inRecovery": true, "replayLSN": "0/9000028", "timeline": 2}`,
		`[{"name":"db","status":{"code":0,"message":"ok"},"archive":[{"id":"15-1","max":"000000010000000000000009"},{"id":"15-1","max":"000000020000000000000009"}]}]`)
	if s.SourceArchiveMax != "000000020000000000000009" || *s.SegmentsBehind != 0 {
		t.Errorf("two timelines: %+v", s)
	}
}
