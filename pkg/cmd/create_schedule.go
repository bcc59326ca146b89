package cmd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const createScheduleLong = `Create a backup schedule for a cluster: a Kubernetes CronJob whose Jobs are
the Jobs that kubectl pgo backup starts, rendered by the same code.

--schedule is a cron expression of five fields (minute hour day-of-month
month day-of-week, or a descriptor such as @daily), read as the CronJob
controller reads it, in its time zone (UTC on most clusters) or in
--time-zone (an IANA name). It is checked before anything is sent.

--schedule-type is the backup: pgbackrest (with --pgbackrest-backup-type
full, diff or incr, and --schedule-opts checked like backup --backup-opts,
e.g. '--process-max=2'), pgdump (pg_dump of --database to the PVC --pvc-name)
or pgbasebackup (to the PVC --pvc-name). The schedule is named
NAME-pgbackrest-TYPE, NAME-pgdump or NAME-pgbasebackup, as in PGO v4, unless
--schedule-name is given; running create again with the same name updates
it.

The CronJob never runs two of its Jobs at once (concurrencyPolicy Forbid),
skips a run that could not start within 10 minutes of its time
(startingDeadlineSeconds), and keeps its last 3 successful and 3 failed
Jobs. Its Jobs carry the labels of backup Jobs, so kubectl pgo backup refuses
to start while a scheduled backup runs. A scheduled pgBackRest backup that
starts while another backup runs fails at once with pgBackRest's "unable to
acquire lock" (pgBackRest's backup lock, taken in the database pod and on
the repository volume), and the next run tries again; kubectl pgo show schedule shows the
last run and the last success.

A scheduled dump is written to <pvc>/NAME-backups/<Job name>/<database>.dump,
and listed by show backup --backup-type=pgdump as long as its Job is kept
(the last 3 successful ones).

The cluster must exist; the Job template copies its repository host as it is
now, so run create schedule again after changing the cluster's image or
resources. --dry-run=client reads the cluster but changes nothing, and with
-o yaml prints the CronJob; --dry-run=server has the API server validate it.`

const createScheduleExample = `  # A full backup every night at 1:00, an incremental one every hour
  kubectl pgo create schedule hippo --schedule='0 1 * * *' --pgbackrest-backup-type=full
  kubectl pgo create schedule hippo --schedule='@hourly' --pgbackrest-backup-type=incr

  # A dump of database app every Sunday at 3:00, Paris time
  kubectl pgo create schedule hippo --schedule='0 3 * * 0' --time-zone=Europe/Paris \
    --schedule-type=pgdump --database=app

  # The CronJob, without creating it
  kubectl pgo create schedule hippo --schedule='0 1 * * *' --pgbackrest-backup-type=full --dry-run=client -o yaml`

// scheduleTypes are the values of --schedule-type.
var scheduleTypes = []string{jobs.BackupTypePGBackRest, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup}

// CreateScheduleOptions holds the flags and clients of `kubectl pgo create
// schedule`.
type CreateScheduleOptions struct {
	// execTarget is NAME, the namespace and the exec of pgbackrest info.
	execTarget
	Schedule       string
	ScheduleType   string
	PGBackRestType string
	ScheduleName   string
	ScheduleOpts   string
	TimeZone       string
	Database       string
	PVCName        string
	PVCSize        string
	DryRun         string
	Output         string
	// Repo chooses the repository of a pgBackRest schedule.
	Repo repoFlags

	options    repo.BackupOptions
	pgdumpOpts []string
	now        func() time.Time
	genericiooptions.IOStreams
}

// NewCreateScheduleOptions returns options with the defaults.
func NewCreateScheduleOptions(streams genericiooptions.IOStreams) *CreateScheduleOptions {
	return &CreateScheduleOptions{ScheduleType: jobs.BackupTypePGBackRest, Database: "postgres", PVCSize: "1Gi", DryRun: apply.DryRunNone, now: time.Now, IOStreams: streams}
}

// NewCmdCreateSchedule returns `kubectl pgo create schedule NAME`.
func NewCmdCreateSchedule(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCreateSchedule(f, NewCreateScheduleOptions(streams))
}

