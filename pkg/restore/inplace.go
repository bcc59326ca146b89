package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// DefaultTimeout is how long a restore waits for the Job and for
// PostgreSQL to recover.
const DefaultTimeout = 30 * time.Minute

const (
	// stopTimeout is how long the database pod may take to stop: its
	// grace period is 60 seconds.
	stopTimeout = 3 * time.Minute
	// execTimeout bounds each command run in a pod.
	execTimeout = time.Minute
	// logLines is how much of a failed Job's log is shown.
	logLines = 20
)

// The containers of the database pod.
const (
	databaseContainer   = cluster.ContainerDatabase
	pgbackrestContainer = cluster.ContainerPGBackRest
)

// pgbackrestPodName names the pod that reads the repository in messages,
// as the commands that exec into it do.
const pgbackrestPodName = "the repository host (or, for an S3-only cluster, the database pod)"

// Exec runs a command in a container and returns its output:
// kube.ExecCapture, replaced in unit tests.
type Exec func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)

// InPlace restores cluster Name in Namespace in place, from its pgBackRest
// repository (or, with BaseBackup, from a pg_basebackup backup). Check
// reads what the restore needs and refuses what cannot work; Start stops
// the database and starts the restore Job; Wait follows it and the
// recovery.
type InPlace struct {
	Client kubernetes.Interface
	Exec   Exec
	// Progress receives the steps and the restore Job's log.
	Progress io.Writer

	Name, Namespace string
	// Options are the pgBackRest restore options, normalized; Check sets
	// the backup (--set) and the timeline it chose. Target is the time
	// target, zero without one.
	Options repo.RestoreOptions
	Target  time.Time
	// Repo, when set, is the repository chosen by flags for the cluster's
	// Spec (0 when none was); it refuses one the cluster does not have.
	Repo func(cluster.Spec) (int, error)
	// BaseBackup, when set, makes this the restore of a pg_basebackup
	// backup: it finds the one to restore.
	BaseBackup func(ctx context.Context) (*BaseBackup, error)
	// RepoPod, when set, is the pod where pgBackRest reads the repository,
	// instead of the cluster's own (the reader of another cluster's S3
	// repository).
	RepoPod *corev1.Pod
	// Major is the PostgreSQL major the restored data directory must be
	// of: the cluster's own (the Spec's) when zero, the new cluster's for
	// --restore-from. A backup of another major (from before kubectl pgo
	// upgrade) is refused: the database could not start on it.
	Major int

	Timeout      time.Duration
	PollInterval time.Duration
	Now          func() time.Time
	// Command is the command that runs this restore again, for the advice
	// after a failure; RetryAdvice, when set, replaces the advice after a
	// failed Job.
	Command     string
	RetryAdvice string

	// objectStoreOnly are the arguments that keep a restore from S3 off the
	// repository host (objectStoreOnlyArgs); empty otherwise.
	objectStoreOnly []string
	// primary is the instance the settings name as the primary (Check
	// reads it): after a failover not the first. The restore goes into
	// its data directory, and the other instances are rebuilt from it.
	primary string
}

// primaryInstance is the primary's instance (its StatefulSet and PVC).
func (r *InPlace) primaryInstance() string {
	if r.primary != "" {
		return r.primary
	}
	return cluster.StatefulSetName(r.Name)
}

// primaryPod is the primary's pod.
func (r *InPlace) primaryPod() string { return cluster.InstancePodName(r.primaryInstance()) }

// BaseBackup is the pg_basebackup backup a restore extracts.
type BaseBackup struct {
	Name string
	Time time.Time
	PVC  string
	Path string
}

// Plan is what the checks found, before anything is changed.
type Plan struct {
	Spec        cluster.Spec
	StatefulSet *appsv1.StatefulSet
	Replicas    int32
	// Backup is the backup pgBackRest is expected to restore.
	Backup repo.Backup
	// Window is the recovery window, for a time target.
	Window *repo.RecoveryWindow
	// BaseBackup is the pg_basebackup backup to restore, if it is one.
	BaseBackup *BaseBackup
	// ArchiveFirst is set when the database runs: its current WAL is
	// archived before it is stopped (ArchiveCurrentWAL), also when the
	// restore leaves its timeline, so that a later restore can go back to
	// any point of it. OnLatest tells that the recovery follows the
	// database's own (newest) timeline, which then needs that WAL, and
	// ArchivedBefore is how far the archive reached before.
	ArchiveFirst   bool
	OnLatest       bool
	ArchivedBefore time.Time
}

