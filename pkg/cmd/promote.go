package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

const promoteLong = `End the standby mode of a standby cluster (one created with create cluster
--standby): its database becomes a primary that takes writes.

It first says how far the standby has replayed the source's WAL: the last
WAL location and the commit time of the last transaction replayed. It waits
until the source's newest archived segment is replayed, and refuses to
promote without it unless --force, also when the source's archive cannot be
read (then --force promotes what was replayed). Then it promotes the database on a new
timeline, gives the superuser the password of the cluster's own Secret, and
records the cluster as a primary: its database pod restarts once, without
the source's configuration, and archives into the cluster's own repository.
The source's repository is never written to. The cluster's replicas, which
replayed the source's archive on their own, are stopped before the promotion
and copied again from the promoted primary (pg_basebackup), then stream
from it.

If the source still runs, both clusters take writes from then on and what the
source writes is not in this one: promote warns when the source's pod is
ready, or when its last transaction is recent. It asks for confirmation
unless --yes; without a terminal to ask on, it refuses instead. The promoted
cluster has no backup of its own yet: take a full backup next.`

const promoteExample = `  # Promote the standby cluster hippo-dr after confirming, and wait until it archives
  kubectl pgo promote hippo-dr -n dr --wait

  # Then give it a recovery point of its own
  kubectl pgo backup hippo-dr -n dr --type=full --wait`

// PromoteResult is what `kubectl pgo promote -o json|yaml` prints.
type PromoteResult = lifecycle.PromoteResult

// PromoteOptions holds the flags and clients of `kubectl pgo promote`.
type PromoteOptions struct {
	execTarget
	Force   bool
	Wait    bool
	Timeout time.Duration
	Output  *printers.OutputFlags
	// confirmation is --yes, and whether stdin is a terminal to ask on.
	confirmation

	pollInterval time.Duration
	now          func() time.Time
	genericiooptions.IOStreams
}

// NewPromoteOptions returns options with the defaults.
func NewPromoteOptions(streams genericiooptions.IOStreams) *PromoteOptions {
	return &PromoteOptions{Timeout: apply.DefaultWaitTimeout, Output: printers.NewOutputFlags(printers.DefaultFormats...),
		confirmation: newConfirmation(), pollInterval: 2 * time.Second, now: time.Now, IOStreams: streams}
}

// NewCmdPromote returns `kubectl pgo promote NAME`.
func NewCmdPromote(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdPromote(f, NewPromoteOptions(streams))
}

func newCmdPromote(f kube.Factory, o *PromoteOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"promote NAME",
		"Make a standby cluster a primary that takes writes and archives into its own repository",
		promoteLong, promoteExample})
	o.Output.AddFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Promote without asking for confirmation.")
	fl.BoolVar(&o.Force, "force", false, "Promote even when the standby has not replayed the source's newest archived WAL, or that archive cannot be read: what it has not replayed is lost.")
	fl.BoolVar(&o.Wait, "wait", false, "Wait until the database restarted as a primary and archived a segment of its new timeline, printing progress.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the promotion may take, with --wait the restart and the archiving too.")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Validate checks the name and the flags; it sends no request.
func (o *PromoteOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, o.Output); err != nil {
		return err
	}
	return validateTimeout(cmd, o.Timeout)
}

// Run reads the standby (lifecycle.PlanPromote), asks, and promotes it
// (lifecycle.Promote).
func (o *PromoteOptions) Run(ctx context.Context) error {
	c, spec, err := o.clientsAndSpec(ctx)
	if err != nil {
		return err
	}
	progress := progressStream(o.Output, o.Out, o.ErrOut)
	req := lifecycle.PromoteRequest{Spec: spec, Force: o.Force, Exec: apply.ExecFunc(o.exec),
		Timeout: o.Timeout, Poll: o.pollInterval, Now: o.now, Progress: progress}
	plan, err := lifecycle.PlanPromote(ctx, c, req)
	if err != nil {
		return err
	}
	return o.runPlanned(o.In, o.Out, o.ErrOut, progress, o.Output, plannedChange{
		cluster: o.Name, verb: "promote", done: "promoted", warnings: plan.Warnings,
		question: func() string { return promoteQuestion(plan, o.now()) },
		run:      func() (any, error) { return lifecycle.Promote(ctx, c, req, plan, o.Wait) },
	})
}

// promoteQuestion says how far the standby replayed, and the risks.
func promoteQuestion(plan *lifecycle.PromotePlan, now time.Time) string {
	var b strings.Builder
	s := plan.Standby
	fmt.Fprintf(&b, "This promotes cluster %q in namespace %q, a standby of %s:\n", plan.Spec.Name, plan.Spec.Namespace, s.Source)
	if plan.Promoted {
		b.WriteString("  its database left recovery already; its settings become a primary's\n")
	} else {
		fmt.Fprintf(&b, "  %s\n", s.Describe(now))
		b.WriteString("  it takes writes on a new timeline, and archives into its own repository from then on\n")
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(&b, "  Warning: %s\n", w)
	}
	b.WriteString("It stops following the source for good. Promote? [y/N]: ")
	return b.String()
}
