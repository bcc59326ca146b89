package cmd

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/restore"
)

const restoreLong = `Restore a cluster in place from its pgBackRest repository: to the latest
point (all archived WAL), or to a point in time with --pitr-target.

What it does, in order:
  1. It checks everything it can before it changes anything: the flags, the
     cluster, the backups in the repository (pgbackrest info) and the
     timelines in its archive, the backup to start from (see Timelines
     below), and that the --pitr-target lies within the recovery window
     (from the end of the oldest usable backup to the newest archived WAL).
  2. It asks for confirmation, naming what is stopped and overwritten;
     --yes skips the question. Without a terminal it needs --yes.
  3. If the database runs, it commits a mark (a transaction with an ID,
     so that a time target after the last commit still finds a commit
     after it), switches to a new WAL segment and waits until the one it
     ended is archived, so that the repository holds every committed
     change (a restore to the latest point refuses if that fails). It stops the database by scaling its StatefulSet to 0. Nothing is
     deleted: the PVC, the Services, the Secrets and the repository stay.
  4. It runs the restore Job <cluster>-restore, which runs
     "pgbackrest restore --delta" on the data PVC: files that match the
     backup are kept, the others are replaced.
  5. It scales the StatefulSet back to 1. PostgreSQL replays the archived
     WAL up to the target, is promoted, and archives on a new timeline.

--wait is on by default, because the database stays stopped until step 5:
the command follows the Job (printing its log) and the recovery, up to
--timeout. With --wait=false it stops after creating the Job and prints how
to follow it and how to start the database once it has succeeded.

If the restore Job fails, the database stays stopped, and the command says
why (with the end of the Job's log). Running restore again replaces the
failed Job. Changes committed after the target, or after the newest archived
WAL, are lost.

Timelines: every restore starts a new timeline (2, 3, ...) from the point
it recovered to, and the timeline it left goes on existing in the archive.
A backup can start a restore only if it lies on the history of the
timeline the recovery follows: a backup taken after a later timeline forked
off cannot reach that timeline. The restore therefore chooses the newest
backup on that history itself (pgBackRest alone would take the newest
backup, which after a point-in-time restore may be on the abandoned
timeline, and PostgreSQL would then stop with "requested timeline is not a
child of this server's history"). The recovery follows the newest timeline
unless --target-timeline names another: a --pitr-target at which the
database was on a timeline that the newest one left earlier is refused
until --target-timeline names that timeline, since the newest timeline does
not hold that state. kubectl pgo show backup lists the timelines and which
backups can restore the current one.

--backup-opts passes options to pgbackrest restore. Allowed: --set (a backup
label from kubectl pgo show backup), --type (default, immediate, time, xid,
lsn, name), --target, --target-exclusive, --target-action (promote or pause),
--target-timeline, --db-include, --recovery-option, --process-max, --force,
--link-all, --repo, --log-level-console. The stanza, paths, repository and
archive settings belong to the cluster and are refused. --pitr-target
implies --type=time and --target-action=promote.

With --backup-type=pgdump, it restores a pg_dump backup instead, without
stopping anything: a Job runs pg_restore --clean --if-exists into
--pgdump-database (default the dumped database), or psql for a pg_dumpall
file (into postgres), against the cluster's Service with the password from
its Secret. The dump is the latest completed one on --backup-pvc (default
backup-NAME-pgdump-pvc), or the one named by --backup-name (its timestamp,
see show backup --backup-type=pgdump), or the latest made at or before
--pitr-target. --backup-opts passes allowed pg_restore options (--no-owner,
--schema, --table, --data-only, --single-transaction, --jobs, ...). It asks
for confirmation, since it replaces the dumped objects. The dump may be
another cluster's, in the same namespace: name its PVC with --backup-pvc
(e.g. backup-OTHER-pgdump-pvc), as in PGO v4; its dumps are found by the
Jobs that made them.

With --backup-type=pgbasebackup, it restores one of the cluster's own
pg_basebackup backups in place, with the same steps and safety as above:
the checks (the PVC, the backup, no backup or restore Job of the cluster
running), the confirmation, the database scaled to 0, and the restore Job
<cluster>-restore, which checks both archives (gzip -t) before it changes
anything, empties the data directory and extracts base.tar.gz and
pg_wal.tar.gz into it. PostgreSQL then recovers to the end of the base
backup (recovery_target 'immediate', reading the pgBackRest archive with
restore_command) and is promoted on a new timeline, so that the WAL it
archives does not collide with the archive's: pgbackrest check and later
backups go on working. Once it is promoted, the recovery settings are
removed again (ALTER SYSTEM RESET), so that no later restore inherits them. The backup is the latest completed one on
--backup-pvc (default backup-NAME-pgbasebackup-pvc), the one named by
--backup-name, or the latest made at or before --pitr-target. Everything
written after the base backup is lost. Until the Job's last step, the data
directory has no PG_VERSION, so an interrupted restore leaves nothing
PostgreSQL would start on; run the restore again.

Every type of restore refuses while a backup (pgbackrest, pgdump or
pgbasebackup) or another restore of the cluster runs, naming its Job.`

