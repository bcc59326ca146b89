// What show cluster and doctor report of a cluster with replicas: each
// instance's role, whether PostgreSQL in it is a primary or a standby, its
// timeline, and for a replica its streaming state and lag as the primary
// sees them.

package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// InstanceInfo is one instance of a cluster with replicas.
type InstanceInfo struct {
	Name string `json:"name"`
	Pod  string `json:"pod"`
	// Role is what the cluster's settings make it: primary or replica.
	Role  string `json:"role"`
	Node  string `json:"node,omitempty"`
	Ready bool   `json:"ready"`
	// InRecovery is PostgreSQL's pg_is_in_recovery(): true on a standby;
	// nil when it could not be asked.
	InRecovery *bool `json:"inRecovery,omitempty"`
	// Timeline is the one PostgreSQL writes (a primary) or receives (a
	// standby); 0 when unknown.
	Timeline int `json:"timeline,omitempty"`
	// State is a replica's WAL sender state on the primary (streaming,
	// catchup, ...), or "not connected".
	State string `json:"state,omitempty"`
	// LagBytes is how far the replica's replay is behind the primary's
	// WAL; LagSeconds is PostgreSQL's replay_lag (0 when it is caught up
	// and idle).
	LagBytes   *int64   `json:"lagBytes,omitempty"`
	LagSeconds *float64 `json:"lagSeconds,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// instanceQuery reads whether PostgreSQL is in recovery and its timeline,
// as one JSON row.
const instanceQuery = `SELECT json_build_object('inRecovery', pg_is_in_recovery(), 'timeline', ` +
	`CASE WHEN pg_is_in_recovery() THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint())) ` +
	`ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END)`

// replicationQuery reads, on the primary, each WAL sender: its replica's
// name (application_name is the instance, the cluster_name of its
// PostgreSQL), state and lag.
const replicationQuery = `SELECT COALESCE(json_agg(json_build_object('name', application_name, 'state', state, ` +
	`'lagBytes', pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, 'lagSeconds', COALESCE(EXTRACT(epoch FROM replay_lag), 0))), '[]') ` +
	`FROM pg_stat_replication`

// Instances reads each instance of spec among pods: PostgreSQL's state in
// every running one, and the replication state on the primary. It asks
// the pods side by side.
func Instances(ctx context.Context, exec Exec, spec cluster.Spec, pods []corev1.Pod) []InstanceInfo {
	byName := map[string]*corev1.Pod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
	names := append([]string{spec.PrimaryInstance()}, spec.ReplicaInstances()...)
	out := make([]InstanceInfo, len(names))
	type sender struct {
		Name       string  `json:"name"`
		State      string  `json:"state"`
		LagBytes   int64   `json:"lagBytes"`
		LagSeconds float64 `json:"lagSeconds"`
	}
	var senders []sender
	var sendersErr string
	var wg sync.WaitGroup
	for i, n := range names {
		info := &out[i]
		*info = InstanceInfo{Name: n, Pod: cluster.InstancePodName(n), Role: cluster.RoleReplica}
		if i == 0 {
			info.Role = cluster.RolePrimary
		}
		p := byName[info.Pod]
		if p == nil {
			info.Error = "no pod"
			continue
		}
		info.Node, info.Ready = p.Spec.NodeName, PodInfoOf(p).Ready
		if !ContainerRunning(p, databaseContainer) {
			info.Error = "the database container is not running"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stdout, _, err := execStatus(ctx, exec, p, databaseContainer, PSQLCommand("postgres", instanceQuery))
			if err != nil {
				info.Error = err.Error()
				return
			}
			var row struct {
				InRecovery bool `json:"inRecovery"`
				Timeline   int  `json:"timeline"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &row); err != nil {
				info.Error = fmt.Sprintf("cannot read %q: %v", stdout, err)
				return
			}
			info.InRecovery, info.Timeline = &row.InRecovery, row.Timeline
		}()
		if info.Role == cluster.RolePrimary {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stdout, _, err := execStatus(ctx, exec, p, databaseContainer, PSQLCommand("postgres", replicationQuery))
				if err == nil {
					err = json.Unmarshal([]byte(strings.TrimSpace(stdout)), &senders)
				}
				if err != nil {
					sendersErr = err.Error()
				}
			}()
		}
	}
	wg.Wait()
	for i := range out {
		info := &out[i]
		if info.Role != cluster.RoleReplica {
			continue
		}
		info.State = "not connected"
		if spec.Standby != nil {
			info.State = "replays the archive of " + spec.StandbySourceName()
			continue
		}
		if sendersErr != "" {
			info.State = "unknown: " + sendersErr
		}
		for _, s := range senders {
			if s.Name == info.Name {
				info.State, info.LagBytes, info.LagSeconds = s.State, &s.LagBytes, &s.LagSeconds
			}
		}
	}
	return out
}

// Primaries are the instances whose PostgreSQL accepts writes (not in
// recovery): more than one means two pods take writes.
func Primaries(instances []InstanceInfo) []string {
	var out []string
	for _, i := range instances {
		if i.InRecovery != nil && !*i.InRecovery {
			out = append(out, i.Pod)
		}
	}
	return out
}

// Streaming tells whether a replica is ready and streams from the primary.
func (i InstanceInfo) Streaming() bool {
	return i.Role == cluster.RoleReplica && i.Ready && i.State == "streaming" && i.LagBytes != nil
}

// Describe is the pod and its state in a few words, for an error.
func (i InstanceInfo) Describe() string {
	s := i.State
	switch {
	case i.Error != "":
		s = i.Error
	case s == "":
		s = "unknown"
	}
	if i.Error == "" && !i.Ready {
		s += ", not ready"
	}
	return i.Pod + ": " + s
}

// LeastLagging is the streaming replica with the least lag; false when no
// replica streams.
func LeastLagging(instances []InstanceInfo) (InstanceInfo, bool) {
	best, found := InstanceInfo{}, false
	for _, in := range instances {
		if in.Streaming() && (!found || *in.LagBytes < *best.LagBytes) {
			best, found = in, true
		}
	}
	return best, found
}

// DescribeReplicas is each replica's Describe, for an error.
func DescribeReplicas(instances []InstanceInfo) string {
	var out []string
	for _, in := range instances {
		if in.Role == cluster.RoleReplica {
			out = append(out, in.Describe())
		}
	}
	return strings.Join(out, "; ")
}
