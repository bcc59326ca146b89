package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

const deleteScheduleLong = `Delete the backup schedules of a cluster: the one named by --schedule-name,
or without it every schedule of the cluster.

Only the CronJobs go. Their Jobs are kept, so a backup that runs goes on,
and a scheduled dump stays listed by show backup --backup-type=pgdump; the
backups themselves are not touched. It asks for confirmation, naming the
schedules, unless --yes (or --no-prompt) is given; without a terminal to ask
on, it refuses instead.`

const deleteScheduleExample = `  # Delete one schedule of cluster hippo
  kubectl pgo delete schedule hippo --schedule-name=hippo-pgbackrest-full

  # Delete every schedule of cluster hippo, without asking
  kubectl pgo delete schedule hippo --yes`

// DeleteScheduleOptions holds the flags and clients of `kubectl pgo delete
// schedule`.
type DeleteScheduleOptions struct {
	Name         string
	ScheduleName string
	// confirmation is --yes, and whether stdin is a terminal to ask on.
	confirmation

	namespace    string
	factory      kube.Factory
	pollInterval time.Duration
	genericiooptions.IOStreams
}

// NewDeleteScheduleOptions returns options with the defaults.
func NewDeleteScheduleOptions(streams genericiooptions.IOStreams) *DeleteScheduleOptions {
	return &DeleteScheduleOptions{confirmation: newConfirmation(), pollInterval: 500 * time.Millisecond, IOStreams: streams}
}

// NewCmdDeleteSchedule returns `kubectl pgo delete schedule NAME`.
func NewCmdDeleteSchedule(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdDeleteSchedule(f, NewDeleteScheduleOptions(streams))
}

func newCmdDeleteSchedule(f kube.Factory, o *DeleteScheduleOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"schedule NAME [--schedule-name=SCHEDULE]",
		"Delete backup schedules of a cluster (their CronJobs)",
		deleteScheduleLong, deleteScheduleExample})
	fl := cmd.Flags()
	fl.StringVar(&o.ScheduleName, "schedule-name", "", "The schedule to delete (default: every schedule of the cluster).")
	addYesFlags(fl, &o.Yes)
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	_ = cmd.RegisterFlagCompletionFunc("schedule-name", completeScheduleNames(f))
	return cmd
}

// Complete takes NAME and the namespace; it sends no request.
func (o *DeleteScheduleOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
	var err error
	o.Name, o.namespace, err = clusterAndNamespace(f, cmd, args)
	return err
}

// Validate checks the names.
func (o *DeleteScheduleOptions) Validate(cmd *cobra.Command) error {
	if err := validateClusterName(o.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return validateScheduleName(cmd, o.ScheduleName)
}

// Run finds the schedules, asks, and deletes them.
func (o *DeleteScheduleOptions) Run(ctx context.Context) error {
	ns := o.namespace
	c, err := apiClientsIn(ctx, o.factory, ns)
	if err != nil {
		return err
	}
	found, err := backup.ListSchedules(ctx, c, ns, o.Name, o.ScheduleName, labels.Everything())
	if err != nil {
		return err
	}
	if len(found) == 0 {
		if o.ScheduleName != "" {
			return fmt.Errorf("cluster %q has no schedule %q in namespace %q: list its schedules with kubectl pgo show schedule %s -n %s",
				o.Name, o.ScheduleName, ns, o.Name, ns)
		}
		return fmt.Errorf("cluster %q has no schedules in namespace %q: nothing to delete", o.Name, ns)
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("delete the schedules of cluster %q", o.Name),
		[]apply.Permission{{Verb: "delete", Group: "batch", Resource: "cronjobs"}}); err != nil {
		return err
	}
	if err := o.confirm(found); err != nil {
		return err
	}
	for _, cj := range found {
		// Orphan: a running backup goes on, and kept Jobs stay the
		// records of their dumps.
		err := c.Client.BatchV1().CronJobs(ns).Delete(ctx, cj.Name, metav1.DeleteOptions{
			PropagationPolicy: ptrTo(metav1.DeletePropagationOrphan),
			Preconditions:     &metav1.Preconditions{UID: ptrTo(cj.UID)},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("cannot delete schedule %s: %w", cj.Name, apply.APIError(c, err))
		}
		// The garbage collector orphans the Jobs, then removes the
		// CronJob: it may still be listed for a moment.
		err = kube.WaitFor(ctx, o.pollInterval, deleteScheduleTimeout, func(ctx context.Context) (bool, error) {
			cur, err := c.Client.BatchV1().CronJobs(ns).Get(ctx, cj.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err) || (err == nil && cur.UID != cj.UID), nil
		})
		if err != nil {
			return fmt.Errorf("schedule %s was deleted but its CronJob is still there: %w (check kubectl get cronjob %s -n %s)", cj.Name, err, cj.Name, ns)
		}
		fmt.Fprintf(o.Out, "schedule %s deleted\n", cj.Name)
	}
	return nil
}

// deleteScheduleTimeout bounds the wait for a deleted CronJob to go.
const deleteScheduleTimeout = time.Minute

func (o *DeleteScheduleOptions) confirm(found []batchv1.CronJob) error {
	return o.confirmDelete(o.In, o.Out, func() string { return o.question(found) },
		fmt.Errorf("refusing to delete the schedules of cluster %q without confirmation: stdin is not a terminal to ask on; pass --yes (or --no-prompt) to delete them", o.Name),
		fmt.Errorf("cancelled: no schedule of cluster %q was deleted", o.Name))
}

// question names the schedules that go.
func (o *DeleteScheduleOptions) question(found []batchv1.CronJob) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This deletes these schedules of cluster %q in namespace %q (their backups are kept):\n", o.Name, o.namespace)
	for _, cj := range found {
		fmt.Fprintf(&b, "  %s  %s  %s\n", cj.Name, cj.Spec.Schedule, cj.Labels[jobs.LabelBackupType]+" "+cj.Labels[jobs.LabelPGBackRestType])
	}
	fmt.Fprintf(&b, "Delete %d schedule(s)? [y/N]: ", len(found))
	return b.String()
}
