package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestTimelineRestoreSequence is issue 16's "done when": a point-in-time restore, then a restore
// to the latest point (the newest backup, an incremental one taken after the fork, cannot reach
// the new timeline), then a point-in-time restore on the new timeline, then a new cluster
// restored from it and a restore drill, each with the table's exact checksum; bad timelines and
// backups refused with nothing changed; and a time on the abandoned timeline restored with
// --target-timeline; then a base-backup restore, whose fork names no time, and a restore to a time
// before that base backup.
func TestTimelineRestoreSequence(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := &restoreCluster{env: env, ns: ns, name: "d1"}
	if res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 20000) g")

	// mark commits the statements and returns the time after the commit and the checksum; the
	// next commit comes more than a second later.
	n := 0
	mark := func(t *testing.T, wantTL int) (string, string) {
		t.Helper()
		n++
		lo := 20000 + n*1000
		at, tl, sum := c.pointNow(t, fmt.Sprintf("BEGIN; INSERT INTO chain SELECT g, 'n%[1]d-' || g FROM generate_series(%[2]d, %[3]d) g;"+
			" UPDATE chain SET v = 'u%[1]d' WHERE id %% %[4]d = 0; DELETE FROM chain WHERE id %% %[5]d = %[1]d; COMMIT; %[6]s",
			n, lo, lo+499, 7+n, 97+n, chainPointSQL))
		if tl != wantTL {
			t.Errorf("change %d was written on timeline %d, want %d", n, tl, wantTL)
		}
		t.Logf("change %d on timeline %d at %s: %s", n, tl, at, sum)
		time.Sleep(1100 * time.Millisecond)
		return at, sum
	}
	// restored checks the table and the timeline after a restore.
	restored := func(t *testing.T, cl *restoreCluster, what, wantSum string, wantTL int) {
		t.Helper()
		if got := cl.one(t, chainChecksumSQL); got != wantSum {
			t.Errorf("after %s: checksum %s, want %s", what, got, wantSum)
		}
		if got := mustAtoi(t, cl.one(t, timelineSQL)); got != wantTL {
			t.Errorf("after %s: timeline %d, want %d", what, got, wantTL)
		}
		if got := cl.one(t, "SELECT pg_is_in_recovery()"); got != "f" {
			t.Errorf("after %s: pg_is_in_recovery() = %s", what, got)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	backup := func(t *testing.T, typ string) string {
		t.Helper()
		res := env.PGO(t, "backup", c.name, "-n", ns, "--type="+typ, "--wait")
		m := bkLabelLine.FindStringSubmatch(res.Stdout)
		if res.ExitCode != 0 || m == nil || m[2] != typ {
			t.Fatalf("backup --type=%s:\n%s", typ, res)
		}
		time.Sleep(1100 * time.Millisecond)
		return m[1]
	}
	// reaches checks show backup's word on whether each backup reaches the current timeline.
	reaches := func(t *testing.T, want map[string]bool) {
		t.Helper()
		s := c.showBackups(t)
		for _, b := range s.Repository.Backups {
			if w, ok := want[b.Label]; ok {
				delete(want, b.Label)
				if b.ReachesCurrentTimeline == nil || *b.ReachesCurrentTimeline != w {
					t.Errorf("show backup: %s has reachesCurrentTimeline %v, want %v", b.Label, deref(b.ReachesCurrentTimeline), w)
				}
			}
		}
		for label := range want {
			t.Errorf("show backup lacks %s", label)
		}
	}

	full := backup(t, "full")
	mark(t, 1)
	t2, sum2 := mark(t, 1)
	// On timeline 1 after T2, where timeline 2 will fork off: restored later with its timeline.
	tA, sumA := mark(t, 1)
	mark(t, 1)
	incr := backup(t, "incr")

	c.restore(t, "--pitr-target="+t2)
	restored(t, c, "the restore to T2", sum2, 2)
	reaches(t, map[string]bool{full: true, incr: false})

	// The restore to the latest point right after: pgBackRest's own choice, the incremental
	// backup, would stop PostgreSQL. A change not archived yet is not lost.
	_, sum2b := mark(t, 2)
	c.restore(t)
	restored(t, c, "the restore to the latest point", sum2b, 3)

	mark(t, 3)
	t3, sum3 := mark(t, 3)
	mark(t, 3)
	c.restore(t, "--pitr-target="+t3)
	restored(t, c, "the restore to T3", sum3, 4)

	_, sum4 := mark(t, 4)
	c.switchAndArchive(t)
	t.Run("restore-from", func(t *testing.T) {
		d2 := &restoreCluster{env: env, ns: ns, name: "d2"}
		if res := env.PGO(t, "create", "cluster", d2.name, "-n", ns, "--restore-from="+c.name, "--wait", "--timeout=10m"); res.ExitCode != 0 {
			t.Fatalf("create cluster --restore-from=%s:\n%s", c.name, res)
		}
		restored(t, d2, "create cluster --restore-from", sum4, 5)
		if res := env.PGO(t, "delete", "cluster", d2.name, "-n", ns, "--yes"); res.ExitCode != 0 {
			t.Errorf("delete cluster %s:\n%s", d2.name, res)
		}
		waitGone(t, env, ns, d2.name+"-0")
	})
	t.Run("restore-drill", func(t *testing.T) {
		res := env.PGO(t, "restore-drill", c.name, "-n", ns, "--check-sql="+chainChecksumSQL, "-o", "json")
		var rep cmd.DrillReport
		if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil || res.ExitCode != 0 || !rep.Passed || !rep.Removed {
			t.Fatalf("restore-drill (%v):\n%s", err, res)
		}
		if !strings.Contains(rep.SQLOutput, sum4) {
			t.Errorf("restore-drill: the check printed %q, want the checksum %s", rep.SQLOutput, sum4)
		}
	})

	t.Run("refused", func(t *testing.T) {
		snap := newSnapshotter(t, env, ns)
		restore := []string{"restore", c.name, "-n", ns, "--yes"}
		for _, tc := range []struct {
			name string
			args []string
			want []string
		}{
			{"a timeline that does not exist", []string{"--target-timeline=99"}, []string{"timeline 99 does not exist"}},
			{"a timeline that is not a number", []string{"--target-timeline=two"}, []string{`"two" is not a timeline`}},
			{"a backup off the current history", []string{"--backup-opts=--set=" + incr}, []string{incr, "cannot be restored to timeline 4", full}},
			{"a time on the abandoned timeline", []string{"--pitr-target=" + tA}, []string{"--target-timeline=1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c.refusedUnchanged(t, snap, append(restore, tc.args...), tc.want...)
			})
		}
	})

	c.restore(t, "--pitr-target="+tA, "--target-timeline=1")
	restored(t, c, "the restore to a time on the abandoned timeline 1", sumA, 5)
	reaches(t, map[string]bool{full: true, incr: false})
	c.restore(t)
	restored(t, c, "the restore to the latest point after it", sumA, 6)

	// A base-backup restore forks at "reached consistency", which names no time. The backup
	// history file of the base backup (it started after T6) shows that T6 is in the new
	// timeline's history: the restore to T6 needs no --target-timeline.
	t6, sum6 := mark(t, 6)
	res := env.PGO(t, "backup", c.name, "-n", ns, "--backup-type=pgbasebackup", "--wait", "-o", "json")
	var base cmd.PGDumpResult
	if err := json.Unmarshal([]byte(res.Stdout), &base); err != nil || base.Name == "" {
		t.Fatalf("backup --backup-type=pgbasebackup -o json (%v):\n%s", err, res)
	}
	mark(t, 6)
	c.restoreBase(t, "--backup-name="+base.Name)
	restored(t, c, "the restore of the base backup", sum6, 7)
	mark(t, 7)
	res, _ = c.restore(t, "--pitr-target="+t6)
	if !strings.Contains(res.Stdout+res.Stderr, "reached consistency") {
		t.Errorf("the restore to T6 across a fork that names no time does not say how it was told:\n%s", res)
	}
	restored(t, c, "the restore to T6, before the base backup", sum6, 8)
}
