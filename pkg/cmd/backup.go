package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const backupLong = `Back up a PostgreSQL cluster with pgBackRest, in a Kubernetes Job.

The Job runs pgBackRest as the cluster's repository host: its pod mounts the
repository host's configuration, certificate and repository volume, and
reaches the database through the cluster's Service. The backup goes on if
this command is interrupted; the Job's status is the backup's result, and
the Job and its log are kept for a week after it ends.

The backup starts with a fast checkpoint (--start-fast). Without --type, the
backup is incremental, and pgBackRest makes it a full backup when there is
none yet. --backup-opts passes more options to pgbackrest backup, such as
--process-max=4, --compress-type=zst or --annotation=reason=upgrade; the
options that kubectl-pgo manages (--stanza, --repo1-path, --pg1-host, ...)
are refused.

Two backups of a cluster never run at once: while a backup (or a restore)
Job of the cluster is active, a new backup is refused with its name.

With --wait, the command follows the Job, prints pgBackRest's log as it
comes (--verbose adds a line per file, with the percentage done), then the
new backup's label as pgbackrest info reports it; it fails if the backup
failed, with the reason.

With --backup-type=pgdump, a Job in the cluster's PostgreSQL image runs
pg_dump -Fc on --database (default postgres), or pg_dumpall (plain SQL)
with --dump-all, against the cluster's Service, with the password from the
cluster's Secret. It writes
/pgdump/NAME-backups/<UTC timestamp YYYY-MM-DD-HH-MM-SS>/<database>.dump
(all.sql for --dump-all) on the PVC --pvc-name (default
backup-NAME-pgdump-pvc), which is created when missing (--pvc-size, in the
default storage class). The timestamp names the dump. --backup-opts passes
pg_dump options from an allow-list (--schema, --table, --exclude-table,
--no-owner, --compress, ...); the connection, file and format options are
refused. The Job records the dump in its labels and annotations and is kept
(no TTL), so that show backup --backup-type=pgdump lists every dump.

With --backup-type=pgbasebackup, the Job runs pg_basebackup against the
Service (tar format, gzip-compressed, WAL streamed, fast checkpoint) into
/pgbasebackup/NAME-backups/<UTC timestamp>/ on the PVC --pvc-name (default
backup-NAME-pgbasebackup-pvc), and is kept as the base backup's record.
--backup-opts allows --max-rate, --label, --no-verify-checksums,
--manifest-checksums and --no-manifest.`

const backupExample = `  # A full backup, following it to the end
  kubectl pgo backup hippo --type=full --wait

  # A differential backup with four processes, started in the background
  kubectl pgo backup hippo --backup-opts='--type=diff --process-max=4'

  # What was started, as JSON
  kubectl pgo backup hippo -o json

  # A pg_dump of database app, following it
  kubectl pgo backup hippo --backup-type=pgdump --database=app --wait

  # Every database and the roles, with pg_dumpall
  kubectl pgo backup hippo --backup-type=pgdump --dump-all --wait

  # A base backup with pg_basebackup
  kubectl pgo backup hippo --backup-type=pgbasebackup --wait`

// backupDefaultType is the pgBackRest backup type without --type.
const backupDefaultType = repo.BackupIncr

// The result of `kubectl pgo backup` and its status values: those of
// pkg/backup, under the names this package has always exported.
type BackupResult = backup.Result

const (
	BackupStarted   = backup.Started
	BackupSucceeded = backup.Succeeded
	BackupFailed    = backup.Failed
)

// BackupOptions holds the flags and clients of `kubectl pgo backup`.
type BackupOptions struct {
	execTarget
	BackupType string
	Type       string
	BackupOpts string
	Wait       bool
	Timeout    time.Duration
	Verbose    bool
	// FromStandby copies the files from a replica (backup-standby); the
	// cluster's --pgbackrest-backup-standby when not given.
	FromStandby      bool
	fromStandbyGiven bool
	Output           *printers.OutputFlags
	// The flags of --backup-type=pgdump.
	Database string
	DumpAll  bool
	PVCName  string
	PVCSize  string
	// Repo chooses the repository of a pgBackRest backup.
	Repo repoFlags

	pgdumpOpts []string
	options    repo.BackupOptions
	pgType     string
	now        func() time.Time
	interval   time.Duration
	genericiooptions.IOStreams
}

