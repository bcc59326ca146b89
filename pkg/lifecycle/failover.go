// A failover: a replica becomes the primary, deliberately. The old
// primary is stopped first (its StatefulSet scaled to zero), so that two
// pods never accept writes, and the replica is promoted only once it has
// replayed what the old primary had written when it was stopped. The
// settings then name the new primary; the old one starts again as a
// replica and follows the new timeline (pg_rewind in start-postgres.sh, or
// a new bootstrap from the repository).

package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Failover carries out plan: stop the old primary, wait until the target
// has replayed its last WAL, promote the target, record it as the primary
// and apply what that changes. With wait, it follows the old primary until
// it streams from the new one and the new primary until it archives on
// its new timeline.
func Failover(ctx context.Context, c *apply.Clients, r FailoverRequest, plan *FailoverPlan, wait bool) (*FailoverResult, error) {
	spec, ns := plan.Spec, plan.Spec.Namespace
	from, to := plan.From, plan.To
	res := &FailoverResult{Cluster: spec.Name, Namespace: ns, OldPrimary: from.Pod, NewPrimary: to.Pod, Warnings: plan.Warnings}
	say := func(format string, args ...any) { fmt.Fprintf(r.Progress, format+"\n", args...) }
	deadline := time.Now().Add(r.Timeout)
	psql := func(ctx context.Context, pod, query string) (string, error) {
		return psqlIn(ctx, r.Exec, ns, pod, query)
	}

	// The old primary's position, then the old primary stopped: a fast
	// shutdown sends its last WAL to the connected replicas.
	lastLSN := ""
	if from.Error == "" {
		lsn, err := psql(ctx, from.Pod, "SELECT pg_current_wal_lsn()")
		if err != nil {
			return nil, fmt.Errorf("cannot read the primary's WAL position: %w; nothing was changed", err)
		}
		lastLSN = lsn
	}
	say("Stopping the primary %s: scaling StatefulSet %s to 0 replicas, so that it takes no more writes...", from.Pod, from.Name)
	if err := scaleStatefulSet(ctx, c, ns, from.Name, 0); err != nil {
		return nil, err
	}
	lostNode, err := stopOldPrimary(ctx, c, r, from, deadline)
	if err != nil {
		return nil, err
	}
	restart := fmt.Sprintf("the old primary is stopped and nothing was promoted: start it again with kubectl scale statefulset %s -n %s --replicas=1", from.Name, ns)

	if lastLSN != "" {
		say("Waiting for %s to replay the old primary's WAL up to %s...", to.Pod, lastLSN)
		q := fmt.Sprintf("SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn", lastLSN)
		err := kube.WaitFor(ctx, r.Poll, min(time.Until(deadline), 2*time.Minute), func(ctx context.Context) (bool, error) {
			out, err := psql(ctx, to.Pod, q)
			return err == nil && out == "t", nil
		})
		if err != nil {
			return nil, fmt.Errorf("replica %s did not replay the old primary's WAL up to %s: %w; %s", to.Pod, lastLSN, err, restart)
		}
	}
	say("Promoting %s...", to.Pod)
	if err := promoteDatabase(ctx, r.Exec, ns, to.Pod); err != nil {
		return nil, fmt.Errorf("%w; %s", err, restart)
	}
	row, err := psql(ctx, to.Pod, "SELECT pg_last_wal_replay_lsn() || ' ' || ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")
	if f := strings.Fields(row); err == nil && len(f) == 2 {
		res.PromotedAtLSN = f[0]
		fmt.Sscan(f[1], &res.Timeline)
	}
	say("%s is the primary, on timeline %d (promoted at %s)", to.Pod, res.Timeline, res.PromotedAtLSN)
	// The Service follows the role label: the new primary's pod takes it
	// now, before its template says so.
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, cluster.LabelRole, cluster.RolePrimary)
	if _, err := c.Client.CoreV1().Pods(ns).Patch(ctx, to.Pod, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: cluster.FieldManager}); err != nil {
		return nil, fmt.Errorf("%s was promoted, but its pod's role label cannot be set (%w): run kubectl pgo failover %s --target=%s -n %s again",
			to.Pod, apply.APIError(c, err), spec.Name, to.Pod, ns)
	}

	next := spec
	next.Primary = to.Name
	say("Recording %s as the primary of cluster %s; %s starts again as a replica", to.Name, spec.Name, from.Name)
	if err := applyChanged(ctx, c, spec, next, time.Now(), nil); err != nil {
		return nil, fmt.Errorf("%s was promoted, but the settings naming it cannot be applied: %w; run kubectl pgo failover %s --target=%s -n %s again",
			to.Pod, err, spec.Name, to.Pod, ns)
	}
	if lostNode != "" {
		say("%s rejoins as a replica once its node is back (%s); kubectl pgo show cluster %s -n %s shows it", from.Pod, lostNode, spec.Name, ns)
	}
	if !wait {
		say("cluster %s failed over to %s; not waiting for %s to rejoin (kubectl pgo show cluster %s -n %s shows it)", spec.Name, to.Pod, from.Pod, spec.Name, ns)
		return res, nil
	}
	steps := []apply.WaitStep{apply.InstanceStep(c, ns, to.Name, "the new primary "+to.Pod+" to be ready")}
	if lostNode == "" {
		steps = append(steps, replicaSteps(c, r.Exec, next, []string{from.Name})...)
	}
	steps = append(steps, archivedWALStep(r.Exec, ns, to.Pod, res.Timeline, &res.ArchivedWAL, fmt.Sprintf("kubectl pgo show archive %s -n %s", spec.Name, ns)))
	if err := apply.RunWaitSteps(ctx, r.Progress, r.Poll, deadline, steps, fmt.Sprintf("Cluster %q failed over to %s", spec.Name, to.Pod)); err != nil {
		return res, err
	}
	if lostNode != "" {
		say("cluster %s failed over to %s (timeline %d); %s rejoins once its node is back", spec.Name, to.Pod, res.Timeline, from.Pod)
		return res, nil
	}
	res.Rejoined = bootstrappedFrom(ctx, c, ns, from.Pod)
	say("cluster %s failed over to %s (timeline %d); %s streams from it (%s)", spec.Name, to.Pod, res.Timeline, from.Pod, res.Rejoined)
	return res, nil
}

