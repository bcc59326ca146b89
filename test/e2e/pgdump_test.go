package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestPgdump: two dumps of a database with rows, both listed; restoring the older one gives the
// older rows, the latest one the newer; a pg_dumpall restored into the emptied cluster; bad input
// changes nothing.
func TestPgdump(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	c := &restoreCluster{env: env, ns: env.Namespace(t), name: "hippo"}
	start := time.Now()
	if res := env.PGO(t, "create", "cluster", c.name, "-n", c.ns, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	t.Logf("create cluster took %s", time.Since(start).Round(100*time.Millisecond))
	pgo := func(t *testing.T, args ...string) framework.Result {
		t.Helper()
		return env.PGO(t, append(args, "-n", c.ns)...)
	}
	dump := func(t *testing.T, args ...string) cmd.PGDumpResult {
		t.Helper()
		start := time.Now()
		res := pgo(t, append([]string{"backup", c.name, "--backup-type=pgdump", "--wait", "-o", "json"}, args...)...)
		if res.ExitCode != 0 {
			t.Fatalf("pgdump backup failed:\n%s", res)
		}
		var r cmd.PGDumpResult
		if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
			t.Fatalf("backup -o json: %v\n%s", err, res.Stdout)
		}
		if r.Status != "Succeeded" || r.Size == nil || *r.Size == 0 {
			t.Errorf("dump result = %+v, want Succeeded with a size", r)
		}
		if !strings.Contains(res.Stderr, "pg_dump") {
			t.Errorf("--wait does not show pg_dump's progress on stderr:\n%s", res.Stderr)
		}
		t.Logf("dump %s (%s) took %s", r.Name, r.Path, time.Since(start).Round(100*time.Millisecond))
		// Dumps are named by the second.
		time.Sleep(1100 * time.Millisecond)
		return r
	}
	show := func(t *testing.T) cmd.PGDumpList {
		t.Helper()
		res := pgo(t, "show", "backup", c.name, "--backup-type=pgdump", "-o", "json")
		if res.ExitCode != 0 {
			t.Fatalf("show backup failed:\n%s", res)
		}
		var l cmd.PGDumpList
		if err := json.Unmarshal([]byte(res.Stdout), &l); err != nil {
			t.Fatalf("show backup -o json: %v\n%s", err, res.Stdout)
		}
		return l
	}
	restore := func(t *testing.T, args ...string) {
		t.Helper()
		start := time.Now()
		res := pgo(t, append([]string{"restore", c.name, "--backup-type=pgdump", "--yes"}, args...)...)
		if res.ExitCode != 0 {
			t.Fatalf("restore failed:\n%s", res)
		}
		t.Logf("restore %v took %s: %s", args, time.Since(start).Round(100*time.Millisecond), res.Stdout)
	}
	jobCount := func(t *testing.T) int {
		t.Helper()
		l, err := env.Client.BatchV1().Jobs(c.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}

	c.sql(t, "CREATE TABLE t (v text); INSERT INTO t VALUES ('A')")
	first := dump(t)
	c.sql(t, "INSERT INTO t VALUES ('B')")
	second := dump(t)

	l := show(t)
	if len(l.Dumps) != 2 || l.Dumps[0].Name != first.Name || l.Dumps[1].Name != second.Name {
		t.Fatalf("show backup lists %+v, want %s and %s", l.Dumps, first.Name, second.Name)
	}
	for _, d := range l.Dumps {
		if d.JobStatus != jobs.StateSucceeded || d.Size == nil || d.Database != "postgres" || d.PVC != "backup-hippo-pgdump-pvc" ||
			!strings.HasPrefix(d.Path, "/pgdump/hippo-backups/") {
			t.Errorf("dump %+v", d)
		}
	}
	if res := pgo(t, "show", "backup", c.name, "--backup-type=pgdump"); res.ExitCode != 0 || !strings.Contains(res.Stdout, first.Name) {
		t.Errorf("show backup table:\n%s", res)
	}

	t.Run("bad input", func(t *testing.T) {
		before := jobCount(t)
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"database that does not exist", []string{"backup", c.name, "--backup-type=pgdump", "--database=nope"}, `database "nope" does not exist`},
			{"forbidden option", []string{"backup", c.name, "--backup-type=pgdump", "--backup-opts=--file=/tmp/x"}, "--file is managed by kubectl-pgo"},
			{"dump-all with database", []string{"backup", c.name, "--backup-type=pgdump", "--dump-all", "--database=postgres"}, "cannot be combined with --database"},
			{"unknown dump", []string{"restore", c.name, "--backup-type=pgdump", "--backup-name=2020-01-01-00-00-00", "--yes"}, "dump 2020-01-01-00-00-00 does not exist"},
			{"PVC that does not exist", []string{"restore", c.name, "--backup-type=pgdump", "--backup-pvc=nope", "--yes"}, "PVC nope does not exist"},
			{"restore into a database that does not exist", []string{"restore", c.name, "--backup-type=pgdump", "--pgdump-database=nope", "--yes"}, `database "nope" does not exist`},
			{"forbidden restore option", []string{"restore", c.name, "--backup-type=pgdump", "--backup-opts=--host=x", "--yes"}, "--host is managed by kubectl-pgo"},
		}
		for _, tt := range tests {
			res := pgo(t, tt.args...)
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, tt.want) {
				t.Errorf("%s: want a failure with %q:\n%s", tt.name, tt.want, res)
			}
		}
		if after := jobCount(t); after != before {
			t.Errorf("bad input created Jobs: %d before, %d after", before, after)
		}
		if got := c.rows(t, "t"); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("rows after bad input = %q", got)
		}
	})

	c.sql(t, "DROP TABLE t; CREATE TABLE other (v text); INSERT INTO other VALUES ('C')")
	restore(t, "--backup-name="+first.Name)
	if got := c.rows(t, "t"); !slices.Equal(got, []string{"A"}) {
		t.Errorf("after restoring the first dump, rows = %q, want [A]", got)
	}
	restore(t)
	if got := c.rows(t, "t"); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("after restoring the latest dump, rows = %q, want [A B]", got)
	}
	restore(t, "--pitr-target="+first.Name)
	if got := c.rows(t, "t"); !slices.Equal(got, []string{"A"}) {
		t.Errorf("after restoring with --pitr-target at the first dump, rows = %q, want [A]", got)
	}

	var all cmd.PGDumpResult
	t.Run("dump-all into the emptied cluster", func(t *testing.T) {
		c.sql(t, "CREATE DATABASE app")
		c.sql(t, "CREATE ROLE alice")
		all = dump(t, "--dump-all")
		if !strings.HasSuffix(all.Path, "/all.sql") || all.Database != "all" {
			t.Errorf("dump-all result %+v", all)
		}
		// The cluster emptied: the dump's database, role and tables are gone.
		c.sql(t, "DROP DATABASE app")
		c.sql(t, "DROP TABLE t; DROP TABLE other; DROP ROLE alice")
		restore(t, "--backup-name="+all.Name)
		if got := c.one(t, "SELECT count(*) FROM pg_database WHERE datname = 'app'"); got != "1" {
			t.Errorf("database app not restored")
		}
		if got := c.one(t, "SELECT count(*) FROM pg_roles WHERE rolname = 'alice'"); got != "1" {
			t.Errorf("role alice not restored")
		}
		if got := c.rows(t, "t"); !slices.Equal(got, []string{"A"}) {
			t.Errorf("after restoring the dump-all, rows = %q, want [A]", got)
		}
	})

	// PGO v4's way: the other cluster's dump PVC, with --backup-pvc.
	t.Run("dump-all into an empty second cluster", func(t *testing.T) {
		if all.Name == "" {
			t.Skip("no dump-all was made")
		}
		other := &restoreCluster{env: env, ns: c.ns, name: "rhino"}
		if res := pgo(t, "create", "cluster", other.name, "--wait", "--timeout=5m"); res.ExitCode != 0 {
			t.Fatalf("create cluster failed:\n%s", res)
		}
		if got := other.one(t, "SELECT count(*) FROM pg_database WHERE datname = 'app'"); got != "0" {
			t.Fatalf("the new cluster is not empty")
		}
		before := jobCount(t)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--backup-pvc=backup-hippo-pgdump-pvc", "--backup-name=2020-01-01-00-00-00"}, "dump 2020-01-01-00-00-00 does not exist on PVC backup-hippo-pgdump-pvc"},
			{[]string{"--backup-pvc=backup-nope-pgdump-pvc"}, "PVC backup-nope-pgdump-pvc does not exist"},
			// Its own PVC does not exist yet: it has no dumps.
			{nil, "PVC backup-rhino-pgdump-pvc does not exist"},
		} {
			res := pgo(t, append([]string{"restore", other.name, "--backup-type=pgdump", "--yes"}, tc.args...)...)
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
				t.Errorf("%v: want a failure with %q:\n%s", tc.args, tc.want, res)
			}
		}
		if after := jobCount(t); after != before {
			t.Errorf("bad input created Jobs: %d before, %d after", before, after)
		}
		res := pgo(t, "restore", other.name, "--backup-type=pgdump", "--backup-pvc=backup-hippo-pgdump-pvc", "--backup-name="+all.Name, "--yes")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "of cluster hippo restored into database postgres of cluster rhino") {
			t.Fatalf("restore of hippo's dump-all into rhino:\n%s", res)
		}
		if got := other.rows(t, "t"); !slices.Equal(got, []string{"A"}) {
			t.Errorf("rhino's rows = %q, want [A]", got)
		}
		if got := other.one(t, "SELECT count(*) FROM pg_database WHERE datname = 'app'"); got != "1" {
			t.Errorf("database app not restored into rhino")
		}
		if got := other.one(t, "SELECT count(*) FROM pg_roles WHERE rolname = 'alice'"); got != "1" {
			t.Errorf("role alice not restored into rhino")
		}
		// rhino's superuser kept its own password: kubectl-pgo still logs in with rhino's Secret.
		if res := pgo(t, "backup", other.name, "--backup-type=pgdump", "--wait"); res.ExitCode != 0 {
			t.Fatalf("a dump of rhino after the restore failed:\n%s", res)
		}

		// Both clusters' dumps: -A lists every namespace, --selector narrows them down.
		res = env.PGO(t, "show", "backup", "-A", "--backup-type=pgdump", "-o", "json")
		var lists cmd.PGDumpLists
		if err := json.Unmarshal([]byte(res.Stdout), &lists); err != nil || res.ExitCode != 0 {
			t.Fatalf("show backup -A: %v\n%s", err, res)
		}
		counts := map[string]int{}
		for _, l := range lists.Items {
			if l.Namespace == c.ns {
				counts[l.Cluster] = len(l.Dumps)
				for _, d := range l.Dumps {
					if d.Cluster != l.Cluster || d.Namespace != c.ns {
						t.Errorf("dump %+v listed under %s/%s", d, l.Namespace, l.Cluster)
					}
				}
			}
		}
		if counts["hippo"] != 3 || counts["rhino"] != 1 {
			t.Errorf("show backup -A lists %v dumps in namespace %s, want hippo 3 and rhino 1", counts, c.ns)
		}
		res = pgo(t, "show", "backup", "--selector=pg-cluster=rhino", "--backup-type=pgdump", "-o", "json")
		lists = cmd.PGDumpLists{}
		if err := json.Unmarshal([]byte(res.Stdout), &lists); err != nil || res.ExitCode != 0 {
			t.Fatalf("show backup --selector: %v\n%s", err, res)
		}
		if len(lists.Items) != 1 || lists.Items[0].Cluster != "rhino" || len(lists.Items[0].Dumps) != 1 {
			t.Errorf("show backup --selector=pg-cluster=rhino lists %+v", lists.Items)
		}
		res = env.PGO(t, "show", "backup", "-A", "--backup-type=pgdump")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "NAMESPACE") ||
			!regexp.MustCompile(`(?m)^`+c.ns+`\s+hippo\s+`+all.Name).MatchString(res.Stdout) ||
			!regexp.MustCompile(`(?m)^`+c.ns+`\s+rhino\s+`).MatchString(res.Stdout) {
			t.Errorf("show backup -A table:\n%s", res)
		}
	})
}

