package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
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
const DefaultRestoreTimeout = 30 * time.Minute

const (
	// restoreStopTimeout is how long the database pod may take to stop:
	// its grace period is 60 seconds.
	restoreStopTimeout = 3 * time.Minute
	// restoreExecTimeout bounds each command run in a pod.
	restoreExecTimeout = time.Minute
	// restoreLogLines is how much of a failed Job's log is shown.
	restoreLogLines = 20
)

// RestoreOptions holds the flags and clients of `kubectl pgo restore`.
type RestoreOptions struct {
	Name       string
	PITRTarget string
	// TargetTimeline is --target-timeline: a number, current or latest.
	TargetTimeline string
	BackupOpts     string
	Yes            bool
	Wait           bool
	Timeout        time.Duration
	// The flags of --backup-type=pgdump.
	BackupType     string
	BackupName     string
	BackupPVC      string
	PGDumpDatabase string
	// Repo chooses the repository of a pgBackRest restore.
	Repo repoFlags
	// s3Only are the arguments that keep a restore from S3 off the
	// repository host (s3OnlyArgs); empty otherwise.
	s3Only []string
	// repoPod, when set, is the pod where pgBackRest reads the repository,
	// instead of the cluster's own (create cluster --restore-from's reader
	// of another cluster's S3 repository).
	repoPod *corev1.Pod

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
	exec func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)
	// isTerminal tells whether the prompt can be asked on in.
	isTerminal   func(in io.Reader) bool
	now          func() time.Time
	pollInterval time.Duration
	// retryAdvice, when set, replaces the advice after a failed Job.
	retryAdvice string
	genericiooptions.IOStreams
}

// NewRestoreOptions returns options with the defaults of the flags.
func NewRestoreOptions(streams genericiooptions.IOStreams) *RestoreOptions {
	return &RestoreOptions{
		Wait:         true,
		Timeout:      DefaultRestoreTimeout,
		isTerminal:   stdinIsTerminal,
		now:          time.Now,
		pollInterval: 2 * time.Second,
		IOStreams:    streams,
	}
}

// NewCmdRestore returns `kubectl pgo restore NAME`.
func NewCmdRestore(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newRestoreCommand(f, NewRestoreOptions(streams))
}

// newRestoreCommand binds the command to o, which tests prepare.
func newRestoreCommand(f kube.Factory, o *RestoreOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "restore NAME",
		Short:   "Restore a cluster in place, to the latest point or to a point in time",
		Long:    restoreLong,
		Example: restoreExample,
		Args:    cobra.ArbitraryArgs, // checked in Complete, with a clearer message
		RunE:    runOptions(f, o),
	}
	cmd.SetOut(o.Out)
	cmd.SetErr(o.ErrOut)
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