// stopOldPrimary waits until the old primary's pod is gone, once its
// StatefulSet is scaled to zero. A pod whose node is not ready cannot stop
// (its kubelet does not answer): with Force it is deleted at once, and
// lostNode says why; without, that is an error.
func stopOldPrimary(ctx context.Context, c *apply.Clients, r FailoverRequest, from inspect.InstanceInfo, deadline time.Time) (lostNode string, err error) {
	ns := r.Spec.Namespace
	say := func(format string, args ...any) { fmt.Fprintf(r.Progress, format+"\n", args...) }
	for {
		err := kube.WaitFor(ctx, r.Poll, min(time.Until(deadline), 30*time.Second), func(ctx context.Context) (bool, error) {
			_, err := c.Client.CoreV1().Pods(ns).Get(ctx, from.Pod, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err == nil {
			return lostNode, nil
		}
		if lostNode == "" {
			lostNode = nodeNotReady(ctx, c, from.Node)
		}
		switch {
		case lostNode != "" && r.Force:
			say("The primary's pod %s cannot stop: %s. Deleting it at once (--force); its node stops it when it returns.", from.Pod, lostNode)
			zero := int64(0)
			if err := c.Client.CoreV1().Pods(ns).Delete(ctx, from.Pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
				return lostNode, fmt.Errorf("deleting pod %s: %w", from.Pod, apply.APIError(c, err))
			}
		case lostNode != "":
			return lostNode, fmt.Errorf("the primary's pod %s cannot stop: %s. Nothing was promoted; once you know the node is down, "+
				"fail over with --force (what the primary wrote after the replica's last replay is lost), or start the primary again with kubectl scale statefulset %s -n %s --replicas=1",
				from.Pod, lostNode, from.Name, ns)
		case time.Now().After(deadline):
			return "", fmt.Errorf("the old primary's pod %s did not stop. Its StatefulSet %s is scaled to 0; "+
				"start it again with kubectl scale statefulset %s -n %s --replicas=1 (kubectl describe pod %s -n %s says why it hangs)",
				from.Pod, from.Name, from.Name, ns, from.Pod, ns)
		}
	}
}

// furthestReplica is the replica whose replay reached the furthest WAL
// position, asked of each replica itself; the first when none answers.
func furthestReplica(ctx context.Context, exec apply.ExecFunc, ns string, replicas []inspect.InstanceInfo) inspect.InstanceInfo {
	best, bestLSN := replicas[0], repo.LSN(0)
	for _, in := range replicas {
		if in.Error != "" {
			continue
		}
		out, _, err := exec(ctx, ns, in.Pod, cluster.ContainerDatabase, inspect.PSQLCommand("postgres", "SELECT pg_last_wal_replay_lsn()"))
		if err != nil {
			continue
		}
		if lsn, err := repo.ParseLSN(strings.TrimSpace(out)); err == nil && lsn > bestLSN {
			best, bestLSN = in, lsn
		}
	}
	return best
}

// nodeNotReady is kube.NodeNotReady of the named node; "" when it is ready
// or cannot be read.
func nodeNotReady(ctx context.Context, c *apply.Clients, name string) string {
	if name == "" {
		return ""
	}
	node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return kube.NodeNotReady(node)
}
