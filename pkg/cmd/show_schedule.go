package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

const showScheduleLong = `Show the backup schedules (CronJobs made by kubectl pgo create schedule) of a
cluster, of every cluster in the namespace, or with -A of every namespace;
-l narrows them with a label selector, --schedule-name to one.

For each: the cron expression, the backup type, the last run (the newest of
the CronJob's lastScheduleTime and of its Jobs, so a run started by hand
counts) and how it ended, the last success, the next run computed from the
expression, and whether the CronJob is suspended.`

const showScheduleExample = `  # The schedules of cluster hippo
  kubectl pgo show schedule hippo

  # Every schedule of every namespace, as YAML
  kubectl pgo show schedule -A -o yaml`

// ScheduleInfo is one schedule, as show schedule prints it.
type ScheduleInfo = backup.ScheduleInfo

// ScheduleList is what show schedule -o json|yaml prints.
type ScheduleList struct {
	Items []ScheduleInfo `json:"items"`
}

// ShowScheduleOptions holds the flags and clients of `kubectl pgo show
// schedule`.
type ShowScheduleOptions struct {
	Name          string
	AllNamespaces bool
	Selector      string
	ScheduleName  string
	// listing is -o and the clock of the ages.
	listing

	namespace string
	selector  labels.Selector
	factory   kube.Factory
	genericiooptions.IOStreams
}

// NewShowScheduleOptions returns options with the defaults.
func NewShowScheduleOptions(streams genericiooptions.IOStreams) *ShowScheduleOptions {
	return &ShowScheduleOptions{listing: newListing(), IOStreams: streams}
}

// NewCmdShowSchedule returns `kubectl pgo show schedule`.
func NewCmdShowSchedule(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdShowSchedule(f, NewShowScheduleOptions(streams))
}

func newCmdShowSchedule(f kube.Factory, o *ShowScheduleOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"schedule [NAME | -A | -l SELECTOR]",
		"Show backup schedules: cron expression, type, last run, last success, next run",
		showScheduleLong, showScheduleExample})
	fl := cmd.Flags()
	fl.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Show the schedules of every namespace.")
	fl.StringVarP(&o.Selector, "selector", "l", "", "Only the schedules whose CronJob matches this label selector, e.g. kubectl-pgo.io/backup-type=pgdump.")
	fl.StringVar(&o.ScheduleName, "schedule-name", "", "Only this schedule.")
	o.Output.AddFlags(cmd)
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	_ = cmd.RegisterFlagCompletionFunc("schedule-name", completeScheduleNames(f))
	return cmd
}

// Complete takes the optional NAME and the namespace; it sends no request.
func (o *ShowScheduleOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
	switch len(args) {
	case 0:
	case 1:
		o.Name = args[0]
	default:
		return usageErrorf(cmd, "%s takes at most one cluster name, got %d arguments: %s", cmd.CommandPath(), len(args), strings.Join(args, " "))
	}
	if o.AllNamespaces {
		return nil
	}
	var err error
	o.namespace, err = resolveNamespace(f)
	return err
}

// Validate checks the flags.
func (o *ShowScheduleOptions) Validate(cmd *cobra.Command) error {
	if err := o.Output.Validate(); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if o.Name != "" && o.AllNamespaces {
		return usageErrorf(cmd, "a cluster NAME and -A cannot be used together: -A lists every schedule")
	}
	if o.Name != "" {
		if err := cluster.ValidateName(o.Name); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
	}
	sel, err := labels.Parse(o.Selector)
	if err != nil {
		return usageErrorf(cmd, "invalid --selector %q: %v", o.Selector, err)
	}
	o.selector = sel
	return validateScheduleName(cmd, o.ScheduleName)
}

// Run lists the schedules and prints them.
func (o *ShowScheduleOptions) Run(ctx context.Context) error {
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	ns := o.namespace
	if !o.AllNamespaces {
		if err := apply.CheckNamespace(ctx, c, ns); err != nil {
			return err
		}
	}
	cronJobs, err := backup.ListSchedules(ctx, c, ns, o.Name, o.ScheduleName, o.selector)
	if err != nil {
		return err
	}
	if len(cronJobs) == 0 && o.Name != "" {
		if _, err := readClusterSpec(ctx, c.Client, ns, o.Name); err != nil {
			return err
		}
	}
	if len(cronJobs) == 0 && o.ScheduleName != "" {
		return fmt.Errorf("schedule %q not found in namespace %q: list the schedules with kubectl pgo show schedule -n %s", o.ScheduleName, ns, ns)
	}
	infos := make([]ScheduleInfo, 0, len(cronJobs))
	for i := range cronJobs {
		info, err := backup.DescribeSchedule(ctx, c.Client, &cronJobs[i], o.now())
		if err != nil {
			return apply.APIError(c, err)
		}
		infos = append(infos, info)
	}
	result := ScheduleList{Items: infos}
	if o.Output.Format() != printers.FormatTable {
		return o.Output.Print(o.Out, nil, result)
	}
	if len(infos) == 0 {
		where := fmt.Sprintf("in namespace %q", ns)
		switch {
		case o.AllNamespaces:
			where = "in any namespace"
		case o.Name != "":
			where = fmt.Sprintf("for cluster %s in namespace %q", o.Name, ns)
		}
		_, err := fmt.Fprintf(o.Out, "no schedules found %s: create one with kubectl pgo create schedule NAME --schedule='0 1 * * *' --pgbackrest-backup-type=full\n", where)
		return err
	}
	return o.Output.Print(o.Out, scheduleTable(infos, o.AllNamespaces), result)
}

func scheduleTable(infos []ScheduleInfo, allNamespaces bool) *printers.Table {
	headers := []string{"name", "cluster", "schedule", "type", "last run", "last result", "last success", "next run", "suspended"}
	if allNamespaces {
		headers = append([]string{"namespace"}, headers...)
	}
	t := printers.NewTable(headers...)
	at := func(p *time.Time) string {
		if p == nil {
			return "-"
		}
		return p.UTC().Format(time.RFC3339)
	}
	for _, s := range infos {
		typ := s.BackupType
		if s.PGBackRestType != "" {
			typ += " " + s.PGBackRestType
		}
		sched := s.Schedule
		if s.TimeZone != "" {
			sched += " " + s.TimeZone
		}
		row := []string{s.Name, s.Cluster, sched, typ, at(s.LastRun), firstNonEmpty(s.LastRunStatus, "-"), at(s.LastSuccess), at(s.NextRun), fmt.Sprint(s.Suspended)}
		if allNamespaces {
			row = append([]string{s.Namespace}, row...)
		}
		t.AddRow(row...)
	}
	return t
}