// stdinIsTerminal tells whether in is a terminal, where a person can answer.
func stdinIsTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Complete takes the cluster name and finds the namespace; it sends no
// request.
func (o *RestoreOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
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
		return fmt.Errorf("cannot use the kubeconfig: %w (check --kubeconfig, KUBECONFIG and --context)", err)
	}
	o.namespace = ns
	if o.exec == nil {
		o.exec = factoryExec(f)
	}
	return nil
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
	opts, err := repo.ParseRestoreOptions(o.BackupOpts)
	if err != nil {
		return usageErrorf(cmd, "invalid --backup-opts:\n%s", indentLines(err.Error()))
	}
	if o.PITRTarget != "" {
		t, err := repo.ParseTarget(o.PITRTarget)
		if err != nil {
			return usageErrorf(cmd, "invalid --pitr-target: %v", err)
		}
		if opts, err = opts.WithTimeTarget(t); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
	}
	if opts, err = opts.WithTargetTimeline(o.TargetTimeline); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	target, err := opts.Normalize()
	if err != nil {
		return usageErrorf(cmd, "invalid --backup-opts:\n%s", indentLines(err.Error()))
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

// targetTimelineUsage is the help of --target-timeline.
const targetTimelineUsage = `The timeline the recovery ends on: latest (the default: the newest timeline, the one the database is on), current (the timeline of the backup restored), or a number, to go back to a timeline that an earlier restore left behind (see show backup).`

// indentLines indents every line of s, for a list of errors under a
// heading.
func indentLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// restorePlan is what the checks found, before anything is changed.
type restorePlan struct {
	spec     cluster.Spec
	sts      *appsv1.StatefulSet
	replicas int32
	// backup is the backup pgBackRest is expected to restore.
	backup repo.Backup
	// window is the recovery window, for a time target.
	window *repo.RecoveryWindow
	// baseBackup is the pg_basebackup backup to restore, with
	// --backup-type=pgbasebackup.
	baseBackup *PGDump
	// archiveFirst is set when the database runs: its current WAL is
	// archived before it is stopped (archiveCurrentWAL), also when the
	// restore leaves its timeline, so that a later restore can go back to
	// any point of it. onLatest tells that the recovery follows the
	// database's own (newest) timeline, which then needs that WAL, and
	// archivedBefore is how far the archive reached before.
	archiveFirst   bool
	onLatest       bool
	archivedBefore time.Time
}

// Run restores the cluster.
func (o *RestoreOptions) Run(ctx context.Context) error {
	if o.BackupType == jobs.BackupTypePGDump {
		return o.runPGDump(ctx)
	}
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return fmt.Errorf("cannot use the kubeconfig: %w (check --kubeconfig, KUBECONFIG and --context)", err)
	}
	o.client = client
	start := o.now()

	plan, err := o.check(ctx)
	if err != nil {
		return err
	}
	if err := o.confirm(plan); err != nil {
		return err
	}
	if plan.archiveFirst {
		if err := o.archiveCurrentWAL(ctx, plan); err != nil {
			return err
		}
	}

	if err := o.stopDatabase(ctx, plan); err != nil {
		return err
	}
	job, err := o.startJob(ctx, plan)
	if err != nil {
		return err
	}
	if !o.Wait {
		o.printNoWait(job)
		return nil
	}

	waitCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	result, err := o.followJob(waitCtx, job)
	if err != nil {
		return err
	}
	db, err := o.startDatabase(waitCtx, ctx)
	if err != nil {
		return err
	}
	if !plan.spec.HasLocalRepo() {
		o.waitStanzaChecked(waitCtx)
	}
	if plan.baseBackup != nil {
		o.resetRecoverySettings(ctx)
	}
	o.printSummary(plan, result, db, o.now().Sub(start))
	return nil
}

// baseBackupRecoverySettings are what the base backup restore Job put in
// postgresql.auto.conf. Once PostgreSQL is promoted they only get in the
// way: a later pgBackRest restore that sets no target of its own would
// still stop at recovery_target 'immediate'.
var baseBackupRecoverySettings = []string{"restore_command", "recovery_target", "recovery_target_action", "recovery_target_timeline"}

// resetRecoverySettings removes them with ALTER SYSTEM; a failure is only
// reported, with the commands to run by hand.
func (o *RestoreOptions) resetRecoverySettings(ctx context.Context) {
	// One -c each: ALTER SYSTEM cannot run in the transaction of a
	// multi-statement -c.
	cmd := []string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1"}
	var hand []string
	for _, s := range baseBackupRecoverySettings {
		cmd = append(cmd, "-c", "ALTER SYSTEM RESET "+s)
		hand = append(hand, fmt.Sprintf("-c 'ALTER SYSTEM RESET %s'", s))
	}
	execCtx, cancel := context.WithTimeout(ctx, restoreExecTimeout)
	defer cancel()
	if _, stderr, err := o.exec(execCtx, o.namespace, cluster.PodName(o.Name), restoreDatabaseContainer, cmd); err != nil {
		o.progress("Warning: the recovery settings of the restore are still in postgresql.auto.conf (%v %s); remove them with:\n  kubectl exec %s -c %s -n %s -- psql %s",
			err, strings.TrimSpace(stderr), cluster.PodName(o.Name), restoreDatabaseContainer, o.namespace, strings.Join(hand, " "))
		return
	}
	o.progress("Removed the recovery settings of the restore from postgresql.auto.conf (%s).", strings.Join(baseBackupRecoverySettings, ", "))
}