// NewBackupOptions returns options with the defaults.
func NewBackupOptions(streams genericiooptions.IOStreams) *BackupOptions {
	return &BackupOptions{BackupType: jobs.BackupTypePGBackRest, Timeout: jobs.DefaultBackupDeadline, Database: "postgres", PVCSize: "1Gi", Output: printers.NewOutputFlags(printers.DefaultFormats...), now: time.Now, interval: 500 * time.Millisecond, IOStreams: streams}
}

// NewCmdBackup returns `kubectl pgo backup`.
func NewCmdBackup(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdBackup(f, NewBackupOptions(streams))
}

func newCmdBackup(f kube.Factory, o *BackupOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"backup NAME",
		"Back up a cluster with pgBackRest, in a Job",
		backupLong, backupExample})
	flags := cmd.Flags()
	flags.StringVar(&o.BackupType, "backup-type", o.BackupType, "The backup tool: pgbackrest; pgdump (pg_dump of one database, or pg_dumpall with --dump-all, to a PVC); or pgbasebackup (pg_basebackup to a PVC).")
	flags.StringVar(&o.Type, "type", "", "The pgBackRest backup type: full, diff or incr (default incr, which pgBackRest makes full when there is no full backup).")
	flags.StringVar(&o.BackupOpts, "backup-opts", "", "More options for pgbackrest backup, e.g. '--type=full --process-max=4'.")
	flags.BoolVar(&o.Wait, "wait", false, "Follow the backup to its end, with its log, and print the new backup's label.")
	flags.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the backup may run before its Job is stopped (activeDeadlineSeconds).")
	flags.BoolVar(&o.Verbose, "verbose", false, "Log at pgBackRest's detail level: a line per file copied, with the percentage done.")
	flags.StringVar(&o.Database, "database", o.Database, "With --backup-type=pgdump: the database to dump.")
	flags.BoolVar(&o.DumpAll, "dump-all", false, "With --backup-type=pgdump: dump every database and the roles with pg_dumpall (plain SQL).")
	flags.StringVar(&o.PVCName, "pvc-name", "", "With --backup-type=pgdump: the PVC of the dumps, created if missing (default backup-NAME-pgdump-pvc).")
	flags.StringVar(&o.PVCSize, "pvc-size", o.PVCSize, "With --backup-type=pgdump: the size of the PVC when it is created.")
	flags.BoolVar(&o.FromStandby, "from-standby", false, "Copy the files from the streaming replica with the least lag (pgBackRest's backup-standby); the primary only starts and stops the backup.")
	o.Repo.AddFlags(cmd, "back up to")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	o.Output.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("backup-type", cobra.FixedCompletions([]string{jobs.BackupTypePGBackRest, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(repo.BackupTypes, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks every flag; it sends no request, so that bad input
// starts nothing.
func (o *BackupOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, o.Output, &o.Repo); err != nil {
		return err
	}
	if o.BackupType != jobs.BackupTypePGBackRest && (cmd.Flags().Changed("repo") || cmd.Flags().Changed(flagStorageType)) {
		return usageErrorf(cmd, "--repo and --%s apply to --backup-type=pgbackrest only", flagStorageType)
	}
	if o.BackupType != jobs.BackupTypePGBackRest && o.FromStandby {
		return usageErrorf(cmd, "--from-standby applies to --backup-type=pgbackrest only")
	}
	o.fromStandbyGiven = cmd.Flags().Changed("from-standby")
	switch {
	case o.BackupType == jobs.BackupTypePGBackRest:
	case o.BackupType == jobs.BackupTypePGDump, o.BackupType == jobs.BackupTypePGBaseBackup:
		return o.validatePGDump(cmd)
	default:
		return usageErrorf(cmd, "unknown --backup-type %q: valid backup types are %s, %s and %s",
			o.BackupType, jobs.BackupTypePGBackRest, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup)
	}
	for _, f := range []string{"database", "dump-all", "pvc-name", "pvc-size"} {
		if cmd.Flags().Changed(f) {
			return usageErrorf(cmd, "--%s applies to --backup-type=pgdump only", f)
		}
	}
	if o.Type != "" && repo.CheckBackupType(o.Type) != nil {
		return usageErrorf(cmd, "unknown --type %q: use one of %s", o.Type, strings.Join(repo.BackupTypes, ", "))
	}
	opts, err := repo.ParseBackupOptions(o.BackupOpts)
	if err != nil {
		return usageErrorf(cmd, "%s", indentOptsErrors("--backup-opts", err))
	}
	if opts.Has("repo") && (cmd.Flags().Changed("repo") || cmd.Flags().Changed(flagStorageType)) {
		return usageErrorf(cmd, "the repository is given twice, in --backup-opts and as a flag: give it once")
	}
	if o.Type != "" && opts.Type != "" && o.Type != opts.Type {
		return usageErrorf(cmd, "--type=%s and --backup-opts='--type=%s' disagree: give the type once", o.Type, opts.Type)
	}
	o.options = opts
	o.pgType = firstNonEmpty(o.Type, opts.Type, backupDefaultType)
	if o.Timeout < 10*time.Second {
		return usageErrorf(cmd, "--timeout=%s is too short: a backup needs at least 10s", o.Timeout)
	}
	return nil
}

// Run starts the backup Job (backup.Start) and, with --wait, follows it
// (backup.Waiter).
func (o *BackupOptions) Run(ctx context.Context) error {
	if o.BackupType != jobs.BackupTypePGBackRest {
		return o.runPGDump(ctx)
	}
	client, spec, n, err := o.clientSpecAndRepo(ctx, &o.Repo, "cannot back up: %w. Nothing was started")
	if err != nil {
		return err
	}
	ns := o.namespace
	req := backup.Request{Cluster: o.Name, Namespace: ns, Spec: spec, Repo: n, Type: o.pgType,
		Options: o.options, Verbose: o.Verbose, Deadline: o.Timeout}
	if o.FromStandby || (!o.fromStandbyGiven && spec.BackupStandby) {
		if req.Standby, err = backup.ChooseStandby(ctx, client, backup.Exec(o.exec), spec); err != nil {
			return err
		}
		fmt.Fprintf(o.ErrOut, "backing up from standby %s\n", cluster.InstancePodName(req.Standby))
	}
	started, err := backup.Start(ctx, client, req, o.now)
	if err != nil {
		return err
	}

	result := backup.NewResult(req, started)
	structured := o.Output.Format() != printers.FormatTable
	if !o.Wait {
		if structured {
			return o.Output.Print(o.Out, nil, result)
		}
		fmt.Fprintf(o.Out, "backup job %s started: pgbackrest %s backup of cluster %s in namespace %s\n", started.Name, o.pgType, o.Name, ns)
		fmt.Fprintf(o.Out, "Follow it with: kubectl logs -f job/%s -n %s\nList the backups with: kubectl pgo show backup %s -n %s\n", started.Name, ns, o.Name, ns)
		return nil
	}

	// The log goes to stdout, unless stdout carries JSON or YAML.
	logOut := o.Out
	if structured {
		logOut = o.ErrOut
	} else {
		fmt.Fprintf(o.Out, "backup job %s started: pgbackrest %s backup of cluster %s in namespace %s\n", started.Name, o.pgType, o.Name, ns)
	}
	err = o.waiter(client, logOut).Wait(ctx, req, started, &result)
	if structured {
		if perr := o.Output.Print(o.Out, nil, result); perr != nil {
			return perr
		}
	} else if err == nil {
		o.printDone(result)
	}
	return err
}

// waiter follows the backup with this command's clients and streams.
func (o *BackupOptions) waiter(client kubernetes.Interface, logOut io.Writer) backup.Waiter {
	return backup.Waiter{
		Client: client, Exec: backup.Exec(o.exec), Log: logOut, ErrOut: o.ErrOut, Interval: o.interval, Now: o.now,
		Info: func(ctx context.Context, ns, pod string, extra ...string) (repo.Stanza, error) {
			return readStanza(ctx, o.exec, ns, pod, extra...)
		},
	}
}

// printDone writes the end of a successful --wait.
func (o *BackupOptions) printDone(r BackupResult) {
	took := ""
	if r.Start != nil && r.Stop != nil {
		took = " in " + r.Stop.Sub(*r.Start).Round(time.Second).String()
	}
	if r.Backup == nil {
		if r.Label != "" {
			fmt.Fprintf(o.Out, "backup %s completed%s\n", r.Label, took)
		} else {
			fmt.Fprintf(o.Out, "backup job %s completed%s\n", r.Job, took)
		}
		return
	}
	b := r.Backup
	fmt.Fprintf(o.Out, "backup %s completed%s: %s, database %s, repository %s\n",
		b.Label, took, b.Type, repo.FormatBytes(b.DatabaseSize), repo.FormatBytes(b.RepositoryBackupSize))
}