const restoreExample = `  # Restore to the latest point: replay every archived WAL segment
  kubectl pgo restore hippo

  # Restore to a point in time (the time zone is required)
  kubectl pgo restore hippo --pitr-target='2026-11-24 12:00:00+00'

  # Go back to a point on timeline 1, which a previous restore left
  kubectl pgo restore hippo --pitr-target='2026-11-24 11:00:00+00' --target-timeline=1

  # Restore one backup, and stop at its end
  kubectl pgo restore hippo --backup-opts='--set=20261124-110000F --type=immediate'

  # In a script: no question asked
  kubectl pgo restore hippo --pitr-target=2026-11-24T12:00:00Z --yes

  # Restore a pg_dump backup, by its name, into its database
  kubectl pgo restore hippo --backup-type=pgdump --backup-name=2026-11-24-12-00-00

  # Restore the latest dump of another cluster, rhino, into hippo
  kubectl pgo restore hippo --backup-type=pgdump --backup-pvc=backup-rhino-pgdump-pvc

  # Restore a base backup in place (the latest one without --backup-name)
  kubectl pgo restore hippo --backup-type=pgbasebackup --backup-name=2026-11-24-12-00-00`

// DefaultRestoreTimeout is how long restore --wait waits for the Job and
// for PostgreSQL to recover.
const DefaultRestoreTimeout = restore.DefaultTimeout

// RestoreOptions holds the flags and clients of `kubectl pgo restore`. The
// restore itself is restore.InPlace (the pg_dump restore is in pgdump.go);
// this file holds the flags, the prompt and the printing.
type RestoreOptions struct {
	Name       string
	PITRTarget string
	// TargetTimeline is --target-timeline: a number, current or latest.
	TargetTimeline string
	BackupOpts     string
	Wait           bool
	Timeout        time.Duration
	// confirmation is --yes, and whether the prompt can be asked on stdin.
	confirmation
	// The flags of --backup-type=pgdump.
	BackupType     string
	BackupName     string
	BackupPVC      string
	PGDumpDatabase string
	// Repo chooses the repository of a pgBackRest restore.
	Repo repoFlags

	namespace  string
	pgdumpOpts []string
	// options are the pgBackRest restore options, normalized; target is
	// the time target of a point-in-time restore, zero otherwise.
	options repo.RestoreOptions
	target  time.Time

	factory kube.Factory
	client  kubernetes.Interface
	// exec runs a command in a container; kube.ExecCapture, replaced in
	// unit tests.
	exec         func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)
	now          func() time.Time
	pollInterval time.Duration
	genericiooptions.IOStreams
}

// NewRestoreOptions returns options with the defaults of the flags.
func NewRestoreOptions(streams genericiooptions.IOStreams) *RestoreOptions {
	return &RestoreOptions{Wait: true, Timeout: DefaultRestoreTimeout, confirmation: newConfirmation(), now: time.Now, pollInterval: 2 * time.Second, IOStreams: streams}
}

// NewCmdRestore returns `kubectl pgo restore NAME`.
func NewCmdRestore(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newRestoreCommand(f, NewRestoreOptions(streams))
}

// newRestoreCommand binds the command to o, which tests prepare.
func newRestoreCommand(f kube.Factory, o *RestoreOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"restore NAME",
		"Restore a cluster in place, to the latest point or to a point in time",
		restoreLong, restoreExample})
	fl := cmd.Flags()
	fl.StringVar(&o.PITRTarget, "pitr-target", "", `Point in time to restore to, with its time zone: '2026-11-24 12:00:00+00' or RFC 3339 (2026-11-24T12:00:00Z). Implies --type=time and --target-action=promote.`)
	fl.StringVar(&o.TargetTimeline, "target-timeline", "", targetTimelineUsage)
	fl.StringVar(&o.BackupOpts, "backup-opts", "", "Options for pgbackrest restore, e.g. '--set=20261124-110000F --type=immediate' (see above for what is allowed).")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Do not ask for confirmation.")
	fl.BoolVar(&o.Yes, "no-prompt", false, "Do not ask for confirmation (PGO v4's name for --yes).")
	fl.BoolVar(&o.Wait, "wait", o.Wait, "Follow the restore Job and the recovery until the database is ready and promoted. On by default: the database stays stopped until then.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits for the restore Job and the recovery together.")
	fl.StringVar(&o.BackupType, "backup-type", "pgbackrest", "pgbackrest (restore the cluster in place), pgdump (restore a pg_dump backup into a database, with pg_restore), or pgbasebackup (restore a pg_basebackup backup in place).")
	fl.StringVar(&o.BackupName, "backup-name", "", "With --backup-type=pgdump or pgbasebackup: the backup to restore, by its timestamp (see show backup --backup-type=...); default the latest.")
	fl.StringVar(&o.BackupPVC, "backup-pvc", "", "With --backup-type=pgdump: the PVC of the dumps (default backup-NAME-pgdump-pvc; another cluster's, to restore its dumps here). With pgbasebackup: the PVC of the base backups (default backup-NAME-pgbasebackup-pvc).")
	o.Repo.AddFlags(cmd, "restore from")
	fl.StringVar(&o.PGDumpDatabase, "pgdump-database", "", "With --backup-type=pgdump: the database to restore into (default the dumped database; postgres for a --dump-all).")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Complete takes the cluster name and finds the namespace; it sends no
