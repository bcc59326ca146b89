package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// verify on a real repository: it passes after a full backup, and fails,
// naming the file, once one file of the backup set is overwritten.
func TestVerify(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	c := &bkCluster{env: env, ns: env.Namespace(t), name: "hippo"}
	if res := c.pgo(t, "create", "cluster", c.name, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	c.sql(t, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g")
	// Two tables larger than pgBackRest's bundle limit (2 MiB), so that their files stay files
	// of their own in the backup set also where backups are bundled (17 and newer).
	c.sql(t, "CREATE TABLE big1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100000) g; "+
		"CREATE TABLE big2 AS SELECT g AS id, md5((g + 1)::text) AS v FROM generate_series(1, 100000) g")
	label, _ := c.backupWait(t, "full")
	c.waitJobsFinished(t)

	verify := func(t *testing.T) (framework.Result, cmd.VerifyReport) {
		t.Helper()
		res := c.pgo(t, "verify", c.name, "-o", "json")
		var report cmd.VerifyReport
		if err := json.Unmarshal([]byte(res.Stdout), &report); err != nil {
			t.Fatalf("verify -o json: %v\n%s", err, res)
		}
		return res, report
	}

	t.Run("good repository", func(t *testing.T) {
		res, report := verify(t)
		if res.ExitCode != 0 || !report.OK || len(report.Repositories) != 1 {
			t.Fatalf("verify of a good repository failed:\n%s", res)
		}
		r := report.Repositories[0]
		if r.Repo != "repo1" || r.Result == nil || len(r.Result.Backups) != 1 || r.Result.Backups[0].Label != label ||
			r.Result.Backups[0].Status != "valid" || r.Result.Backups[0].FilesChecked == 0 || len(r.Result.Archives) == 0 {
			t.Errorf("report of a good repository: %+v", r.Result)
		}
		table := c.pgo(t, "verify", c.name)
		if table.ExitCode != 0 || !strings.Contains(table.Stdout, "every backup and WAL segment verified") {
			t.Errorf("verify (table) of a good repository:\n%s", table)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		res := c.pgo(t, "verify", c.name, "--repo=2")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `cluster "hippo" has no repo2: its repositories are repo1 (posix)`) {
			t.Errorf("verify --repo=2 of a cluster with one repository:\n%s", res)
		}
	})

	// A relation file of the backup set is overwritten by another file of
	// the set, a valid lz4 stream (or block incremental .pgbi file) of other content: its checksum no longer
	// matches the manifest. (Bytes overwritten in the middle of an lz4
	// stream may instead break its decompression, which aborts verify.)
	set := path.Join(cluster.DefaultRepoPath(c.name), "backup/db", label)
	script := `set -e; cd "$1/pg_data"; set -- $(find base \( -name '*.lz4' -o -name '*.pgbi' \) -size +500k -type f | sort); ` +
		`test "$#" -ge 2; cat "$1" > "$2"; echo "$2"`
	out := c.repoExec(t, []string{"sh", "-c", script, "sh", set})
	bad := label + "/pg_data/" + strings.TrimSpace(out)
	t.Logf("overwrote %s", bad)

	t.Run("corrupted file", func(t *testing.T) {
		res, report := verify(t)
		if res.ExitCode == 0 || report.OK {
			t.Fatalf("verify passed on a corrupted repository:\n%s", res)
		}
		if !strings.Contains(res.Stderr, bad) || !strings.Contains(res.Stderr, "take a new full backup") {
			t.Errorf("the error does not name %s and what to do:\n%s", bad, res.Stderr)
		}
		r := report.Repositories[0]
		found := false
		for _, p := range r.Result.Problems {
			found = found || p.File == bad
		}
		if !found || len(r.Result.InvalidBackups()) != 1 || r.Result.InvalidBackups()[0].Label != label {
			t.Errorf("the report does not name %s in backup %s: %+v", bad, label, r.Result)
		}
		table := c.pgo(t, "verify", c.name)
		if table.ExitCode == 0 || !strings.Contains(table.Stdout, "repo1: backup "+label+" is invalid") || !strings.Contains(table.Stdout, bad) {
			t.Errorf("verify (table) of a corrupted repository:\n%s", table)
		}
	})
}

// repoExec runs a command in the repository host's pod.
func (c *bkCluster) repoExec(t *testing.T, command []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods, err := c.env.Client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.RepoSelector(c.name).String()})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("the repository pod of %s: %v", c.name, err)
	}
	out, _, err := kube.ExecCapture(ctx, c.env.Config, c.env.Client, c.ns, pods.Items[0].Name, "pgbackrest", command)
	if err != nil {
		t.Fatalf("exec %q in the repository pod: %v", command, err)
	}
	return out
}

