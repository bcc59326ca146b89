package doctor

import (
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
)

func TestReplicationCheck(t *testing.T) {
	yes, no := true, false
	lag := int64(120)
	primary := inspect.InstanceInfo{Name: "hippo", Pod: "hippo-0", Role: cluster.RolePrimary, InRecovery: &no}
	replica := inspect.InstanceInfo{Name: "hippo-r1", Pod: "hippo-r1-0", Role: cluster.RoleReplica, InRecovery: &yes, State: "streaming", LagBytes: &lag}
	with := func(i inspect.InstanceInfo, f func(*inspect.InstanceInfo)) inspect.InstanceInfo { f(&i); return i }
	d := doctorFixes{name: "hippo", ns: "pg"}
	spec := cluster.Spec{Name: "hippo", Namespace: "pg", Replicas: 1}
	for _, tc := range []struct {
		name      string
		instances []inspect.InstanceInfo
		status    Status
		detail    string
	}{
		{"streaming", []inspect.InstanceInfo{primary, replica}, OK, "hippo-r1-0 streams (120 bytes behind)"},
		{"not streaming", []inspect.InstanceInfo{primary, with(replica, func(i *inspect.InstanceInfo) { i.State = "not connected" })}, Warning, "not streaming: hippo-r1-0 (not connected)"},
		{"not asked", []inspect.InstanceInfo{primary, with(replica, func(i *inspect.InstanceInfo) { i.InRecovery, i.Error = nil, "no pod" })}, Warning, "hippo-r1-0 (no pod)"},
		{"two primaries", []inspect.InstanceInfo{primary, with(replica, func(i *inspect.InstanceInfo) { i.InRecovery = &no })}, Failed, "2 pods accept writes: hippo-0, hippo-r1-0"},
		{"primary in recovery", []inspect.InstanceInfo{with(primary, func(i *inspect.InstanceInfo) { i.InRecovery = &yes }), replica}, Failed, "hippo-0 is the primary but PostgreSQL in it is a standby"},
	} {
		c := replicationCheck(Facts{spec: spec, instances: tc.instances}, d)
		if c.Status != tc.status || !strings.Contains(c.Detail, tc.detail) {
			t.Errorf("%s: %s %q, want %s with %q", tc.name, c.Status, c.Detail, tc.status, tc.detail)
		}
	}
}
