package doctor

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
)

// replicationCheck fails when more than one instance accepts writes, or
// when an instance's PostgreSQL is not in the role the settings give it;
// it warns on a replica that does not stream from the primary.
func replicationCheck(f Facts, d doctorFixes) Check {
	const name = "replication"
	if f.instancesErr != nil {
		return Check{Name: name, Status: Warning, Detail: f.instancesErr.Error(), Fix: fmt.Sprintf("see kubectl pgo show cluster %s -n %s", d.name, d.ns)}
	}
	if primaries := inspect.Primaries(f.instances); len(primaries) > 1 {
		return failed(name, fmt.Sprintf("%d pods accept writes: %s; clients of different pods see different data", len(primaries), strings.Join(primaries, ", ")),
			fmt.Sprintf("stop every pod but the primary's (%s): kubectl scale statefulset <instance> --replicas=0 -n %s; then kubectl pgo show cluster %s -n %s",
				f.spec.PrimaryPod(), d.ns, d.name, d.ns))
	}
	if f.spec.Standby != nil {
		return standbyReplication(f, d)
	}
	var wrong, behind, good []string
	for _, i := range f.instances {
		switch {
		case i.InRecovery == nil:
			behind = append(behind, fmt.Sprintf("%s (%s)", i.Pod, cmp.Or(i.Error, "unknown")))
		case i.Role == cluster.RolePrimary && *i.InRecovery:
			wrong = append(wrong, fmt.Sprintf("%s is the primary but PostgreSQL in it is a standby", i.Pod))
		case i.Role == cluster.RoleReplica && !*i.InRecovery:
			wrong = append(wrong, fmt.Sprintf("%s is a replica but PostgreSQL in it accepts writes", i.Pod))
		case i.Role == cluster.RoleReplica && i.State != "streaming":
			behind = append(behind, fmt.Sprintf("%s (%s)", i.Pod, i.State))
		case i.Role == cluster.RoleReplica:
			good = append(good, fmt.Sprintf("%s streams (%d bytes behind)", i.Pod, deref(i.LagBytes)))
		}
	}
	switch {
	case len(wrong) > 0:
		return failed(name, strings.Join(wrong, "; "), fmt.Sprintf("see kubectl pgo show cluster %s -n %s and the pods' logs", d.name, d.ns))
	case len(behind) > 0:
		return Check{Name: name, Status: Warning, Detail: "not streaming: " + strings.Join(behind, ", "),
			Fix: fmt.Sprintf("see kubectl logs <pod> -c database -n %s; a replica that cannot catch up is made again by kubectl pgo update cluster %s -n %s --replicas=<fewer>, then --replicas=%d",
				d.ns, d.name, d.ns, f.spec.Replicas)}
	}
	return ok(name, strings.Join(good, ", "))
}

// standbyReplication is the replication check of a standby cluster: every
// instance replays the source's archive, so every one must be in recovery.
func standbyReplication(f Facts, d doctorFixes) Check {
	const name = "replication"
	var wrong, good []string
	for _, i := range f.instances {
		switch {
		case i.InRecovery == nil:
			wrong = append(wrong, fmt.Sprintf("%s (%s)", i.Pod, cmp.Or(i.Error, "unknown")))
		case !*i.InRecovery:
			wrong = append(wrong, fmt.Sprintf("%s accepts writes, in a standby cluster", i.Pod))
		default:
			good = append(good, i.Pod)
		}
	}
	if len(wrong) > 0 {
		return failed(name, strings.Join(wrong, "; "), fmt.Sprintf("see kubectl pgo show cluster %s -n %s and the pods' logs", d.name, d.ns))
	}
	return ok(name, "every instance replays the archive of "+f.spec.StandbySourceName()+": "+strings.Join(good, ", "))
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
