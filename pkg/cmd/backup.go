package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

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

// Defaults of the backup command.
const (
	backupDefaultType = repo.BackupIncr
	// backupWaitGrace is how long --wait waits beyond the Job's deadline,
	// for the Job controller to notice the deadline.
	backupWaitGrace = 2 * time.Minute
	// backupConfirmTimeout bounds the pgbackrest info that confirms the
	// new backup.
	backupConfirmTimeout = time.Minute
)

// backupTypesNotYet are v4's other --backup-type values.

// Status values of a BackupResult.
const (
	BackupStarted   = "Started"
	BackupSucceeded = "Succeeded"
	BackupFailed    = "Failed"
)

// BackupResult is what `kubectl pgo backup -o json|yaml` prints: the Job
// that was started, and with --wait how it ended.
type BackupResult struct {
	Job        string `json:"job"`
	Namespace  string `json:"namespace"`
	Cluster    string `json:"cluster"`
	BackupType string `json:"backupType"`
	// Type is the pgBackRest backup type asked for; Backup.Type is the one
	// made (pgBackRest makes an incr or a diff a full when there is no
	// full backup yet).
	Type    string `json:"type"`
	Command string `json:"command"`
	Status  string `json:"status"`
	// Label is the new backup's label, once it completed.
	Label string     `json:"label,omitempty"`
	Start *time.Time `json:"start,omitempty"`
	Stop  *time.Time `json:"stop,omitempty"`
	// Backup is the new backup as pgbackrest info reports it.
	Backup *repo.BackupSummary `json:"backup,omitempty"`
	// Reason, ExitCode and Errors say why a backup failed.
	Reason   string   `json:"reason,omitempty"`
	ExitCode *int32   `json:"exitCode,omitempty"`
	Errors   []string `json:"errors,omitempty"`
	// Warnings are problems that did not fail the backup.
	Warnings []string `json:"warnings,omitempty"`
}

// BackupOptions holds the flags and clients of `kubectl pgo backup`.
type BackupOptions struct {
	Name       string
	BackupType string
	Type       string
	BackupOpts string
	Wait       bool
	Timeout    time.Duration
	Verbose    bool
	Output     *printers.OutputFlags
	// The flags of --backup-type=pgdump.
	Database string
	DumpAll  bool
	PVCName  string
	PVCSize  string
	// Repo chooses the repository of a pgBackRest backup.
	Repo repoFlags

	namespace  string
	repoIndex  int
	pgdumpOpts []string
	options    repo.BackupOptions
	pgType     string
	factory    kube.Factory
	exec       execFunc
	now        func() time.Time
	interval   time.Duration
	genericiooptions.IOStreams
}

// NewBackupOptions returns options with the defaults.
func NewBackupOptions(streams genericiooptions.IOStreams) *BackupOptions {
	return &BackupOptions{
		BackupType: jobs.BackupTypePGBackRest,
		Timeout:    jobs.DefaultBackupDeadline,
		Database:   "postgres",
		PVCSize:    "1Gi",
		Output:     printers.NewOutputFlags(printers.DefaultFormats...),
		now:        time.Now,
		interval:   500 * time.Millisecond,
		IOStreams:  streams,
	}
}

// NewCmdBackup returns `kubectl pgo backup`.
func NewCmdBackup(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdBackup(f, NewBackupOptions(streams))
}

