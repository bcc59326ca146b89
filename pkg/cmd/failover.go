package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

const failoverLong = `Make a replica the primary of a cluster: a manual, deliberate switch.

It picks the streaming replica with the least lag, or the one --target names
(its pod, e.g. hippo-r1-0). Then it stops the primary (its StatefulSet is
scaled to zero), so that no two pods ever accept writes; waits until the
replica has replayed all the WAL the primary had written; promotes it (a new
timeline); and records it as the primary. The Service NAME follows the new
primary, NAME-replicas the others. Clients are cut off for the seconds this
takes, and the new primary's pod restarts once to take its role's labels.

The old primary starts again as a replica: pg_rewind makes it follow the new
timeline ("no rewind required" after a clean stop), and if that fails it is
bootstrapped again from the repository. WAL archiving continues from the new
primary on the new timeline, and restores pick backups and timelines across
failovers as before.

It refuses a replica whose replay is more than --max-lag behind the primary,
that does not stream, or a primary that cannot be asked (its node is gone),
unless --force: what the primary wrote after the replica's last replay would
be lost. It asks for confirmation unless --yes; without a terminal to ask on,
it refuses instead.`

const failoverExample = `  # Fail over to the replica with the least lag, after confirming
  kubectl pgo failover hippo

  # Fail over to a given replica without asking, and wait until the old primary follows it
  kubectl pgo failover hippo --target=hippo-r2-0 --yes --wait`

// FailoverResult is what `kubectl pgo failover -o json|yaml` prints.
type FailoverResult = lifecycle.FailoverResult

// FailoverOptions holds the flags and clients of `kubectl pgo failover`.
type FailoverOptions struct {
	execTarget
	Target  string
	MaxLag  string
	Force   bool
	Wait    bool
	Timeout time.Duration
	Output  *printers.OutputFlags
	// confirmation is --yes, and whether stdin is a terminal to ask on.
	confirmation

	maxLag       int64
	pollInterval time.Duration
	genericiooptions.IOStreams
}

// NewFailoverOptions returns options with the defaults.
func NewFailoverOptions(streams genericiooptions.IOStreams) *FailoverOptions {
	return &FailoverOptions{MaxLag: resource.NewQuantity(lifecycle.DefaultMaxLag, resource.BinarySI).String(), Timeout: apply.DefaultWaitTimeout,
		Output: printers.NewOutputFlags(printers.DefaultFormats...), confirmation: newConfirmation(), pollInterval: 2 * time.Second, IOStreams: streams}
}

// NewCmdFailover returns `kubectl pgo failover NAME`.
func NewCmdFailover(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdFailover(f, NewFailoverOptions(streams))
}

func newCmdFailover(f kube.Factory, o *FailoverOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"failover NAME [--target=POD]",
		"Make a replica the primary; the old primary follows it as a replica",
		failoverLong, failoverExample})
	o.Output.AddFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Fail over without asking for confirmation.")
	fl.StringVar(&o.Target, "target", "", "The replica to promote, by pod (hippo-r1-0) or instance (hippo-r1) name; by default the streaming replica with the least lag.")
	fl.StringVar(&o.MaxLag, "max-lag", o.MaxLag, "Refuse a replica whose replay is further behind the primary's WAL than this many bytes (a quantity, e.g. 16Mi), unless --force.")
	fl.BoolVar(&o.Force, "force", false, "Fail over even to a replica that lags or does not stream, or when the primary cannot be asked: what it wrote since is lost.")
	fl.BoolVar(&o.Wait, "wait", false, "Wait until the old primary streams from the new one and the new one archives WAL, printing progress.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the failover may take, with --wait the rejoin too.")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Validate checks the name and the flags; it sends no request.
func (o *FailoverOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, o.Output); err != nil {
		return err
	}
	if o.Target != "" {
		if err := validateObjectName("--target", o.Target); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
	}
	q, err := resource.ParseQuantity(o.MaxLag)
	if err != nil || q.Sign() < 0 {
		return usageErrorf(cmd, "invalid --max-lag %q: give a number of bytes of 0 or more, e.g. 16Mi", o.MaxLag)
	}
	o.maxLag = q.Value()
	if err := validateTimeout(cmd, o.Timeout); err != nil {
		return err
	}
	return nil
}

// Run plans the failover (lifecycle.PlanFailover), asks, and carries it
// out (lifecycle.Failover).
func (o *FailoverOptions) Run(ctx context.Context) error {
	c, spec, err := o.clientsAndSpec(ctx)
	if err != nil {
		return err
	}
	progress := progressStream(o.Output, o.Out, o.ErrOut)
	req := lifecycle.FailoverRequest{Spec: spec, Target: o.Target, MaxLag: o.maxLag, Force: o.Force, Exec: apply.ExecFunc(o.exec),
		Timeout: o.Timeout, Poll: o.pollInterval, Progress: progress}
	plan, err := lifecycle.PlanFailover(ctx, c, req)
	if err != nil {
		return err
	}
	return o.runPlanned(o.In, o.Out, o.ErrOut, progress, o.Output, plannedChange{
		cluster: o.Name, verb: "fail over", done: "failed over", warnings: plan.Warnings,
		question: func() string { return failoverQuestion(plan) },
		run:      func() (any, error) { return lifecycle.Failover(ctx, c, req, plan, o.Wait) },
	})
}

// failoverQuestion names the old and the new primary and the lag.
func failoverQuestion(plan *lifecycle.FailoverPlan) string {
	var b strings.Builder
	lag := "unknown"
	if plan.To.LagBytes != nil {
		lag = fmt.Sprintf("%d bytes", *plan.To.LagBytes)
	}
	fmt.Fprintf(&b, "This fails over cluster %q in namespace %q:\n", plan.Spec.Name, plan.Spec.Namespace)
	fmt.Fprintf(&b, "  the primary %s (node %s) is stopped, then follows the new primary as a replica\n", plan.From.Pod, orUnknown(plan.From.Node))
	fmt.Fprintf(&b, "  replica %s (node %s, %s behind) is promoted and becomes the primary\n", plan.To.Pod, orUnknown(plan.To.Node), lag)
	for _, w := range plan.Warnings {
		fmt.Fprintf(&b, "  Warning: %s\n", w)
	}
	b.WriteString("Clients are cut off for some seconds. Fail over? [y/N]: ")
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