// progress prints a step to stderr; stdout carries only the result.
func (o *RestoreOptions) progress(format string, args ...any) {
	fmt.Fprintf(o.ErrOut, format+"\n", args...)
}

// check reads the cluster and its repository, and refuses what cannot
// work, before anything is changed.
func (o *RestoreOptions) check(ctx context.Context) (*restorePlan, error) {
	ns, name := o.namespace, o.Name
	cm, err := o.client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("cluster %q not found in namespace %q: it has no ConfigMap %s (see kubectl pgo show cluster -n %s)",
			name, ns, cluster.SettingsConfigMapName(name), ns)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the settings of cluster %q: %w", name, err)
	}
	spec, err := cluster.SpecFromConfigMap(cm)
	if err != nil {
		return nil, err
	}
	plan := &restorePlan{spec: spec}

	plan.sts, err = o.client.AppsV1().StatefulSets(ns).Get(ctx, cluster.StatefulSetName(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("cluster %q has no StatefulSet %s: run kubectl pgo create cluster %s to recreate its objects, then restore",
			name, cluster.StatefulSetName(name), name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the StatefulSet of cluster %q: %w", name, err)
	}
	plan.replicas = 1
	if plan.sts.Spec.Replicas != nil {
		plan.replicas = *plan.sts.Spec.Replicas
	}

	jobName := jobs.RestoreJobName(name)
	existing, err := o.client.BatchV1().Jobs(ns).Get(ctx, jobName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("looking for a running restore of cluster %q: %w", name, err)
	case !restoreJobFinished(existing) && existing.DeletionTimestamp == nil:
		return nil, fmt.Errorf("a restore of cluster %q is already running: Job %s, started %s ago. Follow it with: kubectl logs -f job/%s -n %s; to cancel it, delete it: kubectl delete job %s -n %s",
			name, jobName, o.now().Sub(existing.CreationTimestamp.Time).Round(time.Second), jobName, ns, jobName, ns)
	}

	if err := jobs.CheckNoActive(ctx, o.client, ns, name, jobs.RestoreConflicts, "a restore", o.now()); err != nil {
		return nil, fmt.Errorf("%w. Nothing was changed", err)
	}
	if o.BackupType == jobs.BackupTypePGBaseBackup {
		// Only the cluster's own base backups: another cluster's data
		// directory would not match this cluster's pgBackRest stanza.
		plan.baseBackup, err = o.findPGBackup(ctx, jobs.PGBaseBackupSelector(name), "base backup")
		if err != nil {
			return nil, err
		}
		plan.archiveFirst = o.databaseRunning(ctx)
		return plan, nil
	}
	if err := o.checkRepository(ctx, plan); err != nil {
		return nil, err
	}
	return plan, nil
}

// checkRepository reads `pgbackrest info` on the repository host and
// checks the backup set and the target against it.
func (o *RestoreOptions) checkRepository(ctx context.Context, plan *restorePlan) error {
	ns, name := o.namespace, o.Name
	if n, err := o.Repo.index(plan.spec); err != nil {
		return err
	} else if n > 0 {
		o.options.Repo = n
	}
	if err := checkRepoIndex(plan.spec, o.options.Repo); err != nil {
		return err
	}
	pod, err := findPGBackRestPod(ctx, o.client, ns, name)
	baseArgs := []string{"--stanza=" + repo.StanzaName, "--log-level-console=off"}
	var historyRepos []int // all
	if n := o.options.Repo; n > 0 {
		historyRepos = []int{n}
		if plan.spec.StorageType[n-1] == cluster.StorageS3 {
			// An S3 repository is read from the database pod, without its
			// repository host: the restore works while that host is gone.
			o.s3Only = s3OnlyArgs(plan.spec)
			baseArgs = append(baseArgs, o.s3Only...)
			pod, err = kube.FindRunningPod(ctx, o.client, ns, cluster.DatabaseSelector(name).String())
		}
	}
	if o.repoPod != nil {
		pod, err = o.repoPod, nil
	}
	if err != nil {
		return fmt.Errorf("%s of cluster %q %s, and the restore reads the repository through it: %w", pgbackrestPodName, name, notRunning(err), err)
	}
	execCtx, cancel := context.WithTimeout(ctx, restoreExecTimeout)
	defer cancel()
	stdout, _, err := o.exec(execCtx, pod.Namespace, pod.Name, "pgbackrest", repo.InfoCommand(baseArgs, o.options.Repo, historyRepos))
	if err != nil {
		return fmt.Errorf("reading the backups of cluster %q: %w", name, err)
	}
	info, err := repo.ParseInfoOutput(stdout)
	if err != nil {
		return fmt.Errorf("reading the backups of cluster %q: %w", name, err)
	}
	stanza, ok := repo.Find(info.Stanzas, repo.StanzaName)
	if !ok {
		return fmt.Errorf("the repository of cluster %q has no stanza %s: take a backup first (kubectl pgo backup %s -n %s --wait)", name, repo.StanzaName, name, ns)
	}
	if err := stanza.Err(); err != nil {
		if errors.Is(err, repo.ErrStanzaMissing) {
			return fmt.Errorf("cluster %q has no backups: its stanza does not exist yet (%v); take a backup first: kubectl pgo backup %s -n %s --wait", name, err, name, ns)
		}
		return fmt.Errorf("the repository of cluster %q cannot be read: %w", name, err)
	}
	backups := stanza.Backups(o.options.Repo)
	if len(backups) == 0 {
		return fmt.Errorf("cluster %q has no backups to restore from: take one first (kubectl pgo backup %s -n %s --wait)", name, name, ns)
	}
	if o.options.Set != "" {
		if _, ok := findBackup(backups, o.options.Set); !ok {
			if b, found := stanza.FindBackup(o.options.Set); found && b.Error {
				return fmt.Errorf("backup %s of cluster %q has errors (pgBackRest found bad checksums in it): choose another one with --backup-opts=--set=LABEL", o.options.Set, name)
			}
			return fmt.Errorf("backup %s does not exist in the repository of cluster %q; its backups are:\n%s", o.options.Set, name, listBackups(backups))
		}
	}
	timelines, err := info.TimelinesOf(stanza)
	if err != nil {
		return fmt.Errorf("reading the backups of cluster %q: %w", name, err)
	}

	// The backup to restore: pgBackRest's own choice ignores timelines, so
	// the restore names it (--set), chosen on the target timeline's
	// history.
	sel, err := o.selectBackup(plan, backups, timelines)
	if err != nil {
		return err
	}
	plan.onLatest = sel.Timeline == sel.Timelines.Latest()
	plan.archiveFirst = o.databaseRunning(ctx)
	if o.options.Type != repo.RecoveryTime {
		return nil
	}
	if err := sel.Timelines.CheckTimeTarget(o.target, sel.Timeline); err != nil {
		return fmt.Errorf("cannot restore cluster %q to %s: %w. Nothing was changed", name, repo.FormatTime(o.target), err)
	}
	// The window: from the end of the backup (the oldest one that reaches
	// the timeline, unless a set is chosen) to the time the newest WAL
	// segment of the timeline was archived.
	from := []repo.Backup{plan.backup}
	if !o.options.Given("set") {
		from = sel.Reaching(backups)
	}
	var lastWAL string
	var archived time.Time
	if a, ok := stanza.CurrentArchive(max(plan.backup.Database.RepoKey, o.options.Repo)); ok {
		lastWAL = a.Max
		if sel.Timeline != sel.Timelines.Latest() {
			lastWAL, err = o.lastSegmentOf(ctx, pod, a, sel.Timeline)
			if err != nil {
				return err
			}
			a.Max = lastWAL
		}
		if lastWAL != "" {
			if archived, err = o.archivedAt(ctx, plan.spec, pod, a); err != nil {
				return err
			}
		}
	}
	plan.archivedBefore = archived
	if plan.archiveFirst && plan.onLatest && o.now().After(archived) {
		// What the database wrote until now is archived before it stops.
		archived, lastWAL = o.now(), "the current one of the running database"
	}
	w, err := repo.NewRecoveryWindow(from, lastWAL, archived)
	if err != nil {
		return err
	}
	plan.window = &w
	if err := w.Check(o.target); err != nil {
		return fmt.Errorf("cannot restore cluster %q to that point: %w", name, err)
	}
	return nil
}

// selectBackup chooses the backup and the timeline of the restore, and
// writes them into the options: --set always, --target-timeline when one
// was asked for (PostgreSQL's default, latest, is the one chosen
// otherwise).
func (o *RestoreOptions) selectBackup(plan *restorePlan, backups []repo.Backup, timelines map[int]repo.Timelines) (repo.Selection, error) {
	target := repo.RestoreTarget{Set: o.options.Set, Timeline: repo.TargetTimeline(o.options.TargetTimeline)}
	switch o.options.Type {
	case repo.RecoveryTime:
		target.Time = o.target
	case repo.RecoveryLSN:
		target.LSN, _ = repo.ParseLSN(o.options.Target)
	}
	sel, err := repo.SelectBackup(backups, timelines, target)
	if err != nil && !target.Time.IsZero() && target.Set == "" {
		// No backup ended before the time: say where the window starts.
		target.Time = time.Time{}
		if all, err2 := repo.SelectBackup(backups, timelines, target); err2 == nil {
			if w, err3 := repo.NewRecoveryWindow(all.Reaching(backups), "", time.Time{}); err3 == nil {
				if err4 := w.Check(o.target); err4 != nil {
					return sel, fmt.Errorf("cannot restore cluster %q to that point: %w", o.Name, err4)
				}
			}
		}
	}
	if err != nil {
		return sel, fmt.Errorf("cannot restore cluster %q: %w. Nothing was changed", o.Name, err)
	}
	plan.backup = sel.Backup
	o.options.Set = sel.Backup.Label
	if o.options.TargetTimeline != "" {
		o.options.TargetTimeline = strconv.FormatUint(uint64(sel.Timeline), 10)
	}
	return sel, nil
}

func findBackup(backups []repo.Backup, label string) (repo.Backup, bool) {
	for _, b := range backups {
		if b.Label == label {
			return b, true
		}
	}
	return repo.Backup{}, false
}

func listBackups(backups []repo.Backup) string {
	var b strings.Builder
	for _, bk := range backups {
		fmt.Fprintf(&b, "  %s (%s, ended %s)\n", bk.Label, bk.Type, repo.FormatTime(bk.Timestamp.StopTime()))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// archivedAt returns when the newest WAL segment of archive a was stored
// in the repository, rounded up to the second: the modification time of
// its file on the repository host.
func (o *RestoreOptions) archivedAt(ctx context.Context, spec cluster.Spec, pod *corev1.Pod, a repo.Archive) (time.Time, error) {
	if k := a.Database.RepoKey; k > 0 && k <= len(spec.StorageType) && spec.StorageType[k-1] == cluster.StorageS3 {
		return o.archivedAtS3(ctx, pod, a)
	}
	dir, prefix, err := repo.SegmentPath(spec.RepoPath, repo.StanzaName, a, a.Max)
	if err != nil {
		return time.Time{}, err
	}
	execCtx, cancel := context.WithTimeout(ctx, restoreExecTimeout)
	defer cancel()
	stdout, _, err := o.exec(execCtx, pod.Namespace, pod.Name, "pgbackrest",
		[]string{"sh", "-c", `stat -c %Y -- "$1/$2"-*`, "sh", dir, prefix})
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot tell when WAL segment %s was archived: %w", a.Max, err)
	}
	fields := strings.Fields(stdout)
	if len(fields) == 0 {
		return time.Time{}, fmt.Errorf("cannot tell when WAL segment %s was archived: stat printed nothing", a.Max)
	}
	var newest int64
	for _, f := range fields {
		sec, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("cannot tell when WAL segment %s was archived: stat printed %q", a.Max, stdout)
		}
		newest = max(newest, sec)
	}
	return time.Unix(newest+1, 0).UTC(), nil
}

// confirm asks before anything is stopped, unless --yes.
func (o *RestoreOptions) confirm(plan *restorePlan) error {
	var b strings.Builder
	ns, name := o.namespace, o.Name
	fmt.Fprintf(&b, "This restores cluster %q in namespace %q in place:\n", name, ns)
	if plan.replicas > 0 {
		fmt.Fprintf(&b, "  - The database is stopped: StatefulSet %s is scaled to 0 (pod %s), and is down until the restore and the recovery are done.\n",
			plan.sts.Name, cluster.PodName(name))
	} else {
		fmt.Fprintf(&b, "  - The database is already stopped (StatefulSet %s has 0 replicas).\n", plan.sts.Name)
	}
	if bb := plan.baseBackup; bb != nil {
		fmt.Fprintf(&b, "  - Its data directory %s on PVC %s is emptied, and base backup %s (taken %s, %s on PVC %s) is extracted into it.\n",
			cluster.DataDirectory(name), cluster.DataPVCName(name), bb.Name, repo.FormatTime(bb.Time), bb.Path, bb.PVC)
		fmt.Fprintf(&b, "  - PostgreSQL then replays %s, and is promoted on a new timeline.\n", o.replayDescription())
		b.WriteString("  - Every change made after the base backup is lost.\n")
	} else {
		fmt.Fprintf(&b, "  - Its data directory %s on PVC %s is overwritten with backup %s (%s, ended %s).\n",
			cluster.DataDirectory(name), cluster.DataPVCName(name), plan.backup.Label, plan.backup.Type,
			repo.FormatTime(plan.backup.Timestamp.StopTime()))
		fmt.Fprintf(&b, "  - PostgreSQL then replays %s.\n", o.replayDescription())
	}
	switch {
	case plan.baseBackup != nil:
	case o.options.Type == repo.RecoveryDefault:
		b.WriteString("  - Changes that were not archived yet are lost.\n")
	default:
		b.WriteString("  - Changes after that point are lost.\n")
	}
	if len(o.options.DBInclude) > 0 {
		fmt.Fprintf(&b, "  - Only the databases %s are restored; the others become unusable and must be dropped.\n", strings.Join(o.options.DBInclude, ", "))
	}
	if o.Yes {
		o.progress("%s", strings.TrimSuffix(b.String(), "\n"))
		return nil
	}
	if !o.isTerminal(o.In) {
		return fmt.Errorf("restore needs a confirmation, and stdin is not a terminal: pass --yes to restore cluster %q without the question; nothing was changed", name)
	}
	b.WriteString(`Type "yes" to restore: `)
	fmt.Fprint(o.ErrOut, b.String())
	answer, err := bufio.NewReader(o.In).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	if err != nil && answer == "" {
		fmt.Fprintln(o.ErrOut)
	}
	if answer != "yes" && answer != "y" {
		return fmt.Errorf("restore of cluster %q cancelled: the answer was %q, not yes; nothing was changed", name, answer)
	}
	return nil
}

// replayDescription says how far the recovery goes: "all the archived
// WAL (the latest point)", "the archived WAL up to 2026-11-24 12:00:00+00".
func (o *RestoreOptions) replayDescription() string {
	if o.BackupType == jobs.BackupTypePGBaseBackup {
		return "the WAL of the base backup, up to its end"
	}
	if o.options.Type == repo.RecoveryDefault || o.options.Type == "" {
		return "all the archived WAL (the latest point)"
	}
	return "the archived WAL up to " + o.options.Describe()
}

// printNoWait tells how to go on after --wait=false.
func (o *RestoreOptions) printNoWait(job *batchv1.Job) {
	ns := o.namespace
	fmt.Fprintf(o.Out, "Restore Job %s created in namespace %s; the database is stopped until it has succeeded.\n", job.Name, ns)
	fmt.Fprintf(o.Out, "Follow it with:\n  kubectl logs -f job/%s -n %s\n", job.Name, ns)
	fmt.Fprintf(o.Out, "When it has succeeded, start the database:\n  kubectl scale statefulset %s --replicas=1 -n %s\n", cluster.StatefulSetName(o.Name), ns)
	fmt.Fprintf(o.Out, "If it fails, fix the cause and run %s again.\n", o.restoreCommand())
}

// restoreCommand is the command that runs this restore again.
func (o *RestoreOptions) restoreCommand() string {
	c := fmt.Sprintf("kubectl pgo restore %s -n %s", o.Name, o.namespace)
	if o.BackupType == jobs.BackupTypePGBaseBackup {
		c += " --backup-type=" + o.BackupType
		if o.BackupName != "" {
			c += " --backup-name=" + o.BackupName
		}
		if o.BackupPVC != jobs.DefaultPGBaseBackupPVCName(o.Name) {
			c += " --backup-pvc=" + o.BackupPVC
		}
	}
	return c
}

// archivedAtS3 is archivedAt for an S3 repository, where there is no file
// to stat: pgbackrest repo-ls lists the segment with its time.
func (o *RestoreOptions) archivedAtS3(ctx context.Context, pod *corev1.Pod, a repo.Archive) (time.Time, error) {
	dir, prefix, err := repo.SegmentPath("", repo.StanzaName, a, a.Max)
	if err != nil {
		return time.Time{}, err
	}
	execCtx, cancel := context.WithTimeout(ctx, restoreExecTimeout)
	defer cancel()
	stdout, _, err := o.exec(execCtx, pod.Namespace, pod.Name, "pgbackrest", append(append([]string{"pgbackrest", "--stanza=" + repo.StanzaName,
		repoArg(a.Database.RepoKey)}, o.s3Only...), "--output=json", "--filter=^"+prefix, "repo-ls", strings.TrimPrefix(dir, "/")))
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot tell when WAL segment %s was archived: %w", a.Max, err)
	}
	var files map[string]struct {
		Type string `json:"type"`
		Time int64  `json:"time"`
	}
	if err := json.Unmarshal([]byte(stdout), &files); err != nil {
		return time.Time{}, fmt.Errorf("cannot tell when WAL segment %s was archived: repo-ls printed %q", a.Max, stdout)
	}
	var newest int64
	for _, f := range files {
		if f.Type == "file" {
			newest = max(newest, f.Time)
		}
	}
	if newest == 0 {
		return time.Time{}, fmt.Errorf("cannot tell when WAL segment %s was archived: repo-ls does not list it", a.Max)
	}
	return time.Unix(newest+1, 0).UTC(), nil
}

// s3OnlyArgs make pgBackRest on the database side leave the repository
// host alone (--reset-repoN-host: its local repositories are not used),
// so that reading an S3 repository does not wait on a host that is gone.
func s3OnlyArgs(spec cluster.Spec) []string {
	var args []string
	for i, t := range spec.StorageType {
		if t != cluster.StorageS3 {
			args = append(args, fmt.Sprintf("--reset-repo%d-host", i+1))
		}
	}
	return args
}
