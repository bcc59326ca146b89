package inspect

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// ArchiveWait is how long WaitArchived waits: Stall without any progress
// of the archiver, Max in all.
type ArchiveWait struct {
	Poll, Stall, Max time.Duration
}

// DefaultArchiveWait gives up after a minute in which the archiver
// archived nothing, or after ten minutes: a busy database may have a
// backlog of segments to archive before the one waited for, each of which
// is progress.
var DefaultArchiveWait = ArchiveWait{Poll: time.Second, Stall: time.Minute, Max: 10 * time.Minute}

// WaitArchived waits until WAL segment seg of the primary pod is archived.
// It waits as long as the archiver makes progress (its last archived
// segment moves); the error says how long it waited and why it stopped.
func WaitArchived(ctx context.Context, exec Exec, ns, pod, seg string, w ArchiveWait) error {
	start, lastChange, last := time.Now(), time.Now(), ""
	err := kube.WaitFor(ctx, w.Poll, w.Max, func(ctx context.Context) (bool, error) {
		execCtx, cancel := context.WithTimeout(ctx, ExecTimeout)
		defer cancel()
		out, _, err := exec(execCtx, ns, pod, databaseContainer, PSQLCommand("postgres", repo.ArchiveProgressQuery(seg)))
		fields := strings.SplitN(strings.TrimSpace(out), "|", 2)
		if err == nil && fields[0] == "t" {
			return true, nil
		}
		if err == nil && len(fields) == 2 && fields[1] != last {
			last, lastChange = fields[1], time.Now()
		}
		if time.Since(lastChange) > w.Stall {
			return false, fmt.Errorf("the archiver archived nothing for %s", w.Stall)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("WAL segment %s was not archived after %s: %w", seg, time.Since(start).Round(time.Second), err)
	}
	return nil
}
