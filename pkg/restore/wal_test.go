package restore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// walOptions is a restore of hippo whose database answers the switch with
// switched, and the archived check with archived (one answer a poll, the
// last one repeated).
func walOptions(t *testing.T, typ string, switched string, archived ...string) (*InPlace, *[]string) {
	t.Helper()
	o := &InPlace{Name: "hippo", Namespace: "pgo", PollInterval: time.Millisecond, Progress: io.Discard, Now: time.Now}
	o.Options = repo.RestoreOptions{Type: typ}
	var calls []string
	o.Exec = func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
		q := command[len(command)-1]
		calls = append(calls, pod+"/"+container+": "+q)
		if q == repo.SwitchWALQuery {
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
	if err := o.ArchiveCurrentWAL(context.Background(), &Plan{}); err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 4 || !strings.HasPrefix((*calls)[0], "hippo-0/database: ") {
		t.Errorf("calls = %q", *calls)
	}

	// In recovery (or not running): nothing to wait for.
	o, calls = walOptions(t, repo.RecoveryDefault, "\n", "f")
	if err := o.ArchiveCurrentWAL(context.Background(), &Plan{}); err != nil || len(*calls) != 1 {
		t.Errorf("err %v, calls %q", err, *calls)
	}
}

// A segment that is never archived refuses a restore to the latest point
// and a time target past what was archived; an earlier target goes on.
func TestArchiveCurrentWALNotArchived(t *testing.T) {
	saved := archiveWait
	archiveWait = inspect.ArchiveWait{Stall: 20 * time.Millisecond, Max: time.Second}
	defer func() { archiveWait = saved }()
	before := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

	o, _ := walOptions(t, repo.RecoveryDefault, "000000020000000000000005", "f")
	err := o.ArchiveCurrentWAL(context.Background(), &Plan{ArchivedBefore: before, OnLatest: true})
	if err == nil || !strings.Contains(err.Error(), "a restore to the latest point would lose the changes in it") || !strings.Contains(err.Error(), "kubectl pgo show archive hippo -n pgo") {
		t.Errorf("latest: %v", err)
	}
	o, _ = walOptions(t, repo.RecoveryTime, "000000020000000000000005", "f")
	o.Target = before.Add(time.Minute)
	if err := o.ArchiveCurrentWAL(context.Background(), &Plan{ArchivedBefore: before, OnLatest: true}); err == nil || !strings.Contains(err.Error(), "is after what the archive held before") {
		t.Errorf("time after: %v", err)
	}
	o, _ = walOptions(t, repo.RecoveryTime, "000000020000000000000005", "f")
	o.Target = before.Add(-time.Minute)
	if err := o.ArchiveCurrentWAL(context.Background(), &Plan{ArchivedBefore: before, OnLatest: true}); err != nil {
		t.Errorf("time before: %v", err)
	}
	// A restore to another timeline leaves this one: only a warning.
	o, _ = walOptions(t, repo.RecoveryDefault, "000000020000000000000005", "f")
	if err := o.ArchiveCurrentWAL(context.Background(), &Plan{ArchivedBefore: before}); err != nil {
		t.Errorf("older timeline: %v", err)
	}
}

// Without a repository host, a restore returns once the database pod's
// pgbackrest container has ended its stanza-create (the soak's finding 3:
// a backup right after the restore failed on pgBackRest's lock).
func TestWaitStanzaChecked(t *testing.T) {
	errOut := &bytes.Buffer{}
	o := &InPlace{Name: "hippo", Namespace: "pgo", PollInterval: time.Millisecond, Progress: errOut, Now: time.Now}
	looks := 0
	o.Exec = func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
		if pod != "hippo-0" || container != "pgbackrest" || strings.Join(command, " ") != "test -e /tmp/kubectl-pgo-stanza-checked" {
			t.Errorf("unexpected exec %s/%s %q", pod, container, command)
		}
		looks++
		if looks < 3 {
			return "", "", errors.New("command terminated with exit code 1")
		}
		return "", "", nil
	}
	o.waitStanzaChecked(context.Background())
	if looks != 3 || !strings.Contains(errOut.String(), "Waiting for the pgbackrest container to check the stanza") || strings.Contains(errOut.String(), "Warning") {
		t.Errorf("looks %d, stderr:\n%s", looks, errOut)
	}

	saved := stanzaCheckTimeout
	stanzaCheckTimeout = 10 * time.Millisecond
	defer func() { stanzaCheckTimeout = saved }()
	errOut.Reset()
	looks = -1000
	o.waitStanzaChecked(context.Background())
	if !strings.Contains(errOut.String(), "Warning: the pgbackrest container of pod hippo-0 has not ended its stanza-create yet") {
		t.Errorf("stderr:\n%s", errOut)
	}
}
