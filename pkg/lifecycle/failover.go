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
		out, stderr, err := r.Exec(ctx, ns, pod, cluster.ContainerDatabase, inspect.PSQLCommand("postgres", query))
		if err != nil {
			return "", fmt.Errorf("%w %s", err, strings.TrimSpace(stderr))
		}
		return strings.TrimSpace(out), nil
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
	err := kube.WaitFor(ctx, r.Poll, time.Until(deadline), func(ctx context.Context) (bool, error) {
		_, err := c.Client.CoreV1().Pods(ns).Get(ctx, from.Pod, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return nil, fmt.Errorf("the old primary's pod %s did not stop: %w. Its StatefulSet %s is scaled to 0; "+
			"start it again with kubectl scale statefulset %s -n %s --replicas=1 (kubectl describe pod %s -n %s says why it hangs)",
			from.Pod, err, from.Name, from.Name, ns, from.Pod, ns)
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
	out, err := psql(ctx, to.Pod, "SELECT pg_promote(true, 60)")
	if err != nil || out != "t" {
		return nil, fmt.Errorf("promoting %s failed (%q, %v); %s", to.Pod, out, err, restart)
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
	if !wait {
		say("cluster %s failed over to %s; not waiting for %s to rejoin (kubectl pgo show cluster %s -n %s shows it)", spec.Name, to.Pod, from.Pod, spec.Name, ns)
		return res, nil
	}
	steps := append([]apply.WaitStep{apply.InstanceStep(c, ns, to.Name, "the new primary "+to.Pod+" to be ready")},
		replicaSteps(c, r.Exec, next, []string{from.Name})...)
	steps = append(steps, apply.WaitStep{
		What: "the new primary to archive WAL on timeline " + fmt.Sprint(res.Timeline),
		Check: func(ctx context.Context) (bool, string, error) {
			if res.ArchivedWAL == "" {
				seg, err := psql(ctx, to.Pod, repo.SwitchWALQuery)
				if err != nil || seg == "" {
					return false, fmt.Sprintf("switching WAL on %s: %v", to.Pod, err), nil
				}
				res.ArchivedWAL = seg
			}
			done, err := psql(ctx, to.Pod, repo.ArchivedQuery(res.ArchivedWAL))
			if err != nil || done != "t" {
				return false, fmt.Sprintf("segment %s is not archived yet", res.ArchivedWAL), nil
			}
			return true, fmt.Sprintf("segment %s archived", res.ArchivedWAL), nil
		},
		Hint: fmt.Sprintf("kubectl pgo show archive %s -n %s", spec.Name, ns),
	})
	if err := apply.RunWaitSteps(ctx, r.Progress, r.Poll, deadline, steps, fmt.Sprintf("Cluster %q failed over to %s", spec.Name, to.Pod)); err != nil {
		return res, err
	}
	pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, from.Pod, metav1.GetOptions{})
	if err == nil {
		res.Rejoined = bootstrappedFrom(ctx, c, ns, pod.Name)
	}
	say("cluster %s failed over to %s (timeline %d); %s streams from it (%s)", spec.Name, to.Pod, res.Timeline, from.Pod, res.Rejoined)
	return res, nil
}
