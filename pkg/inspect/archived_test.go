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
	w := ArchiveWait{Poll: 5 * time.Millisecond, Stall: 200 * time.Millisecond, Max: 10 * time.Second}
	calls, begin := 0, time.Now()
	backlog := func(_ context.Context, _, _, _ string, _ []string) (string, string, error) {
		calls++
		// Another segment archived at every poll; the one waited for after three Stalls.
		if time.Since(begin) > 3*w.Stall {
			return "t|000000010000000000000064\n", "", nil
		}
		return fmt.Sprintf("f|%024X\n", calls), "", nil
	}
	if err := WaitArchived(context.Background(), backlog, "pgo", "hippo-0", "000000010000000000000064", w); err != nil {
		t.Errorf("a backlog that moves: %v", err)
	}
	if waited := time.Since(begin); waited < 3*w.Stall {
		t.Errorf("a backlog that moves was waited for %s, less than the three Stalls it took", waited)
	}
	stuck := func(_ context.Context, _, _, _ string, _ []string) (string, string, error) {
		return "f|000000010000000000000003\n", "", nil
	}
	start := time.Now()
	err := WaitArchived(context.Background(), stuck, "pgo", "hippo-0", "000000010000000000000004", w)
	if err == nil || !strings.Contains(err.Error(), "WAL segment 000000010000000000000004 was not archived after") ||
		!strings.Contains(err.Error(), "the archiver archived nothing for 200ms") {
		t.Errorf("a stuck archiver: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a stuck archiver was waited for %s, not about Stall", time.Since(start))
	}
}
