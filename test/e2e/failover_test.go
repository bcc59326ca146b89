package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestFailover is issue 19's second part on three nodes, on one cluster with two replicas: a
// backup from a standby (its log and show backup name the standby); a failover while a writer
// numbers its rows and pgbench runs, after which every row the old primary acknowledged is on
// the new primary and on both replicas (the old primary rejoined); archiving and backups on the
// new timeline; then in-place restores after the failover: to a time before it (from the
// standby's backup, exact checksum on all three pods), then to the latest point.
func TestFailover(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := &restoreCluster{env: env, ns: ns, name: "fo"}

	res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--replicas=2", "--wait", "--timeout=8m")
	if res.ExitCode != 0 {
		t.Fatalf("create cluster --replicas=2 failed:\n%s", res)
	}
	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 2000) g")
	c.pgbench(t, 2)

	// A backup from a standby: the replica copies the files, the primary starts and stops it.
	res = env.PGO(t, "backup", c.name, "-n", ns, "--from-standby", "--type=full", "--wait", "--verbose")
	if res.ExitCode != 0 {
		t.Fatalf("backup --from-standby failed:\n%s", res)
	}
	m := regexp.MustCompile(`backing up from standby (fo-r\d-0)`).FindStringSubmatch(res.Stderr)
	if m == nil {
		t.Fatalf("backup --from-standby does not name the standby:\n%s", res)
	}
	standby := m[1]
	if !regexp.MustCompile(`(?m)INFO: wait for replay on the standby to reach`).MatchString(res.Stdout+res.Stderr) ||
		!regexp.MustCompile(`DETAIL: backup file `+standby+`:`).MatchString(res.Stdout+res.Stderr) {
		t.Errorf("the backup's log does not show files copied from %s:\n%s", standby, res)
	}
	standbyBackup := newestBackup(t, env, ns, c.name)
	if standbyBackup.Standby != standby {
		t.Errorf("show backup -o json: backup %s was copied from %q, want %s", standbyBackup.Label, standbyBackup.Standby, standby)
	}
	if res := env.PGO(t, "show", "backup", c.name, "-n", ns); !strings.Contains(res.Stdout, "copied from: standby "+standby) {
		t.Errorf("show backup does not say the backup was copied from %s:\n%s", standby, res)
	}
	c.sql(t, "INSERT INTO chain SELECT g, 'before T' FROM generate_series(2001, 3000) g")
	at, tlT, sumT := c.pointNow(t, chainPointSQL)
	time.Sleep(1100 * time.Millisecond)
	c.sql(t, "UPDATE chain SET v = 'after T' WHERE id % 3 = 0; DELETE FROM chain WHERE id % 7 = 0")

	// Refusals on the live cluster change nothing.
	for _, bad := range []struct{ args, want string }{
		{"--target=fo-0", `--target=fo-0 is already the primary of cluster "fo"`},
		{"--target=fo-r9-0", `--target=fo-r9-0 is not an instance of cluster "fo": its replicas are fo-r1-0, fo-r2-0`},
	} {
		res := env.PGO(t, "failover", c.name, "-n", ns, "--yes", bad.args)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, bad.want) || !strings.Contains(res.Stderr, "nothing was changed") {
			t.Errorf("failover %s: exit %d, want an error %q:\n%s", bad.args, res.ExitCode, bad.want, res)
		}
	}
	serviceSelects(t, env, ns, "fo", "fo-0")

	// The failover, while a writer numbers its rows through the Service and pgbench runs.
	password := secretValue(t, env, ns, cluster.PostgresSecretName(c.name), "password")
	w := startWriter(t, env, ns, "fo-r2-0", c.name, password)
	bench := startPGBench(t, env, ns, "fo-r2-0", c.name, password)
	w.waitRows(t, 200)
	res = env.PGOWithin(t, 12*time.Minute, "failover", c.name, "-n", ns, "--target=fo-r1-0", "--yes", "--wait", "--timeout=10m", "-o", "json")
	if res.ExitCode != 0 {
		w.stop(t)
		t.Fatalf("failover failed:\n%s", res)
	}
	t.Logf("failover:\n%s", res.Stderr)
	var fo cmd.FailoverResult
	if err := json.Unmarshal([]byte(res.Stdout), &fo); err != nil {
		t.Fatalf("failover -o json: %v\n%s", err, res.Stdout)
	}
	if fo.OldPrimary != "fo-0" || fo.NewPrimary != "fo-r1-0" || fo.Timeline != 2 || fo.ArchivedWAL == "" ||
		!regexp.MustCompile(`rejoined with pg_rewind|bootstrapped`).MatchString(fo.Rejoined) {
		t.Errorf("failover result: %+v", fo)
	}
	c.primary = "fo-r1-0"
	w.waitRows(t, w.count()+100) // the writer goes on against the new primary
	acked := w.stop(t)
	t.Logf("pgbench during the failover: %s", bench.wait())

	// Every row the writer saw committed is on the new primary, and then on both replicas.
	rows := map[int]bool{}
	for _, id := range c.sql(t, "SELECT id FROM chain WHERE id > 100000") {
		n, _ := strconv.Atoi(id)
		rows[n] = true
	}
	var lost []int
	for _, id := range acked {
		if !rows[id] {
			lost = append(lost, id)
		}
	}
	t.Logf("the writer committed %d rows (ids 100001..), %d are on the new primary, %d acknowledged ones are missing", len(acked), len(rows), len(lost))
	if len(lost) > 0 || len(acked) < 300 {
		t.Errorf("rows acknowledged by the old primary and missing on the new one: %v (of %d acknowledged)", lost, len(acked))
	}
	want := c.one(t, chainChecksumSQL)
	replicasCaughtUp(t, c, want, "fo-0", "fo-r2-0")
	serviceSelects(t, env, ns, "fo", "fo-r1-0")
	serviceSelects(t, env, ns, "fo-replicas", "fo-0", "fo-r2-0")
	if tl := c.one(t, timelineSQL); tl != "2" {
		t.Errorf("the new primary writes on timeline %s, want 2", tl)
	}
	res = env.PGO(t, "show", "cluster", c.name, "-n", ns)
	for _, line := range []string{`fo-r1\s+primary\s+\S+\s+accepts writes\s+2\s+-`, `fo\s+replica\s+\S+\s+standby\s+2\s+streaming`, `fo-r2\s+replica\s+\S+\s+standby\s+2\s+streaming`} {
		if !regexp.MustCompile(line).MatchString(res.Stdout) {
			t.Errorf("show cluster lacks a line like %q:\n%s", line, res)
		}
	}
	r, _ := doctorReport(t, env, ns, c.name)
	if rc := doctorStatus(t, r, "replication"); rc.Status != "ok" {
		t.Errorf("doctor's replication check after the failover: %+v", rc)
	}
	if !r.Healthy {
		t.Errorf("doctor after the failover: %+v", r.Checks)
	}

	// Backups after the failover: from the primary, and from a standby.
	res = env.PGO(t, "backup", c.name, "-n", ns, "--type=incr", "--wait")
	if res.ExitCode != 0 {
		t.Fatalf("backup after the failover failed:\n%s", res)
	}
	res = env.PGO(t, "backup", c.name, "-n", ns, "--from-standby", "--type=incr", "--wait")
	if res.ExitCode != 0 || !regexp.MustCompile(`backing up from standby fo(-r2)?-0`).MatchString(res.Stderr) {
		t.Fatalf("backup --from-standby after the failover:\n%s", res)
	}

	// The cluster setting: a backup without --from-standby copies from a standby, and a schedule
	// made while it is set lists every instance, so that pgBackRest finds the primary and a
	// standby when it runs, after failovers too.
	if res := env.PGO(t, "update", "cluster", c.name, "-n", ns, "--pgbackrest-backup-standby"); res.ExitCode != 0 || !strings.Contains(res.Stdout, "backupStandby") {
		t.Fatalf("update cluster --pgbackrest-backup-standby:\n%s", res)
	}
	if res := env.PGO(t, "backup", c.name, "-n", ns, "--type=incr", "--wait"); res.ExitCode != 0 || !regexp.MustCompile(`backing up from standby fo(-r2)?-0`).MatchString(res.Stderr) {
		t.Fatalf("backup with the cluster's backup-standby setting:\n%s", res)
	}
	if res := env.PGO(t, "create", "schedule", c.name, "-n", ns, "--schedule=0 1 1 1 *", "--pgbackrest-backup-type=incr"); res.ExitCode != 0 {
		t.Fatalf("create schedule:\n%s", res)
	}
	job := scRun(t, env, ns, jobs.DefaultScheduleName(c.name, jobs.BackupTypePGBackRest, "incr"), "now")
	if !scWaitJob(t, env, ns, job, 5*time.Minute) {
		pods, _ := env.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "job-name=" + job})
		for _, p := range pods.Items {
			t.Logf("pod %s:\n%s", p.Name, podLog(env, ns, p.Name))
		}
		t.Fatalf("the scheduled backup from a standby failed")
	}
	if b := newestBackup(t, env, ns, c.name); b.Standby != repo.AnyStandby {
		t.Errorf("the scheduled backup %s: copied from %q, want %q (pgBackRest chose the standby)", b.Label, b.Standby, repo.AnyStandby)
	}

	// Restores after the failover: to T (timeline 1, before it), from the standby's backup; all
	// three pods end with exactly the rows committed before T. Then back to the latest point.
	res, _ = c.restore(t, "--pitr-target="+at)
	if !strings.Contains(res.Stderr+res.Stdout, standbyBackup.Label) {
		t.Errorf("the restore to %s (timeline %d) does not use the standby's backup %s:\n%s", at, tlT, standbyBackup.Label, res)
	}
	if got := c.one(t, chainChecksumSQL); got != sumT {
		t.Fatalf("after the restore to %s: checksum %s on the primary fo-r1-0, want %s", at, got, sumT)
	}
	replicasCaughtUp(t, c, sumT, "fo-0", "fo-r2-0")
	c.sql(t, "INSERT INTO chain SELECT g, 'after the restore' FROM generate_series(40001, 40500) g")
	want = c.one(t, chainChecksumSQL)
	c.restore(t)
	if got := c.one(t, chainChecksumSQL); got != want {
		t.Fatalf("after the restore to the latest point: checksum %s, want %s", got, want)
	}
	replicasCaughtUp(t, c, want, "fo-0", "fo-r2-0")
	t.Logf("after the failover and two restores: primary fo-r1-0 on timeline %s, checksum %s on all three pods", c.one(t, timelineSQL), want)
}

