package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// archiveWALTimeout is how long a restore waits for the database's
// current WAL segment to be archived before it stops the database.
var archiveWALTimeout = time.Minute

// commitMarkQuery commits a transaction that has a transaction ID, on a
// primary: its commit record, stamped with the time of the restore, lies
// after every target time in the past. A recovery to a time stops at the
// first commit after it, and fails ("recovery ended before configured
// recovery target was reached") when the archive has none; with this
// record, a target after the last commit of the database still finds one.
const commitMarkQuery = `SELECT pg_current_xact_id() WHERE NOT pg_is_in_recovery()`

// switchWALQuery ends the current WAL segment of a primary and returns its
// name; a database in recovery returns nothing.
const switchWALQuery = `SELECT CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_switch_wal()) END`

// archivedQuery tells whether segment %[1]s (a checked segment name) is
// archived: its .done status file, or the archiver's last segment at or
// past it.
const archivedQuery = `SELECT (pg_stat_file('pg_wal/archive_status/%[1]s.done', true)).size IS NOT NULL
  OR coalesce(last_archived_wal ~ '^[0-9A-F]{24}$' AND last_archived_wal >= '%[1]s', false) FROM pg_stat_archiver`

// archiveCurrentWAL makes a running primary commit a mark (commitMarkQuery),
// switch to a new WAL segment
// and waits until the one it ended is archived, so that the archive holds
// every change committed before the restore: a restore to the latest
// point then loses nothing, and the timeline it leaves behind can be
// restored later up to its last commit. A database that is not running is
// left alone; a segment that is not archived in time is reported, and a
// restore to the latest point is refused (it would lose the changes in
// it), as is a time target past what was archived before.
func (o *RestoreOptions) archiveCurrentWAL(ctx context.Context, plan *restorePlan) error {
	pod := cluster.PodName(o.Name)
	execCtx, cancel := context.WithTimeout(ctx, restoreExecTimeout)
	defer cancel()
	// Two -c: two transactions, the mark committed before the switch.
	out, _, err := o.exec(execCtx, o.namespace, pod, restoreDatabaseContainer,
		[]string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", commitMarkQuery, "-c", switchWALQuery})
	lines := strings.Fields(out)
	seg := ""
	if len(lines) > 0 {
		seg = lines[len(lines)-1]
	}
	if err != nil || !walFileName.MatchString(seg) {
		// Not running, or in recovery: nothing it writes can be lost.
		return nil
	}
	o.progress("Archiving the database's current WAL (segment %s), so that the repository holds every committed change...", seg)
	err = kube.WaitFor(ctx, o.pollInterval, archiveWALTimeout, func(ctx context.Context) (bool, error) {
		execCtx, cancel := context.WithTimeout(ctx, restoreExecTimeout)
		defer cancel()
		out, _, err := o.exec(execCtx, o.namespace, pod, restoreDatabaseContainer, []string{"psql", "-XAtq", "-c", fmt.Sprintf(archivedQuery, seg)})
		return err == nil && strings.TrimSpace(out) == "t", nil
	})
	if err == nil {
		return nil
	}
	advice := fmt.Sprintf("see why with kubectl pgo show archive %s -n %s, fix it, and run the restore again. Nothing was changed", o.Name, o.namespace)
	switch {
	case plan.baseBackup != nil || !plan.onLatest:
		// The restore leaves this timeline: what it loses is only what a
		// later restore to a point of it could have reached.
	case o.options.Type == repo.RecoveryDefault:
		return fmt.Errorf("the database's current WAL segment %s was not archived within %s, so a restore to the latest point would lose the changes in it; %s",
			seg, archiveWALTimeout, advice)
	case o.options.Type == repo.RecoveryTime && o.target.After(plan.archivedBefore):
		// A target after what the archive held relies on this segment.
		return fmt.Errorf("the database's current WAL segment %s was not archived within %s, and the target %s is after what the archive held before (up to %s); %s",
			seg, archiveWALTimeout, repo.FormatTime(o.target), repo.FormatTime(plan.archivedBefore), advice)
	}
	o.progress("Warning: WAL segment %s was not archived within %s; the restore can reach only what was archived before it.", seg, archiveWALTimeout)
	return nil
}

// databaseRunning tells whether the cluster's database pod runs and is
// ready.
func (o *RestoreOptions) databaseRunning(ctx context.Context) bool {
	pod, err := o.client.CoreV1().Pods(o.namespace).Get(ctx, cluster.PodName(o.Name), metav1.GetOptions{})
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
func (o *RestoreOptions) lastSegmentOf(ctx context.Context, pod *corev1.Pod, a repo.Archive, tli uint32) (string, error) {
	args := append([]string{"sh", "-c", lastSegmentScript, "sh", fmt.Sprintf("%08X", tli), a.ID,
		"pgbackrest", "--stanza=" + repo.StanzaName, "--log-level-console=off", repoArg(max(a.Database.RepoKey, 1))}, o.s3Only...)
	execCtx, cancel := context.WithTimeout(ctx, restoreExecTimeout)
	defer cancel()
	out, stderr, err := o.exec(execCtx, pod.Namespace, pod.Name, "pgbackrest", args)
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
func (o *RestoreOptions) waitStanzaChecked(ctx context.Context) {
	pod := cluster.PodName(o.Name)
	check := func(ctx context.Context) (bool, error) {
		execCtx, cancel := context.WithTimeout(ctx, restoreExecTimeout)
		defer cancel()
		_, _, err := o.exec(execCtx, o.namespace, pod, restorePGBackRestContainer, []string{"test", "-e", cluster.StanzaCheckedFile})
		return err == nil, nil
	}
	if done, _ := check(ctx); done {
		return
	}
	o.progress("Waiting for the pgbackrest container to check the stanza in the repository (it holds pgBackRest's backup lock until then)...")
	if err := kube.WaitFor(ctx, o.pollInterval, stanzaCheckTimeout, check); err != nil {
		o.progress("Warning: the pgbackrest container of pod %s has not ended its stanza-create yet (see kubectl logs %s -c %s -n %s); a backup started before it has fails on pgBackRest's lock.",
			pod, pod, restorePGBackRestContainer, o.namespace)
	}
}