// restore-drill on a cluster with rows: it restores the latest backup into
// a temporary cluster, counts the rows, and leaves nothing behind, also
// when --check-sql fails.
func TestRestoreDrill(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	c := &bkCluster{env: env, ns: env.Namespace(t), name: "hippo"}
	if res := c.pgo(t, "create", "cluster", c.name, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	const rows = 1234
	c.sql(t, fmt.Sprintf("CREATE TABLE drill_rows AS SELECT g AS id FROM generate_series(1, %d) g", rows))
	label, _ := c.backupWait(t, "full")
	c.waitJobsFinished(t)
	pvcsBefore := c.pvcNames(t)

	t.Run("passes", func(t *testing.T) {
		res := c.pgo(t, "restore-drill", c.name, "-o", "json")
		var report cmd.DrillReport
		if err := json.Unmarshal([]byte(res.Stdout), &report); err != nil {
			t.Fatalf("restore-drill -o json: %v\n%s", err, res)
		}
		if res.ExitCode != 0 || !report.Passed || !report.Removed || report.Backup != label || report.Check != cmd.DrillCheckCount {
			t.Fatalf("restore-drill of a good backup:\n%s", res)
		}
		if !strings.HasPrefix(report.DrillCluster, c.name+"-drill-") || report.RestoreDuration == "" {
			t.Errorf("report: %+v", report)
		}
		var got int64 = -1
		for _, d := range report.Databases {
			for _, tb := range d.Tables {
				if d.Name == "postgres" && tb.Schema == "public" && tb.Name == "drill_rows" {
					got = tb.Rows
				}
			}
		}
		if got != rows {
			t.Errorf("the drill counted %d rows in drill_rows, want %d: %+v", got, rows, report.Databases)
		}
		c.checkNoDrillLeft(t, report.DrillCluster, pvcsBefore)
	})

	t.Run("check-sql passes", func(t *testing.T) {
		res := c.pgo(t, "restore-drill", c.name, "--target="+label, "--check-sql=SELECT count(*) AS n FROM drill_rows")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, ": PASSED") || !strings.Contains(res.Stdout, fmt.Sprint(rows)) ||
			!strings.Contains(res.Stdout, "backup:          "+label) || !strings.Contains(res.Stdout, ", removed") {
			t.Errorf("restore-drill --check-sql with a good query:\n%s", res)
		}
		c.checkNoDrillLeft(t, "", pvcsBefore)
	})

	t.Run("check-sql fails", func(t *testing.T) {
		res := c.pgo(t, "restore-drill", c.name, "--check-sql=SELECT count(*) FROM no_such_table")
		if res.ExitCode == 0 || !strings.Contains(res.Stdout, ": FAILED") || !strings.Contains(res.Stderr, "--check-sql failed") ||
			!strings.Contains(res.Stderr, `relation "no_such_table" does not exist`) {
			t.Errorf("restore-drill with a failing --check-sql:\n%s", res)
		}
		if !strings.Contains(res.Stdout, ", removed") {
			t.Errorf("the report does not say the temporary cluster was removed:\n%s", res.Stdout)
		}
		c.checkNoDrillLeft(t, "", pvcsBefore)
	})

	t.Run("unknown target", func(t *testing.T) {
		res := c.pgo(t, "restore-drill", c.name, "--target=20200101-000000F")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "20200101-000000F does not exist") || !strings.Contains(res.Stderr, "Nothing was created") {
			t.Errorf("restore-drill with an unknown --target:\n%s", res)
		}
		c.checkNoDrillLeft(t, "", pvcsBefore)
	})
}

// A drill of a cluster without backups is refused, and creates nothing.
func TestRestoreDrillNoBackups(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	c := &bkCluster{env: env, ns: env.Namespace(t), name: "hippo"}
	if res := c.pgo(t, "create", "cluster", c.name, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	pvcsBefore := c.pvcNames(t)
	res := c.pgo(t, "restore-drill", c.name)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, `cluster "hippo" has no backups`) || !strings.Contains(res.Stderr, "kubectl pgo backup hippo") ||
		!strings.Contains(res.Stderr, "Nothing was created") || res.Stdout != "" {
		t.Errorf("restore-drill of a cluster without backups:\n%s", res)
	}
	c.checkNoDrillLeft(t, "", pvcsBefore)
}

// pvcNames lists the PVCs of the namespace.
func (c *bkCluster) pvcNames(t *testing.T) []string {
	t.Helper()
	list, err := c.env.Client.CoreV1().PersistentVolumeClaims(c.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}

// checkNoDrillLeft checks that no object of a drill is left in the
// namespace: none labelled as a drill of the cluster, none of the drill
// cluster (if named), and no PVC but those of before.
func (c *bkCluster) checkNoDrillLeft(t *testing.T, drill string, pvcsBefore []string) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(c.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	selectors := []string{cmd.LabelDrillOf + "=" + c.name}
	if drill != "" {
		selectors = append(selectors, cluster.LabelCluster+"="+drill)
	}
	for _, gvr := range cluster.ManagedResources {
		for _, sel := range selectors {
			list, err := dyn.Resource(gvr).Namespace(c.ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range list.Items {
				t.Errorf("left behind by the drill: %s %s (%s)", gvr.Resource, obj.GetName(), sel)
			}
		}
	}
	if got := c.pvcNames(t); strings.Join(got, ",") != strings.Join(pvcsBefore, ",") {
		t.Errorf("PVCs after the drill: %q, before: %q", got, pvcsBefore)
	}
}