func newCmdCreateSchedule(f kube.Factory, o *CreateScheduleOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"schedule NAME --schedule=CRON",
		"Schedule backups of a cluster, as a CronJob",
		createScheduleLong, createScheduleExample})
	fl := cmd.Flags()
	fl.StringVar(&o.Schedule, "schedule", "", "When to back up: a cron expression of five fields, e.g. '0 1 * * *' (required).")
	fl.StringVar(&o.ScheduleType, "schedule-type", o.ScheduleType, "The backup: pgbackrest, pgdump or pgbasebackup.")
	fl.StringVar(&o.PGBackRestType, "pgbackrest-backup-type", "", "With --schedule-type=pgbackrest: full, diff or incr (required).")
	fl.StringVar(&o.ScheduleName, "schedule-name", "", "The schedule's (and CronJob's) name (default NAME-pgbackrest-TYPE, NAME-pgdump or NAME-pgbasebackup).")
	fl.StringVar(&o.ScheduleOpts, "schedule-opts", "", "More options for the backup, checked as backup --backup-opts checks them, e.g. '--process-max=2'.")
	fl.StringVar(&o.TimeZone, "time-zone", "", "The time zone of --schedule, an IANA name such as Europe/Paris (default: the CronJob controller's, usually UTC).")
	fl.StringVar(&o.Database, "database", o.Database, "With --schedule-type=pgdump: the database to dump.")
	fl.StringVar(&o.PVCName, "pvc-name", "", "With --schedule-type=pgdump or pgbasebackup: the PVC of the backups, created if missing (default backup-NAME-TYPE-pvc).")
	fl.StringVar(&o.PVCSize, "pvc-size", o.PVCSize, "With --schedule-type=pgdump or pgbasebackup: the size of the PVC when it is created.")
	fl.StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", "client" (read the cluster, change nothing) or "server" (the API server validates, nothing is stored).`)
	fl.StringVarP(&o.Output, "output", "o", "", "Print the CronJob as applied: yaml or json.")
	o.Repo.AddFlags(cmd, "back up to")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	_ = cmd.RegisterFlagCompletionFunc("schedule-type", fixedCompletions(scheduleTypes...))
	_ = cmd.RegisterFlagCompletionFunc("pgbackrest-backup-type", fixedCompletions(repo.BackupTypes...))
	_ = cmd.RegisterFlagCompletionFunc("dry-run", fixedCompletions(apply.DryRunNone, apply.DryRunClient, apply.DryRunServer))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions(string(printers.FormatYAML), string(printers.FormatJSON)))
	return cmd
}