// TestPgbasebackup: two base backups with pg_basebackup, both listed; restoring the first in
// place gives exactly its rows (rows inserted later gone, rows deleted later back), on a new
// timeline that accepts writes and archives: pgbackrest check and a pgBackRest backup still
// succeed; restoring the latest then gives its rows. Bad input and a running backup are refused
// and change nothing.
func TestPgbasebackup(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	c := &restoreCluster{env: env, ns: env.Namespace(t), name: "hippo"}
	ns := c.ns
	if res := env.PGO(t, "create", "cluster", "hippo", "-n", ns, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	baseBackup := func(t *testing.T) string {
		t.Helper()
		start := time.Now()
		res := env.PGO(t, "backup", "hippo", "-n", ns, "--backup-type=pgbasebackup", "--wait", "-o", "json")
		if res.ExitCode != 0 {
			t.Fatalf("pgbasebackup failed:\n%s", res)
		}
		var r cmd.PGDumpResult
		if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
			t.Fatalf("backup -o json: %v\n%s", err, res.Stdout)
		}
		if r.Status != "Succeeded" || r.Size == nil || *r.Size < 1<<20 || !strings.Contains(res.Stderr, "pg_basebackup: base backup completed") {
			t.Errorf("base backup %+v:\n%s", r, res.Stderr)
		}
		t.Logf("base backup %s took %s", r.Name, time.Since(start).Round(100*time.Millisecond))
		// Base backups are named by the second.
		time.Sleep(1100 * time.Millisecond)
		return r.Name
	}
	jobNames := func(t *testing.T) []string {
		t.Helper()
		l, err := env.Client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, j := range l.Items {
			names = append(names, j.Name)
		}
		slices.Sort(names)
		return names
	}
	pgbackrestCheck := func(t *testing.T) {
		t.Helper()
		// From the repository host, and from the database side (quiet there: its exit code says it).
		out, stderr := clusterExecBoth(t, env, ns, repoHostPod(t, env, ns, c.name).Name, "pgbackrest", "pgbackrest", "--stanza=db", "check")
		if !strings.Contains(out+stderr, "check command end: completed successfully") {
			t.Errorf("pgbackrest check on the repository host did not complete:\n%s%s", out, stderr)
		}
		clusterExec(t, env, ns, c.name+"-0", "pgbackrest", "pgbackrest", "--stanza=db", "check")
	}
	timeline := func(t *testing.T) int {
		t.Helper()
		return mustAtoi(t, c.one(t, "SELECT timeline_id FROM pg_control_checkpoint()"))
	}

	c.sql(t, "CREATE TABLE t (v text); INSERT INTO t VALUES ('A'), ('B')")
	first := baseBackup(t)
	c.sql(t, "INSERT INTO t VALUES ('C'); DELETE FROM t WHERE v = 'A'")
	second := baseBackup(t)
	c.sql(t, "INSERT INTO t VALUES ('D'); DELETE FROM t WHERE v = 'B'")
	if got := c.rows(t, "t"); !slices.Equal(got, []string{"C", "D"}) {
		t.Fatalf("rows before the restore = %q", got)
	}

	res := env.PGO(t, "show", "backup", "hippo", "-n", ns, "--backup-type=pgbasebackup", "-o", "json")
	var l cmd.PGDumpList
	if err := json.Unmarshal([]byte(res.Stdout), &l); err != nil || res.ExitCode != 0 {
		t.Fatalf("show backup: %v\n%s", err, res)
	}
	if len(l.Dumps) != 2 || l.Dumps[0].Name != first || l.Dumps[1].Name != second {
		t.Fatalf("show backup lists %+v, want %s and %s", l.Dumps, first, second)
	}
	for _, d := range l.Dumps {
		if d.JobStatus != jobs.StateSucceeded || d.Size == nil || d.PVC != "backup-hippo-pgbasebackup-pvc" || !strings.HasPrefix(d.Path, "/pgbasebackup/hippo-backups/") || d.Cluster != "hippo" {
			t.Errorf("base backup %+v", d)
		}
	}

	t.Run("bad input", func(t *testing.T) {
		before, state := jobNames(t), c.state(t)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"backup", "--backup-opts=--pgdata=/tmp"}, "--pgdata is not an allowed pg_basebackup option"},
			{[]string{"backup", "--database=app"}, "--database applies to --backup-type=pgdump only"},
			{[]string{"restore", "--backup-name=2020-01-01-00-00-00", "--yes"}, "base backup 2020-01-01-00-00-00 does not exist on PVC backup-hippo-pgbasebackup-pvc"},
			{[]string{"restore", "--backup-pvc=nope", "--yes"}, "PVC nope does not exist"},
			{[]string{"restore", "--backup-opts=--type=immediate", "--yes"}, "--backup-opts does not apply"},
			{[]string{"restore", "--pitr-target=2020-01-01T00:00:00Z", "--yes"}, "no base backup on PVC backup-hippo-pgbasebackup-pvc was made at or before 2020-01-01T00:00:00Z"},
			// Without --yes, and no terminal to ask on.
			{[]string{"restore", "--backup-pvc=backup-hippo-pgbasebackup-pvc", "--backup-name=" + first}, "needs a confirmation"},
		} {
			res := env.PGO(t, append([]string{tc.args[0], "hippo", "-n", ns, "--backup-type=pgbasebackup"}, tc.args[1:]...)...)
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
				t.Errorf("%v: want a failure with %q:\n%s", tc.args, tc.want, res)
			}
		}
		if after := jobNames(t); !slices.Equal(after, before) {
			t.Errorf("bad input changed the Jobs: %q, before %q", after, before)
		}
		c.untouched(t, state)
	})

	t.Run("refused while a backup runs", func(t *testing.T) {
		state := c.state(t)
		if res := env.PGO(t, "backup", "hippo", "-n", ns, "--type=full"); res.ExitCode != 0 {
			t.Fatalf("backup failed:\n%s", res)
		}
		res := env.PGO(t, "restore", "hippo", "-n", ns, "--backup-type=pgbasebackup", "--yes")
		if res.ExitCode == 0 || !regexp.MustCompile(`backup Job hippo-backup-full-\w+ of cluster hippo is (running|suspended) .*: a restore cannot run beside it`).MatchString(res.Stderr) {
			t.Errorf("restore during a backup:\n%s", res)
		}
		c.untouched(t, state)
		(&bkCluster{env: env, ns: ns, name: c.name}).waitJobsFinished(t)
	})

	tlBefore := timeline(t)
	res, _ = c.restoreBase(t, "--backup-name="+first)
	if !strings.Contains(res.Stdout, "from base backup "+first) {
		t.Errorf("restore output:\n%s", res.Stdout)
	}
	if got := c.rows(t, "t"); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("after restoring base backup %s, rows = %q, want exactly [A B]", first, got)
	}
	if tl := timeline(t); tl <= tlBefore {
		t.Errorf("timeline after the restore = %d, want more than %d", tl, tlBefore)
	}
	if got := c.one(t, "SELECT pg_is_in_recovery()"); got != "f" {
		t.Errorf("pg_is_in_recovery() = %s after the restore", got)
	}
	// The Job's recovery settings are gone from the configuration files once promoted.
	if got := c.one(t, "SELECT count(*) FROM pg_file_settings WHERE name LIKE 'recovery_target%' OR name = 'restore_command'"); got != "0" {
		t.Errorf("%s recovery settings left in the configuration files after the restore", got)
	}
	c.sql(t, "INSERT INTO t VALUES ('E')")
	if got := c.rows(t, "t"); !slices.Equal(got, []string{"A", "B", "E"}) {
		t.Errorf("after a write, rows = %q", got)
	}
	c.switchAndArchive(t)
	if got := c.one(t, "SELECT failed_count FROM pg_stat_archiver"); got != "0" {
		t.Errorf("archiving failed %s times after the restore", got)
	}
	pgbackrestCheck(t)
	if res := env.PGO(t, "backup", "hippo", "-n", ns, "--wait"); res.ExitCode != 0 {
		t.Fatalf("pgBackRest backup after the restore failed:\n%s", res)
	}

	// The latest base backup, by default; a second in-place restore, onto the new timeline. The
	// first attempt is interrupted (its Job deleted as kubectl does, in the background, wherever it
	// was): the database stays stopped, and running the restore again (which waits for the old pod
	// to stop) finishes it.
	if res := env.PGO(t, "restore", "hippo", "-n", ns, "--backup-type=pgbasebackup", "--yes", "--wait=false"); res.ExitCode != 0 {
		t.Fatalf("restore --wait=false failed:\n%s", res)
	}
	if err := env.Client.BatchV1().Jobs(ns).Delete(context.Background(), "hippo-restore",
		metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatalf("interrupting the restore: %v", err)
	}
	if r := c.replicas(t); r != 0 {
		t.Errorf("after an interrupted restore the StatefulSet has %d replicas, want 0", r)
	}
	c.restoreBase(t)
	if got := c.rows(t, "t"); !slices.Equal(got, []string{"B", "C"}) {
		t.Errorf("after restoring the latest base backup, rows = %q, want exactly [B C]", got)
	}
	c.sql(t, "INSERT INTO t VALUES ('F')")
	c.switchAndArchive(t)
	pgbackrestCheck(t)
}

// restoreBase restores a base backup in place with --yes and fails the test unless it succeeds.
func (c *restoreCluster) restoreBase(t *testing.T, args ...string) (framework.Result, time.Duration) {
	t.Helper()
	start := time.Now()
	res := c.env.PGO(t, append([]string{"restore", c.name, "-n", c.ns, "--backup-type=pgbasebackup", "--yes", "--timeout=10m"}, args...)...)
	if res.ExitCode != 0 {
		t.Fatalf("restore failed:\n%s", res)
	}
	took := time.Since(start)
	t.Logf("restore %v took %s:\n%s", args, took.Round(100*time.Millisecond), res.Stdout)
	if !strings.Contains(res.Stderr, "kubectl-pgo: the base backup is in place") {
		t.Errorf("the Job's log (on stderr) lacks the end of the extraction:\n%s", res.Stderr)
	}
	return res, took
}
