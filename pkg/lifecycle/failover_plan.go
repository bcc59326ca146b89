package lifecycle

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
)

// DefaultMaxLag is how far behind the primary's WAL (in bytes) a replica
// may be for failover to pick it without --force.
const DefaultMaxLag = 16 << 20

// FailoverRequest is what a failover needs besides the clients.
type FailoverRequest struct {
	// Spec is the cluster's stored settings.
	Spec cluster.Spec
	// Target is the replica to promote, by pod or instance name; empty:
	// the streaming replica with the least lag.
	Target string
	// MaxLag refuses a target whose replay is further behind, in bytes,
	// unless Force.
	MaxLag int64
	// Force fails over to a replica that lags, does not stream, or whose
	// primary cannot be asked.
	Force   bool
	Exec    apply.ExecFunc
	Timeout time.Duration
	Poll    time.Duration
	// Progress takes a line per step.
	Progress io.Writer
}

// FailoverResult is what `failover -o json|yaml` prints.
type FailoverResult struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// OldPrimary and NewPrimary are pod names.
	OldPrimary string `json:"oldPrimary"`
	NewPrimary string `json:"newPrimary"`
	// Timeline is the new primary's, after its promotion.
	Timeline int `json:"timeline"`
	// PromotedAtLSN is where the new primary's replay stood when it was
	// promoted: at or past the old primary's last WAL position read.
	PromotedAtLSN string `json:"promotedAtLSN"`
	// Rejoined says how the old primary follows the new one (with --wait).
	Rejoined string `json:"rejoined,omitempty"`
	// ArchivedWAL is a segment of the new timeline the new primary
	// archived (with --wait).
	ArchivedWAL string   `json:"archivedWAL,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
}

// FailoverPlan is the switch PlanFailover chose: Prompt names it before
// anything changes.
type FailoverPlan struct {
	Spec      cluster.Spec
	From, To  inspect.InstanceInfo
	Instances []inspect.InstanceInfo
	// Warnings are what Force let through.
	Warnings []string
}

// PlanFailover reads the instances and chooses the replica to promote. It
// refuses a cluster without replicas, an unknown target, the primary as
// target, and (without Force) a target that does not stream or lags more
// than MaxLag.
func PlanFailover(ctx context.Context, c *apply.Clients, r FailoverRequest) (*FailoverPlan, error) {
	spec := r.Spec
	if err := spec.RefuseStandby("a failover"); err != nil {
		return nil, fmt.Errorf("%w; nothing was changed", err)
	}
	if spec.Replicas == 0 {
		return nil, fmt.Errorf("cluster %q has no replica to fail over to: add one with kubectl pgo update cluster %s --replicas=1 -n %s; nothing was changed",
			spec.Name, spec.Name, spec.Namespace)
	}
	pods, err := c.Client.CoreV1().Pods(spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.DatabaseSelector(spec.Name).String()})
	if err != nil {
		return nil, apply.APIError(c, err)
	}
	plan := &FailoverPlan{Spec: spec, Instances: inspect.Instances(ctx, r.Exec, spec, pods.Items)}
	plan.From = plan.Instances[0]
	replicas := plan.Instances[1:]
	var names []string
	for _, in := range replicas {
		names = append(names, in.Pod)
	}
	switch {
	case r.Target != "":
		i := instanceNamed(plan.Instances, r.Target)
		switch {
		case i < 0:
			return nil, fmt.Errorf("--target=%s is not an instance of cluster %q: its replicas are %s; nothing was changed", r.Target, spec.Name, strings.Join(names, ", "))
		case i == 0:
			return nil, fmt.Errorf("--target=%s is already the primary of cluster %q: name a replica (%s); nothing was changed", r.Target, spec.Name, strings.Join(names, ", "))
		}
		plan.To = plan.Instances[i]
	case plan.From.Error != "":
		// The primary cannot say how far each replica got: the one that
		// replayed the most loses the least.
		plan.To = furthestReplica(ctx, r.Exec, spec.Namespace, replicas)
	default:
		best, ok := inspect.LeastLagging(replicas)
		if !ok && !r.Force {
			return nil, fmt.Errorf("no replica of cluster %q streams from the primary (%s): see kubectl pgo show cluster %s -n %s, "+
				"or name one with --target and --force; nothing was changed", spec.Name, inspect.DescribeReplicas(replicas), spec.Name, spec.Namespace)
		}
		if !ok {
			best = replicas[0]
		}
		plan.To = best
	}
	var problems []string
	if plan.From.Error != "" {
		why := plan.From.Error
		if node := nodeNotReady(ctx, c, plan.From.Node); node != "" {
			why = node
		}
		problems = append(problems, fmt.Sprintf("the primary %s cannot be asked (%s): what it wrote after %s's last replay is lost", plan.From.Pod, why, plan.To.Pod))
	} else if !plan.To.Streaming() {
		problems = append(problems, fmt.Sprintf("replica %s is not streaming (%s)", plan.To.Pod, plan.To.Describe()))
	}
	if lag := plan.To.LagBytes; lag != nil && *lag > r.MaxLag {
		problems = append(problems, fmt.Sprintf("replica %s is %d bytes behind the primary, more than --max-lag=%d", plan.To.Pod, *lag, r.MaxLag))
	}
	if len(problems) > 0 && !r.Force {
		return nil, fmt.Errorf("cannot fail over cluster %q to %s: %s. Wait and try again, or give --force to fail over anyway; nothing was changed",
			spec.Name, plan.To.Pod, strings.Join(problems, "; "))
	}
	plan.Warnings = problems
	return plan, nil
}

// instanceNamed is the index of the instance whose pod or instance name is
// name, or -1.
func instanceNamed(instances []inspect.InstanceInfo, name string) int {
	for i, in := range instances {
		if in.Pod == name || in.Name == name {
			return i
		}
	}
	return -1
}
