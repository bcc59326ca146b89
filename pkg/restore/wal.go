package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// walFileName is the name of a WAL segment; its first 8 hex digits are
// the timeline.
var walFileName = regexp.MustCompile(`^[0-9A-F]{24}$`)

// archiveWait is how long a restore waits for the database's current WAL
// segment to be archived before it stops the database: as long as the
// archiver makes progress on the segments before it, up to a limit.
var archiveWait = inspect.DefaultArchiveWait

// commitMarkQuery commits a transaction that has a transaction ID, on a
// primary: its commit record, stamped with the time of the restore, lies
// after every target time in the past. A recovery to a time stops at the
// first commit after it, and fails ("recovery ended before configured
// recovery target was reached") when the archive has none; with this
// record, a target after the last commit of the database still finds one.
const commitMarkQuery = `SELECT pg_current_xact_id() WHERE NOT pg_is_in_recovery()`

// ArchiveCurrentWAL makes a running primary commit a mark (commitMarkQuery),
// switch to a new WAL segment
// and waits until the one it ended is archived, so that the archive holds
// every change committed before the restore: a restore to the latest
// point then loses nothing, and the timeline it leaves behind can be
// restored later up to its last commit. A database that is not running is
// left alone; a segment that is not archived in time is reported, and a
// restore to the latest point is refused (it would lose the changes in
// it), as is a time target past what was archived before.
func (r *InPlace) ArchiveCurrentWAL(ctx context.Context, plan *Plan) error {
	pod := r.primaryPod()
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	// Two -c: two transactions, the mark committed before the switch.
	out, _, err := r.Exec(execCtx, r.Namespace, pod, databaseContainer,
		[]string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", commitMarkQuery, "-c", repo.SwitchWALQuery})
	lines := strings.Fields(out)
	seg := ""
	if len(lines) > 0 {
		seg = lines[len(lines)-1]
	}
	if err != nil || !walFileName.MatchString(seg) {
		// Not running, or in recovery: nothing it writes can be lost.
		return nil
	}
	r.progress("Archiving the database's current WAL (segment %s), so that the repository holds every committed change...", seg)
	waitErr := r.waitArchived(ctx, pod, seg)
	if waitErr == nil {
		return nil
	}
	advice := fmt.Sprintf("see why with kubectl pgo show archive %s -n %s, fix it, and run the restore again. Nothing was changed", r.Name, r.Namespace)
	switch {
	case plan.BaseBackup != nil || !plan.OnLatest:
		// The restore leaves this timeline: what it loses is only what a
		// later restore to a point of it could have reached.
	case r.Options.Type == repo.RecoveryDefault:
		return fmt.Errorf("the database's current %v, so a restore to the latest point would lose the changes in it; %s", waitErr, advice)
	case r.Options.Type == repo.RecoveryTime && r.Target.After(plan.ArchivedBefore):
		// A target after what the archive held relies on this segment.
		return fmt.Errorf("the database's current %v, and the target %s is after what the archive held before (up to %s); %s",
			waitErr, repo.FormatTime(r.Target), repo.FormatTime(plan.ArchivedBefore), advice)
	}
	r.progress("Warning: %v; the restore can reach only what was archived before it.", waitErr)
	return nil
}

// waitArchived waits until the database in pod archived WAL segment seg
// (inspect.WaitArchived, with archiveWait).
func (r *InPlace) waitArchived(ctx context.Context, pod, seg string) error {
	w := archiveWait
	w.Poll = r.PollInterval
	return inspect.WaitArchived(ctx, r.Exec, r.Namespace, pod, seg, w)
}

// databaseRunning tells whether the cluster's database pod runs and is
// ready.
func (r *InPlace) databaseRunning(ctx context.Context) bool {
	pod, err := r.Client.CoreV1().Pods(r.Namespace).Get(ctx, r.primaryPod(), metav1.GetOptions{})
	return err == nil && pod.DeletionTimestamp == nil && kube.IsPodReady(pod)
}

// lastSegmentScript prints the newest WAL segment of timeline prefix $1 in
// archive $2, with the pgbackrest command and options after them.
const lastSegmentScript = `prefix=$1 id=$2; shift 2
dir=$("$@" --output=text --filter="^$prefix" repo-ls "archive/` + repo.StanzaName + `/$id" | sort | tail -n 1) || exit
[ -n "$dir" ] || exit 0
"$@" --output=text --filter="^$prefix[0-9A-F]{16}-" repo-ls "archive/` + repo.StanzaName + `/$id/$dir" | cut -c1-24 | sort | tail -n 1`

// lastSegmentOf returns the newest archived WAL segment of timeline tli in
// archive a, "" when it has none: where a recovery along an older timeline
// can go at most.
func (r *InPlace) lastSegmentOf(ctx context.Context, pod *corev1.Pod, a repo.Archive, tli uint32) (string, error) {
	args := append([]string{"sh", "-c", lastSegmentScript, "sh", fmt.Sprintf("%08X", tli), a.ID,
		"pgbackrest", "--stanza=" + repo.StanzaName, "--log-level-console=off", repoArg(max(a.Database.RepoKey, 1))}, r.objectStoreOnly...)
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	out, stderr, err := r.Exec(execCtx, pod.Namespace, pod.Name, "pgbackrest", args)
	if err != nil {
		return "", fmt.Errorf("cannot tell how far timeline %d was archived: %w %s", tli, err, strings.TrimSpace(stderr))
	}
	seg := strings.TrimSpace(out)
	if seg != "" && !walFileName.MatchString(seg) {
		return "", fmt.Errorf("cannot tell how far timeline %d was archived: repo-ls printed %q", tli, out)
	}
	return seg, nil
}

// stanzaCheckTimeout bounds how long a restore waits for the pgbackrest
// container of a cluster without a repository host to end its
// stanza-create.
var stanzaCheckTimeout = 2 * time.Minute

// waitStanzaChecked waits, after the database of a cluster without a
// repository host has started, until its pgbackrest container has ended
// the stanza-create it runs at every start (cluster.StanzaCheckedFile):
// that holds pgBackRest's backup lock, and a backup started meanwhile
// fails on it. The data is restored either way, so a wait that ends
// without it is only reported.
func (r *InPlace) waitStanzaChecked(ctx context.Context) {
	pod := r.primaryPod()
	check := func(ctx context.Context) (bool, error) {
		return inspect.StanzaChecked(ctx, inspect.Exec(r.Exec), r.Namespace, pod), nil
	}
	if done, _ := check(ctx); done {
		return
	}
	r.progress("Waiting for the pgbackrest container to check the stanza in the repository (it holds pgBackRest's backup lock until then)...")
	if err := kube.WaitFor(ctx, r.PollInterval, stanzaCheckTimeout, check); err != nil {
		r.progress("Warning: the pgbackrest container of pod %s has not ended its stanza-create yet (see kubectl logs %s -c %s -n %s); a backup started before it has fails on pgBackRest's lock.",
			pod, pod, pgbackrestContainer, r.Namespace)
	}
}

// archivedAt returns when the newest WAL segment of archive a was stored
// in the repository, rounded up to the second: the modification time of
// its file on the repository host.
func (r *InPlace) archivedAt(ctx context.Context, spec cluster.Spec, pod *corev1.Pod, a repo.Archive) (time.Time, error) {
	if k := a.Database.RepoKey; k > 0 && k <= len(spec.StorageType) && spec.StorageType[k-1].ObjectStore() {
		return r.archivedAtObjectStore(ctx, pod, a)
	}
	dir, prefix, err := repo.SegmentPath(spec.RepoPath, repo.StanzaName, a, a.Max)
	if err != nil {
		return time.Time{}, err
	}
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	stdout, _, err := r.Exec(execCtx, pod.Namespace, pod.Name, "pgbackrest",
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

// archivedAtObjectStore is archivedAt for an S3 repository, where there is no file
// to stat: pgbackrest repo-ls lists the segment with its time.
func (r *InPlace) archivedAtObjectStore(ctx context.Context, pod *corev1.Pod, a repo.Archive) (time.Time, error) {
	dir, prefix, err := repo.SegmentPath("", repo.StanzaName, a, a.Max)
	if err != nil {
		return time.Time{}, err
	}
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	stdout, _, err := r.Exec(execCtx, pod.Namespace, pod.Name, "pgbackrest", append(append([]string{"pgbackrest", "--stanza=" + repo.StanzaName,
		repoArg(a.Database.RepoKey)}, r.objectStoreOnly...), "--output=json", "--filter=^"+prefix, "repo-ls", strings.TrimPrefix(dir, "/")))
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

// objectStoreOnlyArgs make pgBackRest on the database side leave the repository
// host alone (--reset-repoN-host: its local repositories are not used),
// so that reading an S3 repository does not wait on a host that is gone.
func objectStoreOnlyArgs(spec cluster.Spec) []string {
	var args []string
	for i, t := range spec.StorageType {
		if !t.ObjectStore() {
			args = append(args, fmt.Sprintf("--reset-repo%d-host", i+1))
		}
	}
	return args
}

// repoArg chooses repository n of pgBackRest.
func repoArg(n int) string { return "--repo=" + strconv.Itoa(n) }

// checkTimeTarget checks that a recovery along the selected timeline to
// the time target gives the database as it was then (see
// repo.Timelines.CheckTimeTarget). When a fork on the way names no time
// ("reached consistency", a base-backup restore), the backup history files
// of the timeline live at the target can still prove the target lies
// before the fork: one backup that started after the target and ended
// before the fork is enough.
func (r *InPlace) checkTimeTarget(ctx context.Context, pod *corev1.Pod, baseArgs []string, stanza repo.Stanza, sel repo.Selection) error {
	err := sel.Timelines.CheckTimeTarget(r.Target, sel.Timeline)
	var unknown *repo.UnknownForkError
	if !errors.As(err, &unknown) {
		return err
	}
	key := max(sel.Backup.Database.RepoKey, r.Options.Repo, 1)
	a, ok := stanza.CurrentArchive(key)
	if !ok {
		return err
	}
	args := append([]string{"pgbackrest"}, append(baseArgs, repoArg(key))...)
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	out, stderr, execErr := r.Exec(execCtx, pod.Namespace, pod.Name, "pgbackrest", repo.BackupHistoryCommand(args, a.ID, unknown.Live))
	if execErr != nil {
		return fmt.Errorf("%w (reading the backup history files of timeline %d to tell: %v %s)", err, unknown.Live, execErr, strings.TrimSpace(stderr))
	}
	marks, parseErr := repo.ParseBackupHistories(out)
	if parseErr != nil {
		return fmt.Errorf("%w (%v)", err, parseErr)
	}
	b, ok := unknown.SettledBy(marks)
	if !ok {
		return err
	}
	r.progress("Timeline %d forked off timeline %d at LSN %s (%s); the target %s is in its history: backup %q of timeline %d started after it (%s) and ended before that LSN (%s).",
		unknown.Child, unknown.Live, unknown.Fork, unknown.Reason, repo.FormatTime(r.Target), b.Label, unknown.Live, repo.FormatTime(b.StartTime), b.Stop)
	return nil
}
