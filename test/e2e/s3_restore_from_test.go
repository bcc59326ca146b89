package e2e

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// tableChecksum is the row count and a digest of every row of table tbl, in id order.
const tableChecksum = `SELECT count(*), md5(string_agg(t::text, ',' ORDER BY id)) FROM tbl t`

// create cluster --restore-from of a local,s3 cluster whose S3 keys are in a credentials
// Secret (issue 16: the restore Job lacked repo2-s3-key and left the new cluster stopped):
// with a backup in repo2 only, a new cluster restores it by default, and another from repo2
// explicitly (--restore-opts=--repo=2, read from the bucket), each to the latest point,
// checked by the whole table's checksum.
func TestS3LocalAndS3RestoreFrom(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	old := &restoreCluster{env: env, ns: ns, name: "b1"}
	createS3Cluster(t, old, s3, "local,s3", bucket)

	old.sql(t, `CREATE TABLE tbl (id int PRIMARY KEY, v text);
		INSERT INTO tbl SELECT i, md5(i::text) FROM generate_series(1, 5000) i`)
	if res := env.PGO(t, "backup", old.name, "-n", ns, "--type=full", "--pgbackrest-storage-type=s3", "--wait"); res.ExitCode != 0 {
		t.Fatalf("backup to repo2 (s3) failed:\n%s", res)
	}
	// After the backup: replayed from the archive.
	old.sql(t, `UPDATE tbl SET v = 'updated' WHERE id % 7 = 0; DELETE FROM tbl WHERE id % 11 = 0;
		INSERT INTO tbl SELECT i, 'after-backup' FROM generate_series(5001, 5500) i`)
	old.switchAndArchive(t)
	want := old.one(t, tableChecksum)
	t.Logf("b1: %s", want)

	// Both restores at once: they only read b1's repositories.
	restores := []struct{ name, opts string }{{"b1new", ""}, {"b1repo2", "--restore-opts=--repo=2"}}
	results := make([]framework.Result, len(restores))
	errs := make([]error, len(restores))
	done := make(chan int)
	for i, r := range restores {
		go func() {
			defer func() { done <- i }()
			args := []string{"create", "cluster", r.name, "-n", ns, "--restore-from=" + old.name, "--wait", "--timeout=10m"}
			if r.opts != "" {
				args = append(args, r.opts)
			}
			results[i], errs[i] = bkRun(env, args...)
		}()
	}
	for range restores {
		<-done
	}
	ctx := context.Background()
	for i, r := range restores {
		res := results[i]
		if errs[i] != nil || res.ExitCode != 0 || strings.Contains(res.Stderr, "requires option") {
			t.Errorf("create cluster %s --restore-from=%s %s failed (%v):\n%s", r.name, old.name, r.opts, errs[i], res)
			continue
		}
		c := &restoreCluster{env: env, ns: ns, name: r.name}
		if got := c.one(t, tableChecksum); got != want {
			t.Errorf("%s: count|md5 = %s, want %s (b1's)", r.name, got, want)
		} else {
			t.Logf("%s (%s): %s", r.name, r.opts, got)
		}
		if _, err := env.Client.CoreV1().Secrets(ns).Get(ctx, r.name+"-restore-source", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the temporary Secret %s-restore-source is left (err %v)", r.name, err)
		}
	}
}