// newestBackup is the newest backup show backup -o json lists.
func newestBackup(t *testing.T, env *framework.Env, ns, name string) repo.BackupSummary {
	t.Helper()
	res := env.PGO(t, "show", "backup", name, "-n", ns, "-o", "json")
	var out cmd.ClusterBackups
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || out.Repository == nil || len(out.Repository.Backups) == 0 {
		t.Fatalf("show backup -o json: %v\n%s", err, res)
	}
	return out.Repository.Backups[len(out.Repository.Backups)-1]
}

// secretValue reads one key of a Secret.
func secretValue(t *testing.T, env *framework.Env, ns, name, key string) string {
	t.Helper()
	s, err := env.Client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.Data[key])
}

// writer inserts numbered rows into chain through the cluster's Service, one transaction each,
// from a shell loop in a pod, and prints the id of each it saw committed.
type writer struct {
	env     *framework.Env
	ns, pod string
	mu      sync.Mutex
	acked   []int
	done    chan struct{}
}

const writerStop = "/tmp/kpgo-writer-stop"

func startWriter(t *testing.T, env *framework.Env, ns, pod, service, password string) *writer {
	t.Helper()
	w := &writer{env: env, ns: ns, pod: pod, done: make(chan struct{})}
	script := fmt.Sprintf(`rm -f %[1]s; i=100000
while [ ! -e %[1]s ]; do
  i=$((i+1))
  if PGPASSWORD=%[2]q PGCONNECT_TIMEOUT=2 psql -XAtq -h %[3]s -U postgres -d postgres -v ON_ERROR_STOP=1 -c "INSERT INTO chain VALUES ($i, 'written during the failover')" >/dev/null 2>&1; then
    echo "ok $i"
  else
    sleep 0.2
  fi
done`, writerStop, password, service)
	pr, pw := io.Pipe()
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
				n, _ := strconv.Atoi(id)
				w.mu.Lock()
				w.acked = append(w.acked, n)
				w.mu.Unlock()
			}
		}
	}()
	go func() {
		defer pw.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		_ = kube.Exec(ctx, env.Config, env.Client, ns, pod, "database", []string{"bash", "-c", script}, nil, pw, pw)
	}()
	return w
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitRows waits until the writer has committed n rows.
func (w *writer) waitRows(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for w.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the writer committed %d rows in 3m, want %d", w.count(), n)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// stop ends the loop and returns the ids it saw committed.
func (w *writer) stop(t *testing.T) []int {
	t.Helper()
	if _, err := psqlIn(w.env, w.ns, w.pod, "SELECT 1"); err != nil {
		t.Logf("the writer's pod %s: %v", w.pod, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := kube.ExecCapture(ctx, w.env.Config, w.env.Client, w.ns, w.pod, "database", []string{"touch", writerStop}); err != nil {
		t.Errorf("stopping the writer: %v", err)
	}
	select {
	case <-w.done:
	case <-time.After(time.Minute):
		t.Errorf("the writer did not stop within a minute")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.acked...)
}

// pgbenchRun is pgbench running through the Service from a pod.
type pgbenchRun struct {
	out  chan string
	once sync.Once
	last string
}

func startPGBench(t *testing.T, env *framework.Env, ns, pod, service, password string) *pgbenchRun {
	t.Helper()
	b := &pgbenchRun{out: make(chan string, 1)}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, stderr, err := kube.ExecCapture(ctx, env.Config, env.Client, ns, pod, "database",
			[]string{"env", "PGPASSWORD=" + password, "pgbench", "-h", service, "-U", "postgres", "-c", "2", "-T", "90", "-n", "postgres"})
		b.out <- fmt.Sprintf("%v; %s", err, lastLines(out+stderr, 4))
	}()
	return b
}

// wait returns pgbench's end: it stops with an error when the primary goes away.
func (b *pgbenchRun) wait() string {
	b.once.Do(func() {
		select {
		case b.last = <-b.out:
		case <-time.After(3 * time.Minute):
			b.last = "still running after 3m"
		}
	})
	return b.last
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
