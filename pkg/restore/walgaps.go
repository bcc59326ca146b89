// A restore to the latest point across WAL missing from the archive.

package restore

import (
	"context"
	"fmt"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// toLatest tells whether the restore replays every archived WAL segment
// (no target): the recovery that a gap in the archive ends silently.
func (r *InPlace) toLatest() bool {
	return r.Options.Type == "" || r.Options.Type == repo.RecoveryDefault
}

// acknowledgedWAL is the last segment the running database saw archived
// (pg_stat_archiver), read before the archive is listed: the missing
// segments past it may still be on their way (repo.InfoOutput.WALGaps).
// known is false when the database runs but could not be asked: then no
// gap can be told from WAL in flight.
func (r *InPlace) acknowledgedWAL(ctx context.Context) (segment string, known bool) {
	if !r.databaseRunning(ctx) {
		return "", true // nothing is in flight
	}
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	out, _, err := r.Exec(execCtx, r.Namespace, r.primaryPod(), databaseContainer, repo.ArchiverCommand())
	if err != nil {
		return "", false
	}
	a, err := repo.ParseArchiverStatus(out)
	if err != nil {
		return "", false
	}
	return a.LastArchivedWAL, true
}

// checkWALContinuity refuses a restore to the latest point from a backup
// that WAL missing from the archive follows on the way to the target
// timeline's end: PostgreSQL would replay up to the gap, end the recovery
// there without an error, and every commit after it would be gone.
func (r *InPlace) checkWALContinuity(info repo.InfoOutput, stanza repo.Stanza, sel repo.Selection, acknowledged string) error {
	key := max(sel.Backup.Database.RepoKey, 1)
	for _, g := range info.WALGaps(stanza, acknowledged) {
		if g.Repo != key || !sel.Timelines.Blocks(g, sel.Backup, sel.Timeline) {
			continue
		}
		return fmt.Errorf("cannot restore cluster %q to its latest point from backup %s: %s, dropped (the archive-push queue was full) or lost, "+
			"so the recovery would stop at %s without an error and every commit after it would be lost. "+
			"Restore to a time before the gap with --pitr-target, or take a backup now (kubectl pgo backup %s -n %s --wait), from which recovery starts again. Nothing was changed",
			r.Name, sel.Backup.Label, g, g.Before, r.Name, r.Namespace)
	}
	return nil
}
