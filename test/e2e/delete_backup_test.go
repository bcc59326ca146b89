package e2e

import (
	"slices"
	"strings"
	"testing"
)

// delete backup on a real repository: a full backup A with an incremental
// backup on it, and a second full backup B. Deleting A takes its
// incremental with it and leaves B; B, then the only full backup, cannot
// be deleted.
func TestDeleteBackup(t *testing.T) {
	t.Parallel()
	c := newBkCluster(t)
	env := c.env
	fullA, _ := c.backupWait(t, "full")
	incrA, _ := c.backupWait(t, "incr")
	fullB, _ := c.backupWait(t, "full")
	if !strings.HasPrefix(incrA, fullA+"_") {
		t.Fatalf("incremental backup %s is not based on full backup %s", incrA, fullA)
	}
	c.waitJobsFinished(t)

	labels := func(t *testing.T) []string {
		t.Helper()
		var out []string
		for _, b := range c.shownBackups(t) {
			out = append(out, b.Label)
		}
		return out
	}
	all := []string{fullA, incrA, fullB}
	if got := labels(t); !slices.Equal(got, all) {
		t.Fatalf("backups before: %q, want %q", got, all)
	}

	t.Run("completion of --target", func(t *testing.T) {
		got, directive := complete(t, env, "delete", "backup", c.name, "-n", c.ns, "--target", "")
		if !slices.Equal(got, all) || directive != ":4" {
			t.Errorf("__complete delete backup %s --target \"\": got %q %s, want %q :4", c.name, got, directive, all)
		}
	})

	t.Run("malformed label", func(t *testing.T) {
		res := c.pgo(t, "delete", "backup", c.name, "--target=yesterday", "--yes")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `invalid --target "yesterday"`) {
			t.Errorf("a malformed --target was not refused clearly:\n%s", res)
		}
	})

	t.Run("unknown label", func(t *testing.T) {
		res := c.pgo(t, "delete", "backup", c.name, "--target=20200101-000000F", "--yes")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `backup "20200101-000000F" not found`) {
			t.Fatalf("an unknown --target was not refused:\n%s", res)
		}
		for _, l := range all {
			if !strings.Contains(res.Stderr, l) {
				t.Errorf("the error does not list backup %s:\n%s", l, res.Stderr)
			}
		}
		if got := labels(t); !slices.Equal(got, all) {
			t.Errorf("backups after a refusal: %q, want %q", got, all)
		}
	})

	t.Run("no terminal without --yes", func(t *testing.T) {
		res := c.pgo(t, "delete", "backup", c.name, "--target="+fullA)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "not a terminal") || !strings.Contains(res.Stderr, "--yes") {
			t.Errorf("delete backup without a terminal nor --yes was not refused:\n%s", res)
		}
		if got := labels(t); !slices.Equal(got, all) {
			t.Errorf("backups after a refusal: %q, want %q", got, all)
		}
	})

	t.Run("full backup and its dependent", func(t *testing.T) {
		res := c.pgo(t, "delete", "backup", c.name, "--target="+fullA, "--yes")
		if res.ExitCode != 0 {
			t.Fatalf("delete backup --yes failed:\n%s", res)
		}
		for _, want := range []string{
			"backup " + fullA + " (full) deleted",
			"backup " + incrA + " (incr, depended on " + fullA + ") deleted",
			"cluster hippo has 1 backup(s) left: " + fullB,
		} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("delete backup output lacks %q:\n%s", want, res)
			}
		}
		if !strings.Contains(res.Stderr, "Warning: backup "+fullA+" is not due to expire") {
			t.Errorf("no retention warning:\n%s", res.Stderr)
		}
		if got := labels(t); !slices.Equal(got, []string{fullB}) {
			t.Errorf("backups after deleting %s: %q, want [%s]", fullA, got, fullB)
		}
	})

	t.Run("only full backup", func(t *testing.T) {
		res := c.pgo(t, "delete", "backup", c.name, "--target="+fullB, "--yes")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "only full backup") {
			t.Errorf("deleting the only full backup was not refused:\n%s", res)
		}
		if got := labels(t); !slices.Equal(got, []string{fullB}) {
			t.Errorf("backups after a refusal: %q, want [%s]", got, fullB)
		}
	})
}
