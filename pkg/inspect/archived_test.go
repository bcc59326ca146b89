package inspect

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The wait goes on while the archiver moves on through a backlog, longer
// than Stall in all, and stops after Stall without progress.
func TestWaitArchived(t *testing.T) {
	w := ArchiveWait{Poll: time.Millisecond, Stall: 30 * time.Millisecond, Max: 5 * time.Second}
	calls := 0
	backlog := func(_ context.Context, _, _, _ string, _ []string) (string, string, error) {
		calls++
		// A new segment archived every 10 ms, the one waited for after 100 ms.
		if calls*int(w.Poll/time.Millisecond) > 100 {
			return "t|000000010000000000000064\n", "", nil
		}
		return fmt.Sprintf("f|%024X\n", calls/10), "", nil
	}
	if err := WaitArchived(context.Background(), backlog, "pgo", "hippo-0", "000000010000000000000064", w); err != nil {
		t.Errorf("a backlog that moves: %v", err)
	}
	stuck := func(_ context.Context, _, _, _ string, _ []string) (string, string, error) {
		return "f|000000010000000000000003\n", "", nil
	}
	start := time.Now()
	err := WaitArchived(context.Background(), stuck, "pgo", "hippo-0", "000000010000000000000004", w)
	if err == nil || !strings.Contains(err.Error(), "WAL segment 000000010000000000000004 was not archived after") ||
		!strings.Contains(err.Error(), "the archiver archived nothing for 30ms") {
		t.Errorf("a stuck archiver: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("a stuck archiver was waited for %s, not about Stall", time.Since(start))
	}
}
