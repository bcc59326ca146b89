package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// Asynchronous archiving: a cluster created with --pgbackrest-archive-async archives through
// its spool queue (many segments, none failed), restores to the latest point and to a point in
// time with the whole table's checksum (archive-get asynchronous too), a new cluster restored
// from it that archives asynchronously fetches the WAL ahead too, and update cluster turns
// it off again, after which archiving goes on synchronously.
func TestArchiveAsync(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := &restoreCluster{env: env, ns: ns, name: "aa"}
	if res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--pgbackrest-archive-async", "--pgbackrest-archive-get-queue-max=64Mi",
		"--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster --pgbackrest-archive-async:\n%s", res)
	}
	conf := c.podFile(t, "/etc/pgbackrest/pgbackrest.conf")
	for _, want := range []string{"archive-async=y", "spool-path=/pgdata/pgbackrest-spool", "archive-get-queue-max=67108864", "[global:archive-push]"} {
		if !strings.Contains(conf, want) {
			t.Errorf("the database's pgbackrest.conf lacks %q:\n%s", want, conf)
		}
	}
	c.sql(t, `CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 3000) g`)
	c.backup(t)
	// Many segments through the queue.
	for i := range 12 {
		c.sql(t, fmt.Sprintf("UPDATE chain SET v = md5(v) WHERE id %% 12 = %d; SELECT pg_switch_wal()", i))
	}
	c.switchAndArchive(t)
	target := c.one(t, "SELECT now()")
	mid := c.one(t, chainChecksumSQL)
	time.Sleep(1100 * time.Millisecond)
	c.sql(t, `DELETE FROM chain WHERE id % 7 = 0; INSERT INTO chain SELECT g, 'late' FROM generate_series(3001, 3300) g`)
	c.switchAndArchive(t)
	latest := c.one(t, chainChecksumSQL)
	if row := c.one(t, "SELECT archived_count >= 14, failed_count FROM pg_stat_archiver"); row != "t|0" {
		t.Errorf("pg_stat_archiver: archived at least 14, failed = %s, want t|0", row)
	}
	// The queue's status files are where archive-push finds what the background process did.
	if out := c.podFile(t, "/pgdata/pgbackrest-spool/archive/db/out"); !strings.Contains(out, ".ok") {
		t.Errorf("the spool queue has no status file: asynchronous archiving did not run:\n%s", out)
	}
	t.Logf("aa: at %s %s, latest %s", target, mid, latest)

	c.restore(t)
	if got := c.one(t, chainChecksumSQL); got != latest {
		t.Errorf("after a restore to the latest point: checksum %s, want %s", got, latest)
	}
	// The recovery fetched through the spool's in queue (archive-get asynchronous).
	if in := c.podFile(t, "/pgdata/pgbackrest-spool/archive/db"); !strings.Contains(in, "in") {
		t.Errorf("the spool has no archive-get queue after a recovery:\n%s", in)
	}
	c.restore(t, "--pitr-target="+target)
	if got := c.one(t, chainChecksumSQL); got != mid {
		t.Errorf("after a restore to %s: checksum %s, want %s", target, got, mid)
	}

	// A new cluster that archives asynchronously fetches the source's WAL the same way, ahead
	// through its spool, in the restore Job.
	c.sql(t, `INSERT INTO chain SELECT g, 'before the copy' FROM generate_series(5001, 5050) g`)
	c.switchAndArchive(t)
	atCopy := c.one(t, chainChecksumSQL)
	n := &restoreCluster{env: env, ns: ns, name: "aa-copy"}
	if res := env.PGO(t, "create", "cluster", n.name, "-n", ns, "--restore-from="+c.name, "--pgbackrest-archive-async",
		"--wait", "--timeout=8m"); res.ExitCode != 0 {
		t.Fatalf("create cluster --restore-from --pgbackrest-archive-async:\n%s", res)
	}
	if got := n.one(t, chainChecksumSQL); got != atCopy {
		t.Errorf("the copy: checksum %s, want %s", got, atCopy)
	}
	if in := n.podFile(t, "/pgdata/pgbackrest-spool/archive/db"); !strings.Contains(in, "in") {
		t.Errorf("the copy's spool has no archive-get queue after its recovery:\n%s", in)
	}

	res := env.PGO(t, "update", "cluster", c.name, "-n", ns, "--pgbackrest-archive-async=false", "--wait", "--timeout=5m")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout+res.Stderr, "restarts") {
		t.Fatalf("update cluster --pgbackrest-archive-async=false: want it to say the database restarts:\n%s", res)
	}
	if conf := c.podFile(t, "/etc/pgbackrest/pgbackrest.conf"); strings.Contains(conf, "archive-async") {
		t.Errorf("archive-async is still in pgbackrest.conf:\n%s", conf)
	}
	c.sql(t, `INSERT INTO chain SELECT g, 'synchronous again' FROM generate_series(3301, 3400) g`)
	c.switchAndArchive(t)
	if row := c.one(t, "SELECT failed_count FROM pg_stat_archiver"); row != "0" {
		t.Errorf("archive failures after turning asynchronous archiving off: %s", row)
	}
}

