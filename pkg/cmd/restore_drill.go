package cmd

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/restore"
)

const restoreDrillLong = `Prove that a cluster's backups restore: restore the latest backup (or
--target, or the point in time --pitr-target) into a temporary new cluster
in the same namespace, start it, check it, print a report, and remove it.

The temporary cluster is named NAME-drill-XXXXX and its objects are
labelled kubectl-pgo/drill-of=NAME. It is made as kubectl pgo create
cluster --restore-from=NAME makes a cluster: a Job restores the backup into
its new data volume and runs the recovery, then its database starts, with
a local repository of its own: the drill never writes to NAME's
repositories (an S3 one included: it is only read), and NAME keeps running.

The check, by default: the database starts, and every table of every
database (but the templates) can be counted; the report lists each table
and its rows. --check-sql runs your own SQL instead, with psql in
--database, and the drill fails if psql fails.

The temporary cluster and everything it made, its PVCs included, are
removed at the end, whether the drill passed or failed, and on Ctrl-C (a
second Ctrl-C stops the removal). --keep keeps it to inspect; the report
says how to remove it.

The command exits non-zero when the drill fails. A cluster without backups,
a --target that does not exist and a --pitr-target outside the recovery
window are refused before anything is created.`

const restoreDrillExample = `  # Restore the latest backup of hippo into a temporary cluster, count every table, remove it
  kubectl pgo restore-drill hippo

  # Restore backup 20261126-074954F to a point in time, and run a query of your own
  kubectl pgo restore-drill hippo --target=20261126-074954F --pitr-target='2026-11-26 08:00:00+00' \
    --database=app --check-sql='SELECT count(*) FROM orders WHERE created < now()'

  # Keep the temporary cluster to look at it, and print the report as JSON
  kubectl pgo restore-drill hippo --keep -o json`

// LabelDrillOf marks the objects of a restore drill's temporary cluster
// (restore.LabelDrillOf); the e2e tests find them by it.
const LabelDrillOf = restore.LabelDrillOf

// DrillReport is what `kubectl pgo restore-drill -o json|yaml` prints
// (restore.DrillReport); the e2e tests read it.
type DrillReport = restore.DrillReport

// DrillCheckCount and DrillCheckSQL are the values of DrillReport.Check
// (restore's), for the e2e tests.
const DrillCheckCount, DrillCheckSQL = restore.DrillCheckCount, restore.DrillCheckSQL

// DefaultDrillTimeout bounds a drill's restore and its wait for the
// temporary cluster.
const DefaultDrillTimeout = 15 * time.Minute

// drillSuffixLength is the length of the random part of a drill's name.
const drillSuffixLength = 5

// RestoreDrillOptions holds the flags and clients of `kubectl pgo
// restore-drill`.
type RestoreDrillOptions struct {
	execTarget
	PITRTarget     string
	TargetTimeline string
	Target         string
	CheckSQL       string
	Database       string
	Keep           bool
	Timeout        time.Duration
	Output         *printers.OutputFlags

	drillName string
	// options and target are the restore options of the flags.
	options repo.RestoreOptions
	target  time.Time
	cmd     *cobra.Command
	// suffix makes the random part of the drill's name.
	suffix func() string
	genericiooptions.IOStreams
}

// NewRestoreDrillOptions returns options with the defaults.
func NewRestoreDrillOptions(streams genericiooptions.IOStreams) *RestoreDrillOptions {
	return &RestoreDrillOptions{
		Database:  "postgres",
		Timeout:   DefaultDrillTimeout,
		Output:    printers.NewOutputFlags(printers.DefaultFormats...),
		suffix:    func() string { return rand.String(drillSuffixLength) },
		IOStreams: streams,
	}
}

// NewCmdRestoreDrill returns `kubectl pgo restore-drill NAME`.
func NewCmdRestoreDrill(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdRestoreDrill(f, NewRestoreDrillOptions(streams))
}