func newCmdBackup(f kube.Factory, o *BackupOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "backup NAME",
		Short:   "Back up a cluster with pgBackRest, in a Job",
		Long:    backupLong,
		Example: backupExample,
		Args:    cobra.ArbitraryArgs,
		RunE:    runOptions(f, o),
	}
	cmd.SetOut(o.Out)
	cmd.SetErr(o.ErrOut)
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
	o.Repo.AddFlags(cmd, "back up to")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	o.Output.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("backup-type", cobra.FixedCompletions([]string{jobs.BackupTypePGBackRest, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(repo.BackupTypes, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete takes NAME and the namespace; it sends no request.
func (o *BackupOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
	if o.exec == nil {
		o.exec = explainedFactoryExec(f)
	}
	switch len(args) {
	case 0:
		return usageErrorf(cmd, "a cluster name is required: %s NAME", cmd.CommandPath())
	case 1:
		o.Name = args[0]
	default:
		return usageErrorf(cmd, "%s takes one cluster name, got %d arguments: %s", cmd.CommandPath(), len(args), strings.Join(args, " "))
	}
	ns, _, err := f.Namespace()
	if err != nil {
		return kubeconfigError(err)
	}
	o.namespace = ns
	return nil
}

// Validate checks every flag; it sends no request, so that bad input
// starts nothing.
func (o *BackupOptions) Validate(cmd *cobra.Command) error {
	if err := o.Output.Validate(); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if err := validateClusterName(o.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if err := o.Repo.validate(cmd.Flags()); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if o.BackupType != jobs.BackupTypePGBackRest && (cmd.Flags().Changed("repo") || cmd.Flags().Changed(flagStorageType)) {
		return usageErrorf(cmd, "--repo and --%s apply to --backup-type=pgbackrest only", flagStorageType)
	}
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
	if o.Type != "" && !slices.Contains(repo.BackupTypes, o.Type) {
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

// Run starts the backup Job and, with --wait, follows it.
func (o *BackupOptions) Run(ctx context.Context) error {
	if o.BackupType != jobs.BackupTypePGBackRest {
		return o.runPGDump(ctx)
	}
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return kubeconfigError(err)
	}
	ns := o.namespace
	spec, err := readClusterSpec(ctx, client, ns, o.Name)
	if err != nil {
		return err
	}
	if err := o.checkRepoFlag(spec); err != nil {
		return err
	}
	deploy, err := o.jobTemplate(ctx, client, spec)
	if err != nil {
		return err
	}
	if err := jobs.CheckNoConflict(ctx, client, ns, o.Name, o.now()); err != nil {
		return fmt.Errorf("%w. Nothing was started", err)
	}
	job, err := jobs.BackupJob{
		Cluster:   o.Name,
		Namespace: ns,
		RepoHost:  deploy,
		Repo:      o.repoIndex,
		Type:      o.pgType,
		Options:   o.options,
		Verbose:   o.Verbose,
		Deadline:  o.Timeout,
		Suspend:   true,
	}.Render()
	if err != nil {
		return err
	}
	started, err := jobs.StartBackup(ctx, client, o.Name, job, o.now())
	if err != nil {
		var conflict *jobs.ConflictError
		if errors.As(err, &conflict) {
			return fmt.Errorf("%w. Nothing was started", err)
		}
		return err
	}

	result := BackupResult{
		Job:        started.Name,
		Namespace:  ns,
		Cluster:    o.Name,
		BackupType: jobs.BackupTypePGBackRest,
		Type:       o.pgType,
		Command:    started.Annotations[jobs.AnnotationBackupCommand],
		Status:     BackupStarted,
	}
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
	logOut, status := o.Out, o.ErrOut
	if structured {
		logOut = o.ErrOut
	} else {
		fmt.Fprintf(o.Out, "backup job %s started: pgbackrest %s backup of cluster %s in namespace %s\n", started.Name, o.pgType, o.Name, ns)
	}
	err = o.follow(ctx, client, started, logOut, status, &result)
	if result.Status == BackupFailed {
		// pgBackRest often reports a full repository as a WAL segment that
		// was not archived in time: say what is behind it.
		if full := repoFull(ctx, client, o.exec, ns, spec); full != "" {
			result.Errors = append(result.Errors, full)
			err = fmt.Errorf("%w\n%s", err, full)
		}
	}
	if structured {
		if perr := o.Output.Print(o.Out, nil, result); perr != nil {
			return perr
		}
	} else if err == nil {
		o.printDone(result)
	}
	return err
}

// follow waits for the Job to end, then confirms the new backup with
// pgbackrest info. It fills result, and returns an error when the backup
// failed or could not be followed.
func (o *BackupOptions) follow(ctx context.Context, client kubernetes.Interface, job *batchv1.Job, logOut, status io.Writer, result *BackupResult) error {
	ns := job.Namespace
	waitCtx, cancel := context.WithTimeout(ctx, o.Timeout+backupWaitGrace)
	defer cancel()
	out, err := jobs.Follow(waitCtx, client, ns, job.Name, jobs.FollowOptions{
		Container: jobs.RepoHostContainer,
		Log:       logOut,
		Status:    func(msg string) { fmt.Fprintf(status, "kubectl-pgo: %s\n", msg) },
		Interval:  o.interval,
	})
	if err != nil {
		what := "could not follow"
		switch {
		case errors.Is(err, context.Canceled):
			what = "stopped following"
		case errors.Is(err, context.DeadlineExceeded):
			what = "timed out following"
		}
		result.Reason = err.Error()
		return fmt.Errorf("%s backup job %s: %w. The backup goes on without this command: follow it with kubectl logs -f job/%s -n %s",
			what, job.Name, err, job.Name, ns)
	}
	if t := out.Job.Status.StartTime; t != nil {
		start := t.UTC()
		result.Start = &start
	}
	stop := o.now().UTC()
	if t := out.Job.Status.CompletionTime; t != nil {
		stop = t.UTC()
	} else if t := out.FinishedAt; t != nil {
		stop = t.UTC()
	}
	result.Stop = &stop
	result.ExitCode = out.ExitCode

	if !out.Succeeded {
		result.Status = BackupFailed
		result.Reason = firstNonEmpty(out.Reason, "Failed")
		result.Errors = repo.ErrorLines(out.Log)
		return backupJobFailed(job.Name, ns, out, result.Errors)
	}
	result.Status = BackupSucceeded
	result.Label = repo.BackupLabelFromLog(out.Log)
	confirmCtx, cancelConfirm := context.WithTimeout(ctx, backupConfirmTimeout)
	defer cancelConfirm()
	backup, err := o.confirm(confirmCtx, client, result.Label, out.Job)
	if err != nil {
		result.Warnings = append(result.Warnings, err.Error())
		fmt.Fprintf(o.ErrOut, "Warning: %v\n", err)
		return nil
	}
	result.Label = backup.Label
	result.Backup = backup
	return nil
}

// confirm reads the new backup from pgbackrest info in the repository
// pod: the one labelled in the log, or when the log did not say (a
// console log level below info), the newest one that started after the
// Job.
func (o *BackupOptions) confirm(ctx context.Context, client kubernetes.Interface, label string, job *batchv1.Job) (*repo.BackupSummary, error) {
	pod, err := findPGBackRestPod(ctx, client, o.namespace, o.Name)
	if err != nil {
		return nil, fmt.Errorf("the backup succeeded, but pgbackrest info could not confirm it: %w", err)
	}
	args := []string{}
	if label != "" {
		args = append(args, "--set="+label)
	}
	stanza, err := readStanza(ctx, o.exec, o.namespace, pod.Name, args...)
	if err != nil {
		return nil, fmt.Errorf("the backup succeeded, but pgbackrest info could not confirm it: %w", err)
	}
	// pgBackRest exits 0 with an error status, e.g. 6 for a label it does
	// not know.
	if err := stanza.Err(); err != nil {
		return nil, fmt.Errorf("the backup succeeded, but pgbackrest info could not confirm it: %w", err)
	}
	var found *repo.Backup
	if label != "" {
		if b, ok := repo.FindBackup(stanza.Backup, label); ok {
			found = &b
		}
	} else {
		since := job.CreationTimestamp.Unix()
		for _, b := range repo.SortBackups(stanza.Backup) {
			if b.Timestamp.Start >= since-1 {
				found = &b
			}
		}
	}
	if found == nil {
		what := "the new backup"
		if label != "" {
			what = "backup " + label
		}
		return nil, fmt.Errorf("the backup Job succeeded, but pgbackrest info does not list %s", what)
	}
	sum := repo.Summarize(repo.Stanza{Backup: []repo.Backup{*found}})
	return &sum.Backups[0], nil
}

// backupJobFailed explains a failed backup Job: the Job's condition, the exit
// code, and pgBackRest's errors (or the end of its log).
func backupJobFailed(name, ns string, out jobs.Outcome, errs []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "backup job %s failed", name)
	if out.Reason != "" {
		fmt.Fprintf(&b, " (%s", out.Reason)
		if out.Message != "" {
			fmt.Fprintf(&b, ": %s", out.Message)
		}
		b.WriteString(")")
	}
	if out.ExitCode != nil {
		fmt.Fprintf(&b, "; pgbackrest exited with code %d", *out.ExitCode)
	}
	switch {
	case len(errs) > 0:
		b.WriteString(":\n  " + strings.Join(errs, "\n  "))
	case strings.TrimSpace(out.Log) != "":
		b.WriteString("; the end of its log:\n  " + strings.Join(lastLines(out.Log, 5), "\n  "))
	case out.Reason == "DeadlineExceeded":
		b.WriteString("; raise --timeout if the backup needs more time")
	}
	fmt.Fprintf(&b, "\nThe Job and its log are kept: kubectl logs job/%s -n %s", name, ns)
	return errors.New(b.String())
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

// checkRepoFlag resolves the chosen repository against the cluster's.
func (o *BackupOptions) checkRepoFlag(spec cluster.Spec) error {
	n, err := o.Repo.index(spec)
	if err != nil {
		return fmt.Errorf("cannot back up: %w. Nothing was started", err)
	}
	o.repoIndex = n
	return nil
}

// jobTemplate is the pod the backup Job copies: the repository host's
// Deployment, which must be running beside the Job; or, for a cluster
// without a local repository, the same Deployment rendered from the
// cluster's settings, with the database pod running.
func (o *BackupOptions) jobTemplate(ctx context.Context, client kubernetes.Interface, spec cluster.Spec) (*appsv1.Deployment, error) {
	ns := o.namespace
	if !spec.HasLocalRepo() {
		if _, err := kube.FindRunningPod(ctx, client, ns, cluster.DatabaseSelector(o.Name).String()); err != nil {
			return nil, fmt.Errorf("cannot back up cluster %q: its database %s (%v). Nothing was started", o.Name, notRunning(err), err)
		}
		return cluster.RepoHostDeployment(spec)
	}
	deploy, err := client.AppsV1().Deployments(ns).Get(ctx, cluster.RepoHostName(o.Name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("cannot back up cluster %q: its repository host Deployment %s is missing in namespace %q; run kubectl pgo create cluster %s again to restore it. Nothing was started",
			o.Name, cluster.RepoHostName(o.Name), ns, o.Name)
	case err != nil:
		return nil, fmt.Errorf("cannot back up cluster %q: read its repository host: %w", o.Name, err)
	}
	if _, err := kube.FindRunningPod(ctx, client, ns, cluster.RepoSelector(o.Name).String()); err != nil {
		return nil, fmt.Errorf("cannot back up cluster %q: its repository host %s (%v); the backup Job runs beside it. Check it with kubectl get deployment %s -n %s. Nothing was started",
			o.Name, notRunning(err), err, cluster.RepoHostName(o.Name), ns)
	}
	return deploy, nil
}