// progress prints a step.
func (r *InPlace) progress(format string, args ...any) {
	fmt.Fprintf(r.Progress, format+"\n", args...)
}

// Check reads the cluster and its repository, and refuses what cannot
// work, before anything is changed.
func (r *InPlace) Check(ctx context.Context) (*Plan, error) {
	ns, name := r.Namespace, r.Name
	cm, err := r.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(name), metav1.GetOptions{})
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
	if err := spec.RefuseStandby("an in-place restore"); err != nil {
		return nil, fmt.Errorf("%w; to follow the source from another backup, delete this cluster and create it again with --standby. Nothing was changed", err)
	}
	plan := &Plan{Spec: spec}
	r.primary = spec.PrimaryInstance()

	plan.StatefulSet, err = r.Client.AppsV1().StatefulSets(ns).Get(ctx, r.primaryInstance(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("cluster %q has no StatefulSet %s: run kubectl pgo create cluster %s to recreate its objects, then restore",
			name, r.primaryInstance(), name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the StatefulSet of cluster %q: %w", name, err)
	}
	plan.Replicas = 1
	if plan.StatefulSet.Spec.Replicas != nil {
		plan.Replicas = *plan.StatefulSet.Spec.Replicas
	}

	jobName := jobs.RestoreJobName(name)
	existing, err := r.Client.BatchV1().Jobs(ns).Get(ctx, jobName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("looking for a running restore of cluster %q: %w", name, err)
	case !jobFinished(existing) && existing.DeletionTimestamp == nil:
		return nil, fmt.Errorf("a restore of cluster %q is already running: Job %s, started %s ago. Follow it with: kubectl logs -f job/%s -n %s; to cancel it, delete it: kubectl delete job %s -n %s",
			name, jobName, r.Now().Sub(existing.CreationTimestamp.Time).Round(time.Second), jobName, ns, jobName, ns)
	}

	if err := jobs.CheckNoActive(ctx, r.Client, ns, name, jobs.RestoreConflicts, "a restore", r.Now()); err != nil {
		return nil, fmt.Errorf("%w. Nothing was changed", err)
	}
	if r.BaseBackup != nil {
		// Only the cluster's own base backups: another cluster's data
		// directory would not match this cluster's pgBackRest stanza.
		plan.BaseBackup, err = r.BaseBackup(ctx)
		if err != nil {
			return nil, err
		}
		plan.ArchiveFirst = r.databaseRunning(ctx)
		return plan, nil
	}
	if err := r.CheckRepository(ctx, plan); err != nil {
		return nil, err
	}
	return plan, nil
}

// CheckRepository reads `pgbackrest info` on the repository host of
// plan.Spec's cluster, chooses the backup and checks the target against
// it.
func (r *InPlace) CheckRepository(ctx context.Context, plan *Plan) error {
	ns, name := r.Namespace, r.Name
	if r.Repo != nil {
		if n, err := r.Repo(plan.Spec); err != nil {
			return err
		} else if n > 0 {
			r.Options.Repo = n
		}
	}
	if err := plan.Spec.CheckRepoIndex(r.Options.Repo); err != nil {
		return err
	}
	pod, err := kube.FindRunningPod(ctx, r.Client, ns, cluster.PGBackRestPodSelector(name))
	baseArgs := []string{"--stanza=" + repo.StanzaName, "--log-level-console=off"}
	var historyRepos []int // all
	if n := r.Options.Repo; n > 0 {
		historyRepos = []int{n}
		if plan.Spec.StorageType[n-1].ObjectStore() {
			// An object store (S3, GCS, Azure) is read from the database
			// pod, without its repository host: the restore works while that host is gone.
			r.objectStoreOnly = objectStoreOnlyArgs(plan.Spec)
			baseArgs = append(baseArgs, r.objectStoreOnly...)
			pod, err = kube.FindRunningPod(ctx, r.Client, ns, cluster.PrimaryPodSelector(name))
		}
	}
	if r.RepoPod != nil {
		pod, err = r.RepoPod, nil
	}
	if err != nil {
		return fmt.Errorf("%s of cluster %q %s, and the restore reads the repository through it: %w", pgbackrestPodName, name, kube.NotRunning(err), err)
	}
	// A restore to the latest point also lists the archive's WAL, for a
	// gap that would end its recovery early.
	infoCommand, acknowledged, listWAL := repo.InfoCommand, "", false
	if r.toLatest() {
		if acknowledged, listWAL = r.acknowledgedWAL(ctx); listWAL {
			infoCommand = repo.InfoWithWALCommand
		}
	}
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	stdout, _, err := r.Exec(execCtx, pod.Namespace, pod.Name, "pgbackrest", infoCommand(baseArgs, r.Options.Repo, historyRepos))
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
	backups := stanza.Backups(r.Options.Repo)
	if len(backups) == 0 {
		return fmt.Errorf("cluster %q has no backups to restore from: take one first (kubectl pgo backup %s -n %s --wait)", name, name, ns)
	}
	if r.Options.Set != "" {
		if _, ok := findBackup(backups, r.Options.Set); !ok {
			if b, found := stanza.FindBackup(r.Options.Set); found && b.Error {
				return fmt.Errorf("backup %s of cluster %q has errors (pgBackRest found bad checksums in it): choose another one with --backup-opts=--set=LABEL", r.Options.Set, name)
			}
			return fmt.Errorf("backup %s does not exist in the repository of cluster %q; its backups are:\n%s", r.Options.Set, name, listBackups(backups))
		}
	}
	timelines, err := info.TimelinesOf(stanza)
	if err != nil {
		return fmt.Errorf("reading the backups of cluster %q: %w", name, err)
	}

	// The backup to restore: pgBackRest's own choice ignores timelines, so
	// the restore names it (--set), chosen on the target timeline's
	// history.
	sel, err := r.selectBackup(plan, backups, timelines)
	if err != nil {
		return err
	}
	if err := r.checkMajor(plan, stanza, sel.Backup); err != nil {
		return err
	}
	plan.OnLatest = sel.Timeline == sel.Timelines.Latest()
	plan.ArchiveFirst = r.databaseRunning(ctx)
	if listWAL {
		if err := r.checkWALContinuity(info, stanza, sel, acknowledged); err != nil {
			return err
		}
	}
	if r.Options.Type != repo.RecoveryTime {
		return nil
	}
	if err := r.checkTimeTarget(ctx, pod, baseArgs, stanza, sel); err != nil {
		return fmt.Errorf("cannot restore cluster %q to %s: %w. Nothing was changed", name, repo.FormatTime(r.Target), err)
	}
	return r.checkWindow(ctx, plan, pod, stanza, sel, backups)
}

// checkMajor refuses a backup of another PostgreSQL major than the one
// the restore starts (r.Major, else the cluster's), saying what restores
// it instead.
func (r *InPlace) checkMajor(plan *Plan, stanza repo.Stanza, b repo.Backup) error {
	want := r.Major
	if want == 0 {
		want = plan.Spec.PostgresVersion
	}
	version := ""
	for _, db := range stanza.DB {
		if db.ID == b.Database.ID && (db.RepoKey == b.Database.RepoKey || b.Database.RepoKey == 0) {
			version = db.Version
		}
	}
	if version == "" || version == fmt.Sprint(want) {
		return nil
	}
	return fmt.Errorf("backup %s of cluster %q is of PostgreSQL %s, and the restore starts PostgreSQL %d, which cannot run its data (the cluster was upgraded since, or is of another major). "+
		"Restore it into a new cluster of PostgreSQL %s: kubectl pgo create cluster NEW -n %s --postgres-version=%s --restore-from=%s [--pitr-target=...]; or choose a target after the upgrade. Nothing was changed",
		b.Label, r.Name, version, want, version, r.Namespace, version, r.Name)
}

// checkWindow checks a time target against the recovery window: from the
// end of the backup (the oldest one that reaches the timeline, unless a
// set is chosen) to the time the newest WAL segment of the timeline was
// archived.
func (r *InPlace) checkWindow(ctx context.Context, plan *Plan, pod *corev1.Pod, stanza repo.Stanza, sel repo.Selection, backups []repo.Backup) error {
	from := []repo.Backup{plan.Backup}
	if !r.Options.Given("set") {
		from = sel.Reaching(backups)
	}
	var lastWAL string
	var archived time.Time
	if a, ok := stanza.CurrentArchive(max(plan.Backup.Database.RepoKey, r.Options.Repo)); ok {
		var err error
		lastWAL = a.Max
		if sel.Timeline != sel.Timelines.Latest() {
			lastWAL, err = r.lastSegmentOf(ctx, pod, a, sel.Timeline)
			if err != nil {
				return err
			}
			a.Max = lastWAL
		}
		if lastWAL != "" {
			if archived, err = r.archivedAt(ctx, plan.Spec, pod, a); err != nil {
				return err
			}
		}
	}
	plan.ArchivedBefore = archived
	if plan.ArchiveFirst && plan.OnLatest && r.Now().After(archived) {
		// What the database wrote until now is archived before it stops.
		archived, lastWAL = r.Now(), "the current one of the running database"
	}
	w, err := repo.NewRecoveryWindow(from, lastWAL, archived)
	if err != nil {
		return err
	}
	plan.Window = &w
	if err := w.Check(r.Target); err != nil {
		return fmt.Errorf("cannot restore cluster %q to that point: %w", r.Name, err)
	}
	return nil
}

// selectBackup chooses the backup and the timeline of the restore, and
// writes them into the options: --set always, --target-timeline when one
// was asked for (PostgreSQL's default, latest, is the one chosen
// otherwise).
func (r *InPlace) selectBackup(plan *Plan, backups []repo.Backup, timelines map[int]repo.Timelines) (repo.Selection, error) {
	target := repo.RestoreTarget{Set: r.Options.Set, Timeline: repo.TargetTimeline(r.Options.TargetTimeline)}
	switch r.Options.Type {
	case repo.RecoveryTime:
		target.Time = r.Target
	case repo.RecoveryLSN:
		target.LSN, _ = repo.ParseLSN(r.Options.Target)
	}
	sel, err := repo.SelectBackup(backups, timelines, target)
	if err != nil && !target.Time.IsZero() && target.Set == "" {
		// No backup ended before the time: say where the window starts.
		target.Time = time.Time{}
		if all, err2 := repo.SelectBackup(backups, timelines, target); err2 == nil {
			if w, err3 := repo.NewRecoveryWindow(all.Reaching(backups), "", time.Time{}); err3 == nil {
				if err4 := w.Check(r.Target); err4 != nil {
					return sel, fmt.Errorf("cannot restore cluster %q to that point: %w", r.Name, err4)
				}
			}
		}
	}
	if err != nil {
		return sel, fmt.Errorf("cannot restore cluster %q: %w. Nothing was changed", r.Name, err)
	}
	plan.Backup = sel.Backup
	r.Options.Set = sel.Backup.Label
	if r.Options.TargetTimeline != "" {
		r.Options.TargetTimeline = strconv.FormatUint(uint64(sel.Timeline), 10)
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

// ReplayDescription says how far the recovery goes: "all the archived
// WAL (the latest point)", "the archived WAL up to 2026-11-24 12:00:00+00".
func (r *InPlace) ReplayDescription() string {
	if r.BaseBackup != nil {
		return "the WAL of the base backup, up to its end"
	}
	if r.Options.Type == repo.RecoveryDefault || r.Options.Type == "" {
		return "all the archived WAL (the latest point)"
	}
	return "the archived WAL up to " + r.Options.Describe()
}

// StartCommand is how to start the database by hand.
func (r *InPlace) StartCommand() string {
	return fmt.Sprintf("kubectl scale statefulset %s --replicas=1 -n %s", r.primaryInstance(), r.Namespace)
}
