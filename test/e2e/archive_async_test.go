package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// Asynchronous archiving: a cluster created with --pgbackrest-archive-async archives through
// its spool queue (many segments, none failed), restores to the latest point and to a point in
// time with the whole table's checksum (archive-get asynchronous too), and update cluster turns
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
