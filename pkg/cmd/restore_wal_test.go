package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// walOptions is a restore of hippo whose database answers the switch with
// switched, and the archived check with archived (one answer a poll, the
// last one repeated).
func walOptions(t *testing.T, typ string, switched string, archived ...string) (*RestoreOptions, *[]string) {
	t.Helper()
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	o := NewRestoreOptions(streams)
	o.Name, o.namespace, o.pollInterval = "hippo", "pgo", time.Millisecond
	o.options = repo.RestoreOptions{Type: typ}
	var calls []string
	o.exec = func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
		q := command[len(command)-1]
		calls = append(calls, pod+"/"+container+": "+q)
		if q == switchWALQuery {
			if strings.Join(command[:len(command)-2], " ") != "psql -XAtq -v ON_ERROR_STOP=1 -c "+commitMarkQuery {
				t.Errorf("the switch does not commit the mark first: %q", command)
			}
			return switched, "", nil
		}
		if !strings.Contains(q, "pg_stat_archiver") || !strings.Contains(q, "'000000020000000000000005'") {
			t.Errorf("unexpected command %q", command)
		}
		a := archived[0]
		if len(archived) > 1 {
			archived = archived[1:]
		}
		return a, "", nil
	}
	return o, &calls
}

func TestArchiveCurrentWAL(t *testing.T) {
	// Archived at the third look.
	o, calls := walOptions(t, repo.RecoveryDefault, "1234\n000000020000000000000005\n", "f", "f", "t")
	if err := o.archiveCurrentWAL(context.Background(), &restorePlan{}); err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 4 || !strings.HasPrefix((*calls)[0], "hippo-0/database: ") {
		t.Errorf("calls = %q", *calls)
	}

	// In recovery (or not running): nothing to wait for.
	o, calls = walOptions(t, repo.RecoveryDefault, "\n", "f")
	if err := o.archiveCurrentWAL(context.Background(), &restorePlan{}); err != nil || len(*calls) != 1 {
		t.Errorf("err %v, calls %q", err, *calls)
	}
}

// A segment that is never archived refuses a restore to the latest point
// and a time target past what was archived; an earlier target goes on.
func TestArchiveCurrentWALNotArchived(t *testing.T) {
	saved := archiveWALTimeout
	archiveWALTimeout = 20 * time.Millisecond
	defer func() { archiveWALTimeout = saved }()
	before := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

	o, _ := walOptions(t, repo.RecoveryDefault, "000000020000000000000005", "f")
	err := o.archiveCurrentWAL(context.Background(), &restorePlan{archivedBefore: before})
	if err == nil || !strings.Contains(err.Error(), "a restore to the latest point would lose the changes in it") || !strings.Contains(err.Error(), "kubectl pgo show archive hippo -n pgo") {
		t.Errorf("latest: %v", err)
	}
	o, _ = walOptions(t, repo.RecoveryTime, "000000020000000000000005", "f")
	o.target = before.Add(time.Minute)
	if err := o.archiveCurrentWAL(context.Background(), &restorePlan{archivedBefore: before}); err == nil || !strings.Contains(err.Error(), "is after what the archive held before") {
		t.Errorf("time after: %v", err)
	}
	o, _ = walOptions(t, repo.RecoveryTime, "000000020000000000000005", "f")
	o.target = before.Add(-time.Minute)
	if err := o.archiveCurrentWAL(context.Background(), &restorePlan{archivedBefore: before}); err != nil {
		t.Errorf("time before: %v", err)
	}
}