func newCmdRestoreDrill(f kube.Factory, o *RestoreDrillOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "restore-drill NAME",
		Short:   "Restore a backup into a temporary cluster, check it, report, and remove it",
		Long:    restoreDrillLong,
		Example: restoreDrillExample,
		Args:    cobra.ArbitraryArgs,
		RunE:    runOptions(f, o),
	}
	cmd.SetIn(o.In)
	cmd.SetOut(o.Out)
	cmd.SetErr(o.ErrOut)
	fl := cmd.Flags()
	fl.StringVar(&o.PITRTarget, "pitr-target", "", "Restore to this point in time, with its time zone, e.g. '2026-11-24 12:00:00+00'; the end of the archived WAL if empty.")
	fl.StringVar(&o.TargetTimeline, "target-timeline", "", targetTimelineUsage)
	fl.StringVar(&o.Target, "target", "", "The label of the backup to restore, as show backup lists it (e.g. 20261126-074954F); the latest if empty.")
	fl.StringVar(&o.Target, "backup-name", "", "The same as --target.")
	fl.StringVar(&o.CheckSQL, "check-sql", "", "Run this SQL with psql in the restored database instead of counting every table; the drill fails if it fails.")
	fl.StringVar(&o.Database, "database", o.Database, "The database --check-sql runs in.")
	fl.BoolVar(&o.Keep, "keep", false, "Keep the temporary cluster at the end, to inspect it.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the restore and the start of the temporary cluster may take.")
	o.Output.AddFlags(cmd)
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Complete takes NAME and the namespace, and names the temporary cluster;
// it sends no request.
func (o *RestoreDrillOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.cmd = cmd
	if err := o.complete(f, cmd, args); err != nil {
		return err
	}
	o.drillName = restore.DrillName(o.Name, o.suffix())
	return nil
}

// Validate checks the name and the flags, as create cluster
// --restore-from would; it sends no request.
func (o *RestoreDrillOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, o.Output); err != nil {
		return err
	}
	if o.Target != "" && !repo.IsBackupLabel(o.Target) {
		return usageErrorf(cmd, "invalid --target %q: a backup label is YYYYMMDD-HHMMSSF for a full backup, or YYYYMMDD-HHMMSSF_YYYYMMDD-HHMMSSD|I for a differential or incremental one (list them with kubectl pgo show backup %s)", o.Target, o.Name)
	}
	if cmd.Flags().Changed("check-sql") && strings.TrimSpace(o.CheckSQL) == "" {
		return usageErrorf(cmd, "--check-sql is empty: give the SQL to run in the restored database, or leave the flag out to count every table")
	}
	if cmd.Flags().Changed("database") && o.CheckSQL == "" {
		return usageErrorf(cmd, "--database is the database --check-sql runs in: give --check-sql too (without it, every database is checked)")
	}
	if strings.TrimSpace(o.Database) == "" || strings.ContainsRune(o.Database, 0) {
		return usageErrorf(cmd, "invalid --database %q: give the name of a database", o.Database)
	}
	if err := validateTimeout(cmd, o.Timeout); err != nil {
		return err
	}
	if err := validateClusterName(o.drillName); err != nil {
		return usageErrorf(cmd, "the temporary cluster's name: %v", err)
	}
	// The temporary cluster and the restore flags, as create cluster
	// --restore-from checks them.
	if _, err := o.drillSpec(cmd, nil); err != nil {
		return err
	}
	if _, err := restore.CheckNames(o.Name, "", o.drillName, o.namespace); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	restoreOpts := ""
	if o.Target != "" {
		restoreOpts = "--set=" + o.Target
	}
	var err error
	if o.options, o.target, err = parseRestoreFlags("--restore-opts", restoreOpts, o.PITRTarget, o.TargetTimeline); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return nil
}

// drillSpec is the temporary cluster's Spec (restore.DrillSpec), sized
// and imaged as src, validated as create cluster validates its flags.
func (o *RestoreDrillOptions) drillSpec(cmd *cobra.Command, src *cluster.Spec) (cluster.Spec, error) {
	spec := restore.DrillSpec(o.drillName, o.namespace, src)
	if err := spec.Validate(); err != nil {
		return cluster.Spec{}, usageErrorf(cmd, "%s", indentErrors(err))
	}
	return spec, nil
}

// Run reads the cluster's settings, runs the drill (restore.Drill: the
// progress on stderr) and prints the report.
func (o *RestoreDrillOptions) Run(ctx context.Context) error {
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	src, err := readClusterSpec(ctx, c.Client, o.namespace, o.Name)
	if err != nil {
		return err
	}
	spec, err := o.drillSpec(o.cmd, &src)
	if err != nil {
		return err
	}
	d := &restore.Drill{
		Clients: c, Exec: restore.Exec(o.exec), Progress: o.ErrOut,
		Name: o.Name, Namespace: o.namespace, DrillName: o.drillName, Source: src, Spec: spec,
		Options: o.options, Target: o.target,
		CheckSQL: o.CheckSQL, Database: o.Database, Keep: o.Keep,
		Timeout: o.Timeout, PollInterval: 2 * time.Second,
	}
	report, err := d.Run(ctx)
	if report == nil {
		return err
	}
	if perr := o.print(*report); perr != nil {
		return perr
	}
	return err
}