// Validate checks every flag; it sends no request, so that bad input
// creates nothing.
func (o *CreateScheduleOptions) Validate(cmd *cobra.Command) error {
	if !slices.Contains([]string{apply.DryRunNone, apply.DryRunClient, apply.DryRunServer}, o.DryRun) {
		return usageErrorf(cmd, `invalid --dry-run value %q: use "none", "client" or "server"`, o.DryRun)
	}
	if o.Output != "" && o.Output != string(printers.FormatYAML) && o.Output != string(printers.FormatJSON) {
		return usageErrorf(cmd, "invalid output format %q: allowed formats are yaml, json", o.Output)
	}
	if err := validateClusterName(o.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if !cmd.Flags().Changed("schedule") {
		return usageErrorf(cmd, "--schedule is required: a cron expression such as '0 1 * * *' (every day at 1:00)")
	}
	if _, _, err := jobs.ParseCron(o.Schedule, o.TimeZone); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if !slices.Contains(scheduleTypes, o.ScheduleType) {
		return usageErrorf(cmd, "unknown --schedule-type %q: valid schedule types are %s", o.ScheduleType, strings.Join(scheduleTypes, ", "))
	}
	only := func(flags []string, types string) error {
		for _, f := range flags {
			if cmd.Flags().Changed(f) {
				return usageErrorf(cmd, "--%s applies to --schedule-type=%s only", f, types)
			}
		}
		return nil
	}
	if err := o.Repo.validate(cmd.Flags()); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	switch o.ScheduleType {
	case jobs.BackupTypePGBackRest:
		if err := only([]string{"database"}, jobs.BackupTypePGDump); err != nil {
			return err
		}
		if err := only([]string{"pvc-name", "pvc-size"}, "pgdump or pgbasebackup"); err != nil {
			return err
		}
		if o.PGBackRestType == "" {
			return usageErrorf(cmd, "--pgbackrest-backup-type is required with --schedule-type=pgbackrest: use one of %s", strings.Join(repo.BackupTypes, ", "))
		}
		if !slices.Contains(repo.BackupTypes, o.PGBackRestType) {
			return usageErrorf(cmd, "unknown --pgbackrest-backup-type %q: use one of %s", o.PGBackRestType, strings.Join(repo.BackupTypes, ", "))
		}
		opts, err := repo.ParseBackupOptionsOf("--schedule-opts", o.ScheduleOpts)
		if err != nil {
			return usageErrorf(cmd, "%s", indentOptsErrors("--schedule-opts", err))
		}
		if opts.Type != "" && opts.Type != o.PGBackRestType {
			return usageErrorf(cmd, "--pgbackrest-backup-type=%s and --schedule-opts='--type=%s' disagree: give the type once", o.PGBackRestType, opts.Type)
		}
		if opts.Has("repo") && (cmd.Flags().Changed("repo") || cmd.Flags().Changed(flagStorageType)) {
			return usageErrorf(cmd, "the repository is given twice, in --schedule-opts and as a flag: give it once")
		}
		o.options = opts
	default:
		if err := only([]string{"pgbackrest-backup-type", "repo", flagStorageType}, jobs.BackupTypePGBackRest); err != nil {
			return err
		}
		if o.ScheduleType == jobs.BackupTypePGBaseBackup {
			if err := only([]string{"database"}, jobs.BackupTypePGDump); err != nil {
				return err
			}
		}
		if strings.TrimSpace(o.Database) == "" {
			return usageErrorf(cmd, "--database must not be empty")
		}
		opts, pvc, err := backup.DumpFlags("--schedule-opts", o.ScheduleType, o.Name, o.ScheduleOpts, false, o.PVCName, o.PVCSize)
		if err != nil {
			return usageErrorf(cmd, "%v", err)
		}
		o.pgdumpOpts, o.PVCName = opts, pvc
	}
	if o.ScheduleName == "" {
		o.ScheduleName = jobs.DefaultScheduleName(o.Name, o.ScheduleType, o.PGBackRestType)
	}
	return validateScheduleName(cmd, o.ScheduleName)
}

// Run renders the CronJob and applies it (backup.CreateSchedule).
func (o *CreateScheduleOptions) Run(ctx context.Context) error {
	ns := o.namespace
	c, spec, err := o.clientsAndSpec(ctx)
	if err != nil {
		return fmt.Errorf("%w. No schedule was created", err)
	}
	applied, result, err := backup.CreateSchedule(ctx, c, backup.Exec(o.exec), backup.ScheduledBackup{
		Cluster: o.Name, Namespace: ns, Spec: spec, Name: o.ScheduleName, Cron: o.Schedule, TimeZone: o.TimeZone,
		Type: o.ScheduleType, PGBackRestType: o.PGBackRestType, Options: o.options, RepoIndex: o.Repo.index,
		Database: o.Database, ToolOptions: o.pgdumpOpts, PVC: o.PVCName, PVCSize: o.PVCSize,
	}, o.DryRun)
	if err != nil {
		return err
	}
	suffix := ""
	switch o.DryRun {
	case apply.DryRunClient:
		suffix = " (dry run)"
	case apply.DryRunServer:
		suffix = " (server dry run)"
	}
	progress := o.Out
	if o.Output != "" {
		if err := apply.PrintObjects(o.Out, o.Output, []*unstructured.Unstructured{applied}); err != nil {
			return err
		}
		progress = o.ErrOut
	}
	what := o.ScheduleType + " backup"
	switch o.ScheduleType {
	case jobs.BackupTypePGBackRest:
		what = "pgbackrest " + o.PGBackRestType + " backup"
	case jobs.BackupTypePGDump:
		what = "pg_dump of database " + o.Database
	}
	zone := o.TimeZone
	if zone == "" {
		zone = "the controller's time zone"
	}
	next := jobs.NextRun(o.Schedule, o.TimeZone, o.now())
	fmt.Fprintf(progress, "schedule %s %s%s: %s of cluster %s at '%s' (%s); next run %s\n",
		o.ScheduleName, result, suffix, what, o.Name, o.Schedule, zone, next.Format("2006-01-02 15:04 MST"))
	return nil
}