// request.
func (o *RestoreOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) (err error) {
	o.factory, o.exec = f, execOr(o.exec, factoryExec(f))
	o.Name, o.namespace, err = clusterAndNamespace(f, cmd, args)
	return err
}

// Validate checks the flags and builds the pgBackRest options; it sends no
// request, so a mistake costs nothing.
func (o *RestoreOptions) Validate(cmd *cobra.Command) error {
	if msgs := validation.IsDNS1035Label(o.Name); len(msgs) > 0 {
		return usageErrorf(cmd, "%q is not a cluster name: %s", o.Name, strings.Join(msgs, "; "))
	}
	if o.Timeout <= 0 {
		return usageErrorf(cmd, "--timeout must be more than 0, e.g. 30m")
	}
	switch o.BackupType {
	case "pgbackrest":
	case jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup:
		return o.validatePGDump(cmd)
	default:
		return usageErrorf(cmd, "unknown --backup-type %q: use pgbackrest, %s or %s", o.BackupType, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup)
	}
	for _, f := range []string{"backup-name", "backup-pvc", "pgdump-database"} {
		if cmd.Flags().Changed(f) {
			return usageErrorf(cmd, "--%s applies to --backup-type=pgdump or pgbasebackup only", f)
		}
	}
	opts, target, err := parseRestoreFlags("--backup-opts", o.BackupOpts, o.PITRTarget, o.TargetTimeline)
	if err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if err := o.Repo.validate(cmd.Flags()); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if opts.Repo > 0 && (cmd.Flags().Changed("repo") || cmd.Flags().Changed(flagStorageType)) {
		return usageErrorf(cmd, "the repository is given twice, in --backup-opts and as a flag: give it once")
	}
	o.options, o.target = opts, target
	return nil
}

// Run restores the cluster: restore.InPlace checks, then, once confirmed,
// stops the database, runs the restore Job and, with --wait, follows it
// and the recovery.
func (o *RestoreOptions) Run(ctx context.Context) error {
	if o.BackupType == jobs.BackupTypePGDump {
		return o.runPGDump(ctx)
	}
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return kubeconfigError(err)
	}
	o.client = client
	start := o.now()

	r := o.inPlace()
	plan, err := r.Check(ctx)
	if err != nil {
		return err
	}
	if err := o.confirm(r, plan); err != nil {
		return err
	}
	job, err := r.Start(ctx, plan)
	if err != nil {
		return err
	}
	if !o.Wait {
		o.printNoWait(job)
		return nil
	}
	result, err := r.Wait(ctx, plan, job)
	if err != nil {
		return err
	}
	o.printSummary(r, plan, result, o.now().Sub(start))
	return nil
}

// inPlace is the restore the flags ask for.
func (o *RestoreOptions) inPlace() *restore.InPlace {
	r := &restore.InPlace{
		Client: o.client, Exec: o.exec, Progress: o.ErrOut,
		Name: o.Name, Namespace: o.namespace, Options: o.options, Target: o.target, Repo: o.Repo.index,
		Timeout: o.Timeout, PollInterval: o.pollInterval, Now: o.now, Command: o.restoreCommand(),
	}
	if o.BackupType == jobs.BackupTypePGBaseBackup {
		r.BaseBackup = func(ctx context.Context) (*restore.BaseBackup, error) {
			d, err := o.findPGBackup(ctx, o.Name, "base backup")
			if err != nil {
				return nil, err
			}
			return &restore.BaseBackup{Name: d.Name, Time: d.Time, PVC: d.PVC, Path: d.Path}, nil
		}
	}
	return r
}