// podFile is the text of a file (or the listing of a directory) in the database container.
func (c *restoreCluster) podFile(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, err := kube.ExecCapture(ctx, c.env.Config, c.env.Client, c.ns, c.name+"-0", "database", []string{"sh", "-c", "cat " + path + " 2>/dev/null || ls " + path})
	if err != nil {
		t.Fatalf("reading %s in %s-0: %v", path, c.name, err)
	}
	return out
}

// The repository host is gone for two minutes while pgbench and the chain table write, on a
// cluster whose archive-push queue holds 128 MiB (8 segments). Below the limit, WAL waits in
// pg_wal, nothing is lost, and archiving catches up when the host is back: no segment missing
// from the archive, pgbackrest verify clean, and a PITR to the end of the outage with the whole
// table's checksum. Above the limit, a second outage drops WAL: show archive and doctor fail and
// name the missing segments (the same ones the archive's files show), and a restore to the
// latest point, whose recovery would stop at the gap, is refused, until a full backup closes
// the gap; then a restore to the latest point has the exact checksum.
func TestArchiveQueueOutage(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := faultCluster(t, env, ns, "aq", "--pgbackrest-archive-async", "--pgbackrest-archive-push-queue-max=128Mi", "--timeout=5m")
	c.sql(t, `CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 1000) g`)
	c.pgbench(t, 1)
	c.backup(t)

	// 1. Two minutes without the repository host, below the queue's limit.
	c.scaleRepoHost(t, 0)
	outage := time.Now()
	bench := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		out, stderr, err := kube.ExecCapture(ctx, env.Config, env.Client, ns, c.name+"-0", "database",
			[]string{"pgbench", "-n", "-c", "2", "-T", "110", "-R", "20", "postgres"})
		bench <- fmt.Sprintf("%v %s %s", err, out, stderr)
	}()
	// Well below the limit: two switches, and archive_timeout's (60 s) while pgbench writes.
	for i := range 4 {
		c.sql(t, fmt.Sprintf("INSERT INTO chain SELECT g, 'outage %d' FROM generate_series(%d, %d) g", i, 1001+i*100, 1100+i*100))
		if i%2 == 1 {
			c.sql(t, "SELECT pg_switch_wal()")
		}
		time.Sleep(25 * time.Second)
	}
	t.Logf("pgbench during the outage: %s", regexp.MustCompile(`tps = [0-9.]+|number of transactions actually processed: \d+|<nil>|.*error.*`).FindAllString(<-bench, -1))
	target := c.one(t, "SELECT now()")
	atOutageEnd := c.one(t, chainChecksumSQL)
	waiting := c.one(t, "SELECT (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') || '|' || (failed_count > 0) FROM pg_stat_archiver")
	if n, failed, _ := strings.Cut(waiting, "|"); n == "0" || failed != "true" {
		t.Errorf("after %s without the repository host: .ready segments|failed = %s, want WAL waiting and failed attempts", time.Since(outage).Round(time.Second), waiting)
	}
	t.Logf("outage of %s: %s segments waiting; chain at %s: %s", time.Since(outage).Round(time.Second), waiting, target, atOutageEnd)
	time.Sleep(time.Until(outage.Add(2 * time.Minute)))
	c.scaleRepoHost(t, 1)
	back := time.Now()
	c.switchAndArchive(t)
	t.Logf("archiving caught up %s after the repository host was back", time.Since(back).Round(time.Second))
	if n := c.one(t, "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"); n != "0" {
		t.Errorf("%s segments still wait after catching up", n)
	}
	c.noWALMissing(t)
	c.verify(t)
	if s := c.showArchive(t); !s.Healthy || len(s.WALGaps) != 0 {
		t.Errorf("show archive after the outage below the limit: healthy=%v, gaps %+v, problems %q", s.Healthy, s.WALGaps, s.Problems)
	}
	c.restore(t, "--pitr-target="+target)
	if got := c.one(t, chainChecksumSQL); got != atOutageEnd {
		t.Errorf("after a restore to the end of the outage (%s): checksum %s, want %s", target, got, atOutageEnd)
	}

	// 2. A second outage, with more WAL than the queue holds: pgBackRest drops the queue, and
	// PostgreSQL counts the dropped segments as archived.
	c.scaleRepoHost(t, 0)
	tl := c.one(t, timelineSQL)
	archived := c.one(t, "SELECT archived_count FROM pg_stat_archiver")
	for i := range 12 {
		c.sql(t, fmt.Sprintf("INSERT INTO chain SELECT g, 'dropped %d' FROM generate_series(%d, %d) g; SELECT pg_switch_wal()", i, 2001+i*10, 2010+i*10))
	}
	// The bound is checked when a background push starts: after the one that waits for the
	// unreachable host gives up (4 x io-timeout, 15 s with a bounded queue).
	written := time.Now()
	deadline := written.Add(4 * time.Minute)
	for c.one(t, "SELECT archived_count >= "+archived+" + 9 FROM pg_stat_archiver") != "t" {
		if time.Now().After(deadline) {
			t.Fatalf("the queue over its limit was not dropped in 4 minutes: %s", c.one(t, "SELECT last_archived_wal || ' ' || archived_count || ' ' || failed_count FROM pg_stat_archiver"))
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("the queue over its limit was dropped %s after the WAL was written", time.Since(written).Round(time.Second))
	c.scaleRepoHost(t, 1)
	c.sql(t, "INSERT INTO chain SELECT g, 'after the drop' FROM generate_series(3001, 3100) g")
	c.switchAndArchive(t)
	missing := c.walGapsOn(t, tl)
	if len(missing) == 0 {
		t.Fatalf("no WAL missing from timeline %s of the archive after the queue exceeded its limit", tl)
	}
	s := c.showArchive(t)
	if s.Healthy || len(s.WALGaps) != 1 || s.WALGaps[0].Closed() || s.WALGaps[0].First != missing[0] || s.WALGaps[0].Last != missing[len(missing)-1] ||
		s.WALGaps[0].Segments != len(missing) {
		t.Errorf("show archive after the drop: healthy=%v, gaps %+v; the archive's files miss %v", s.Healthy, s.WALGaps, missing)
	}
	res := env.PGO(t, "show", "archive", c.name, "-n", ns, "--no-check")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "WAL was dropped (the archive-push queue was full) or lost: repo1 is missing WAL "+missing[0]) ||
		!strings.Contains(res.Stdout, "no point after it can be recovered until a new backup") {
		t.Errorf("show archive after the drop: want a failure naming %s:\n%s", missing[0], res)
	}
	res = env.PGO(t, "doctor", c.name, "-n", ns, "--no-check")
	if res.ExitCode == 0 || !regexp.MustCompile(`✗\s+repo1 WAL continuity\s+WAL was dropped`).MatchString(res.Stdout) || !strings.Contains(res.Stdout, "kubectl pgo backup "+c.name) {
		t.Errorf("doctor after the drop: want repo1 WAL continuity failed with the backup to take:\n%s", res)
	}
	t.Logf("dropped: %d segments, %s to %s", len(missing), missing[0], missing[len(missing)-1])
	// A restore to the latest point would stop at the gap without an error: refused.
	before := c.state(t)
	res = env.PGO(t, "restore", c.name, "-n", ns, "--yes")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "to its latest point from backup") || !strings.Contains(res.Stderr, "the recovery would stop at") {
		t.Errorf("restore to the latest point across the gap: want a refusal:\n%s", res)
	}
	if after := c.state(t); after != before {
		t.Errorf("the refused restore touched the database: %+v, before %+v", after, before)
	}

	// A full backup closes the gap: archiving is healthy again, the gap stays named.
	c.backup(t)
	c.sql(t, "UPDATE chain SET v = md5(v) WHERE id % 5 = 0")
	c.switchAndArchive(t)
	latest := c.one(t, chainChecksumSQL)
	if s := c.showArchive(t); !s.Healthy || len(s.WALGaps) != 1 || !s.WALGaps[0].Closed() {
		t.Errorf("show archive after a backup closed the gap: healthy=%v, gaps %+v, problems %q", s.Healthy, s.WALGaps, s.Problems)
	}
	if res := env.PGO(t, "doctor", c.name, "-n", ns, "--no-check"); !regexp.MustCompile(`!\s+repo1 WAL continuity\s+WAL was dropped or lost: repo1 is missing WAL ` + missing[0]).MatchString(res.Stdout) {
		t.Errorf("doctor after a backup closed the gap: want a warning:\n%s", res)
	}
	c.restore(t)
	if got := c.one(t, chainChecksumSQL); got != latest {
		t.Errorf("after a restore to the latest point: checksum %s, want %s", got, latest)
	}
}

// showArchive is show archive -o json, without pgbackrest check.
func (c *restoreCluster) showArchive(t *testing.T) inspect.ArchiveStatus {
	t.Helper()
	res := c.env.PGO(t, "show", "archive", c.name, "-n", c.ns, "--no-check", "-o", "json")
	var s inspect.ArchiveStatus
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
		t.Fatalf("show archive -o json: %v\n%s", err, res)
	}
	if (res.ExitCode == 0) != s.Healthy {
		t.Errorf("show archive exited %d with healthy=%v:\n%s", res.ExitCode, s.Healthy, res)
	}
	return s
}
