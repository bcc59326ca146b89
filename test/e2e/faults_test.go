package e2e

// Fault drills: each breaks one thing while the cluster works, and proves
// with data and with pgBackRest (verify, check) that nothing was lost and
// that the commands said what happened.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// faultCluster creates a cluster for a drill in a namespace of its own.
func faultCluster(t *testing.T, env *framework.Env, ns, name string, flags ...string) *restoreCluster {
	t.Helper()
	res := env.PGO(t, append([]string{"create", "cluster", name, "-n", ns, "--wait"}, flags...)...)
	if res.ExitCode != 0 {
		t.Fatalf("create cluster:\n%s", res)
	}
	return &restoreCluster{env: env, ns: ns, name: name}
}

// execIn runs a command in a container, and returns its output and error
// without failing the test.
func (c *restoreCluster) execIn(pod, container string, command ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdout, stderr, err := kube.ExecCapture(ctx, c.env.Config, c.env.Client, c.ns, pod, container, command)
	return stdout + stderr, err
}

// repoPod is the repository host's pod.
func (c *restoreCluster) repoPod(t *testing.T) string {
	t.Helper()
	return repoHostPod(t, c.env, c.ns, c.name).Name
}

// pgbackrestCheck runs pgbackrest check in the database pod: both sides'
// configuration, and a WAL segment that reaches the repository.
func (c *restoreCluster) pgbackrestCheck(t *testing.T) {
	t.Helper()
	out, err := c.execIn(cluster.PodName(c.name), "database", "pgbackrest", "--stanza=db", "--log-level-console=info", "check")
	if err != nil || !strings.Contains(out, "check command end: completed successfully") {
		t.Errorf("pgbackrest check failed: %v\n%s", err, out)
		return
	}
	t.Logf("pgbackrest check: %s", regexp.MustCompile(`WAL segment \S+ successfully archived[^\n]*`).FindString(out))
}

// verify runs pgbackrest verify in the repository host: every backup file
// and WAL segment against its checksum. It returns the summary line of the
// archive.
func (c *restoreCluster) verify(t *testing.T) string {
	t.Helper()
	out, err := c.execIn(c.repoPod(t), "pgbackrest", "pgbackrest", "--stanza=db", "verify", "--output=text", "--verbose")
	if err != nil || !regexp.MustCompile(`(?m)^status: ok$`).MatchString(out) {
		t.Errorf("pgbackrest verify failed: %v\n%s", err, out)
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "missing:") && l != "missing: 0, checksum invalid: 0, size invalid: 0, other: 0" {
			t.Errorf("pgbackrest verify found bad files: %s\n%s", l, out)
		}
	}
	summary := regexp.MustCompile(`archiveId: \S+ total WAL checked: \d+, total valid WAL: \d+`).FindString(out)
	t.Logf("pgbackrest verify: status ok; %s; %d backups valid", summary, strings.Count(out, "status: valid"))
	return summary
}

var walSegment = regexp.MustCompile(`^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})-[0-9a-f]{40}`)

// walGaps lists the WAL segments missing between the oldest and the
// newest segment of timeline 1 in the repository (16 MiB segments: 256 a
// log file).
func (c *restoreCluster) walGaps(t *testing.T) (count int, gaps []string) {
	t.Helper()
	return c.walFilesGaps(t, 1, 0)
}

// walGapsOn is walGaps of timeline tl (as timelineSQL prints it), from the
// segment of its fork, which the running database's history file names.
func (c *restoreCluster) walGapsOn(t *testing.T, tl string) []string {
	t.Helper()
	n, err := strconv.Atoi(tl)
	if err != nil {
		t.Fatalf("timeline %q: %v", tl, err)
	}
	var fork uint64
	if n > 1 {
		// The last line of the history file: the parent, the switch point, the reason. The
		// timeline begins with the segment that holds the switch point (pg_walfile_name names
		// the one before for an LSN at a segment's start: hence + 1).
		seg := c.one(t, fmt.Sprintf(`SELECT pg_walfile_name(split_part(split_part(rtrim(pg_read_file('pg_wal/%08X.history'), E'\n'), E'\n', -1), E'\t', 2)::pg_lsn + 1)`, n))
		m := walSegment.FindStringSubmatch(seg + "-" + strings.Repeat("0", 40))
		if m == nil {
			t.Fatalf("the fork segment of timeline %d: %q", n, seg)
		}
		log, _ := strconv.ParseUint(m[2], 16, 32)
		s, _ := strconv.ParseUint(m[3], 16, 32)
		fork = log*256 + s
	}
	_, gaps := c.walFilesGaps(t, n, fork)
	return gaps
}

// walFilesGaps reads the repository's files, apart from what kubectl pgo
// reports of them: the segments of timeline missing between the first
// (or from, when it is not 0) and the newest one archived.
func (c *restoreCluster) walFilesGaps(t *testing.T, timeline int, from uint64) (count int, gaps []string) {
	t.Helper()
	dir := cluster.DefaultRepoPath(c.name) + "/archive/db"
	prefix := fmt.Sprintf("%08X", timeline)
	out, err := c.execIn(c.repoPod(t), "pgbackrest", "find", dir, "-type", "f", "-name", prefix+"*")
	if err != nil {
		t.Fatalf("list the WAL archive: %v\n%s", err, out)
	}
	return segmentGaps(strings.Fields(out), timeline, from)
}

// segmentGaps reads the WAL segments of timeline among the archive's file
// paths (of a volume or an object store), and returns how many there are
// and those missing between the first (or from, when it is not 0) and the
// newest.
func segmentGaps(files []string, timeline int, from uint64) (count int, gaps []string) {
	prefix := fmt.Sprintf("%08X", timeline)
	var segs []uint64
	for _, f := range files {
		base := path.Base(f)
		m := walSegment.FindStringSubmatch(base)
		if m == nil || !strings.HasPrefix(base, prefix) {
			continue // .backup and .history files, other timelines
		}
		log, _ := strconv.ParseUint(m[2], 16, 32)
		seg, _ := strconv.ParseUint(m[3], 16, 32)
		segs = append(segs, log*256+seg)
	}
	slices.Sort(segs)
	segs = slices.Compact(segs)
	if from > 0 && len(segs) > 0 && segs[0] > from {
		segs = append([]uint64{from - 1}, segs...) // from is expected: count it as missing
	}
	for i := 1; i < len(segs); i++ {
		for s := segs[i-1] + 1; s < segs[i]; s++ {
			gaps = append(gaps, fmt.Sprintf("%s%08X%08X", prefix, s/256, s%256))
		}
	}
	return len(segs), gaps
}

// noWALMissing fails the test when the archive of timeline 1 has a gap.
func (c *restoreCluster) noWALMissing(t *testing.T) {
	t.Helper()
	n, gaps := c.walGaps(t)
	if len(gaps) > 0 {
		t.Errorf("WAL segments missing from the archive: %v", gaps)
	}
	t.Logf("WAL archive of timeline 1: %d segments, none missing", n)
}

// waitDatabase waits until psql answers in the database pod.
func (c *restoreCluster) waitDatabase(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		out, err := c.execIn(cluster.PodName(c.name), "database", "psql", "-XAtq", "-c", "SELECT pg_is_in_recovery()")
		if err == nil && strings.TrimSpace(out) == "f" {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("the database does not answer after %s: %v %s", timeout, err, out)
		}
		time.Sleep(time.Second)
	}
}

// pgbench fills the database with pgbench's tables at a small scale.
func (c *restoreCluster) pgbench(t *testing.T, scale int) {
	t.Helper()
	start := time.Now()
	out, err := c.execIn(cluster.PodName(c.name), "database", "pgbench", "-i", "-q", "-s", strconv.Itoa(scale), "postgres")
	if err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	t.Logf("pgbench -i -s %d: %s in %s", scale, c.one(t, "SELECT pg_size_pretty(pg_database_size('postgres'))"), time.Since(start).Round(100*time.Millisecond))
}

// podLog returns the log of a pod's only container.
func podLog(env *framework.Env, ns, pod string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data, err := env.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return ""
	}
	return string(data)
}

// logClusterPods logs the status and the last lines of every container of the cluster's
// pods: what a failed create --wait leaves to read once the namespace is gone.
func logClusterPods(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	pods, err := env.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: cluster.ClusterSelector(name).String()})
	if err != nil {
		t.Logf("the pods of cluster %s: %v", name, err)
		return
	}
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			lines := strings.Split(strings.TrimSpace(podLogOf(t, env, ns, p.Name, c.Name)), "\n")
			lines = lines[max(0, len(lines)-40):]
			t.Logf("pod %s (%s), container %s, last %d lines of its log:\n%s", p.Name, p.Status.Phase, c.Name, len(lines), strings.Join(lines, "\n"))
		}
	}
}

// podLogOf is the log of one container of a pod.
func podLogOf(t *testing.T, env *framework.Env, ns, pod, container string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data, err := env.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		t.Logf("the log of %s/%s: %v", pod, container, err)
	}
	return string(data)
}

// waitJobPodLog waits until a pod matching selector has logged want (and,
// with running, still runs), and returns the pod's name, or "" after
// timeout.
func waitJobPodLog(env *framework.Env, ns, selector, want string, timeout time.Duration, running bool) string {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		pods, err := env.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			for _, p := range pods.Items {
				if (!running || p.Status.Phase == corev1.PodRunning) && strings.Contains(podLog(env, ns, p.Name), want) {
					return p.Name
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return ""
}

// pluginStalled stops the plugin started by startPGO and fails with what
// it printed, which tells where it stopped.
func pluginStalled(t *testing.T, proc *exec.Cmd, wait func() framework.Result, what string) {
	t.Helper()
	_ = proc.Process.Kill()
	t.Fatalf("%s; the plugin printed:\n%s", what, wait())
}

// start runs kubectl pgo in the background; wait returns its result.
func startPGO(t *testing.T, env *framework.Env, args ...string) (*exec.Cmd, func() framework.Result) {
	t.Helper()
	c := exec.Command("kubectl", append([]string{"pgo"}, args...)...)
	c.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
	var stdout, stderr strings.Builder
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("$ kubectl pgo %s & (pid %d)", strings.Join(args, " "), c.Process.Pid)
	var once sync.Once
	var res framework.Result
	return c, func() framework.Result {
		once.Do(func() {
			err := c.Wait()
			res = framework.Result{Stdout: stdout.String(), Stderr: stderr.String()}
			if exitErr, ok := err.(*exec.ExitError); ok {
				res.ExitCode = exitErr.ExitCode()
				if res.ExitCode < 0 {
					res.ExitCode = -1 // killed by a signal
				}
			} else if err != nil {
				t.Errorf("kubectl pgo %v: %v", args, err)
			}
		})
		return res
	}
}

// Drill 1: the backup Job, which is the repository host of its backup,
// loses its pod in the middle of a full backup. The backup reports the
// failure; the next one succeeds; verify and check pass, no WAL is missing,
// and a restore from the new backup has the data.
func TestFaultBackupPodKilled(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := faultCluster(t, env, ns, "drill1")
	// Large enough that the backup still runs when its pod is deleted: pgBackRest 2.60 (18)
	// copied scale 8 (127 MB, 18 MiB compressed) within the second the deletion takes.
	c.pgbench(t, 40)
	accounts := c.one(t, "SELECT count(*) FROM pgbench_accounts")

	backupDir := cluster.DefaultRepoPath(c.name) + "/backup/db"
	copied := func() int64 {
		out, err := c.execIn(c.repoPod(t), "pgbackrest", "du", "-s", "-B1", backupDir)
		if err != nil {
			t.Fatalf("du %s: %v %s", backupDir, err, out)
		}
		return int64(mustAtoi(t, strings.Fields(out)[0]))
	}
	base := copied()
	start := time.Now()
	proc, wait := startPGO(t, env, "backup", c.name, "-n", ns, "--type=full", "--wait")
	// Timeouts are generous: the machine may be busy.
	pod := waitJobPodLog(env, ns, jobs.BackupSelector(c.name).String(), "backup start archive = ", 5*time.Minute, true)
	if pod == "" {
		pluginStalled(t, proc, wait, "no running backup pod logged its start within 5m")
	}
	// Kill it while it copies the files: once 2 MiB are in the repository.
	for n := copied(); n < base+2<<20; n = copied() {
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("the backup has not copied 2 MiB after 5m (%d bytes)", n-base)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := env.Client.CoreV1().Pods(ns).Delete(context.Background(), pod, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](1)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted the backup Job's pod %s %s after the backup started, with %.1f MiB copied to the repository",
		pod, time.Since(start).Round(100*time.Millisecond), float64(copied()-base)/(1<<20))
	res := wait()
	took := time.Since(start)
	t.Logf("the interrupted backup returned in %s with exit %d:\n%s", took.Round(100*time.Millisecond), res.ExitCode, res.Stderr)
	if res.ExitCode == 0 {
		t.Fatalf("the interrupted backup reported success:\n%s", res)
	}
	if !strings.Contains(res.Stderr, "failed") || !strings.Contains(res.Stderr, c.name+"-backup-full-") {
		t.Errorf("the failure does not say that the backup Job failed:\n%s", res.Stderr)
	}
	info := c.env.PGO(t, "show", "backup", c.name, "-n", ns, "-o", "json")
	if strings.Contains(info.Stdout, `"label"`) {
		t.Errorf("the interrupted backup is listed as a backup:\n%s", info.Stdout)
	}

	label, took2 := (&bkCluster{env: env, ns: ns, name: c.name}).backupWait(t, "full")
	t.Logf("the next full backup %s succeeded in %s", label, took2.Round(100*time.Millisecond))
	c.pgbackrestCheck(t)
	c.verify(t)
	c.noWALMissing(t)

	c.sql(t, "CREATE TABLE marker AS SELECT 'after the drill' AS v")
	c.switchAndArchive(t)
	c.restore(t)
	if got := c.one(t, "SELECT count(*) FROM pgbench_accounts"); got != accounts {
		t.Errorf("after the restore, pgbench_accounts has %s rows, want %s", got, accounts)
	}
	if got := c.rows(t, "marker"); !slices.Equal(got, []string{"after the drill"}) {
		t.Errorf("after the restore, marker = %q", got)
	}
	c.pgbackrestCheck(t)
}

// Drill 2: PostgreSQL is killed (SIGKILL of the postmaster: a crash, no
// shutdown checkpoint) while rows are committed one by one and WAL
// segments are switched and archived. After crash recovery every
// acknowledged row is there with no gap, archiving goes on with failed_count
// not growing, and a restore to the end of the archive has every row.
func TestFaultPrimaryKilled(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := faultCluster(t, env, ns, "drill2")
	c.sql(t, "CREATE TABLE t (v int PRIMARY KEY)")
	c.backup(t)
	archivedBefore := mustAtoi(t, c.one(t, "SELECT archived_count FROM pg_stat_archiver"))

	// One psql session commits rows 1, 2, 3, ... (autocommit) and switches
	// the WAL segment every 200 rows, so segments are archived meanwhile.
	var script strings.Builder
	for i := 1; i <= 50000; i++ {
		fmt.Fprintf(&script, "INSERT INTO t VALUES (%d) RETURNING v;\n", i)
		if i%200 == 0 {
			script.WriteString("SELECT pg_switch_wal() IS NULL;\n")
		}
	}
	var acked atomic.Int64
	pr, pw := io.Pipe()
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			if v, err := strconv.ParseInt(s.Text(), 10, 64); err == nil && v > acked.Load() {
				acked.Store(v)
			}
		}
	}()
	// stdin is a pipe that the test closes after the kill: the exec ends
	// only once its stdin is done.
	stdinR, stdinW := io.Pipe()
	go func() {
		_, _ = io.WriteString(stdinW, script.String())
		stdinW.Close()
	}()
	writerCtx, cancelWriter := context.WithCancel(context.Background())
	defer cancelWriter()
	writerDone := make(chan error, 1)
	go func() {
		err := kube.Exec(writerCtx, env.Config, env.Client, ns, cluster.PodName(c.name), "database",
			[]string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1"}, stdinR, pw, io.Discard)
		pw.Close()
		writerDone <- err
	}()

	// Kill once rows are being committed and segments archived.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		row := c.one(t, "SELECT (SELECT count(*) FROM t), archived_count FROM pg_stat_archiver")
		n, archived, _ := strings.Cut(row, "|")
		if mustAtoi(t, n) >= 1000 && mustAtoi(t, archived) >= archivedBefore+3 {
			t.Logf("before the kill: %s rows committed, %d segments archived during the writes", n, mustAtoi(t, archived)-archivedBefore)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer did not reach 1000 rows and 3 archived segments in 5m (%s)", row)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, _ := c.execIn(cluster.PodName(c.name), "database", "bash", "-c",
		"kill -KILL $(head -1 "+cluster.DataDirectory(c.name)+"/postmaster.pid)")
	stdinW.CloseWithError(errors.New("the postmaster was killed"))
	var werr error
	select {
	case werr = <-writerDone:
	case <-time.After(30 * time.Second):
		cancelWriter()
		werr = <-writerDone
	}
	if werr == nil {
		t.Fatalf("the writer finished all its rows before the kill (%s)", out)
	}
	ack := acked.Load()
	t.Logf("postmaster killed; the writer stopped with: %v; last row acknowledged to the client: %d", werr, ack)

	back := c.waitDatabase(t, 3*time.Minute)
	t.Logf("PostgreSQL answered again %s after the kill (crash recovery)", back.Round(100*time.Millisecond))
	row := c.one(t, "SELECT count(*), coalesce(max(v), 0) FROM t")
	n, maxV, _ := strings.Cut(row, "|")
	if n != maxV || mustAtoi(t, maxV) < int(ack) {
		t.Fatalf("after crash recovery t has %s rows up to %s; want rows 1..N with N >= %d (the last acknowledged)", n, maxV, ack)
	}
	t.Logf("after crash recovery: rows 1..%s, none missing (the client saw %d acknowledged)", maxV, ack)

	failedBefore := mustAtoi(t, c.one(t, "SELECT failed_count FROM pg_stat_archiver"))
	c.switchAndArchive(t)
	c.switchAndArchive(t)
	archiver := c.one(t, "SELECT archived_count, failed_count, last_archived_wal FROM pg_stat_archiver")
	parts := strings.Split(archiver, "|")
	if mustAtoi(t, parts[1]) != failedBefore {
		t.Errorf("failed_count grew after the restart: %d, then %s", failedBefore, parts[1])
	}
	t.Logf("archiving resumed: archived_count %s since the restart, failed_count %s, last %s", parts[0], parts[1], parts[2])

	before := c.rows(t, "t")
	_, took := c.restore(t)
	after := c.rows(t, "t")
	if !slices.Equal(before, after) {
		t.Errorf("the restore to the end of the archive has %d rows, the database had %d", len(after), len(before))
	}
	t.Logf("restore to the latest point (pgbackrest restore %s): %d of %d rows, every committed row", took, len(after), len(before))
	c.pgbackrestCheck(t)
	c.verify(t)
}

// Drill 3: a point-in-time restore is interrupted twice over: the plugin
// is killed, and the restore Job deleted, as soon as the Job's pod exists
// (pgbackrest restore of this small database takes under a second, too
// short a window to aim at). The database stays stopped; running restore
// again completes, and the data is what the target says.
func TestFaultRestoreInterrupted(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := faultCluster(t, env, ns, "drill3")
	c.pgbench(t, 4)
	c.sql(t, "CREATE TABLE t AS SELECT generate_series(1, 100) AS v")
	c.backup(t)
	c.sql(t, "INSERT INTO t SELECT generate_series(101, 150)")
	c.switchAndArchive(t)
	target := c.one(t, "SELECT now()")
	time.Sleep(1100 * time.Millisecond)
	c.sql(t, "INSERT INTO t SELECT generate_series(151, 200)")
	c.switchAndArchive(t)

	proc, wait := startPGO(t, env, "restore", c.name, "-n", ns, "--yes", "--pitr-target="+target)
	jobSelector := "batch.kubernetes.io/job-name=" + jobs.RestoreJobName(c.name)
	pod := waitJobPodLog(env, ns, jobSelector, "", 5*time.Minute, false)
	if pod == "" {
		pluginStalled(t, proc, wait, "no restore Job pod within 5m")
	}
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	res := wait()
	t.Logf("killed the plugin once the restore Job's pod %s existed (exit %d)", pod, res.ExitCode)
	ctx := context.Background()
	err := env.Client.BatchV1().Jobs(ns).Delete(ctx, jobs.RestoreJobName(c.name), metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, env, ns, pod)
	log := podLog(env, ns, pod)
	t.Logf("deleted the restore Job; pgbackrest restore had begun: %v, completed: %v",
		strings.Contains(log, "restore command begin"), strings.Contains(log, "restore command end: completed successfully"))
	if c.replicas(t) != 0 {
		t.Errorf("after the interruption the StatefulSet has %d replicas, want 0 (stopped)", c.replicas(t))
	}

	res2, took := c.restore(t, "--pitr-target="+target)
	t.Logf("the second restore completed; pgbackrest restore took %s:\n%s", took, res2.Stdout)
	want := make([]string, 150)
	for i := range want {
		want[i] = strconv.Itoa(i + 1)
	}
	slices.Sort(want)
	got := c.rows(t, "t")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("after the restore t has %d rows (%v...), want 1..150", len(got), got[:min(5, len(got))])
	}
	if n := c.one(t, "SELECT count(*) FROM pgbench_accounts"); n != "400000" {
		t.Errorf("pgbench_accounts has %s rows, want 400000", n)
	}
	c.pgbackrestCheck(t)
	c.verify(t)
}

// Drill 4: the API server takes connections and never answers. show
// backup and doctor give up after --request-timeout with an error that
// says so, and a non-zero exit.
func TestFaultAPIServerUnavailable(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	config, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	server := "https://" + l.Addr().String()
	for _, c := range config.Clusters {
		c.Server = server
	}
	kubeconfig := filepath.Join(t.TempDir(), "blackhole.kubeconfig")
	if err := clientcmd.WriteToFile(*config, kubeconfig); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{
		{"show", "backup", "hippo", "-n", "default"},
		{"show", "backup", "-A"},
		{"doctor", "hippo", "-n", "default"},
	} {
		start := time.Now()
		res := env.PGO(t, append(args, "--kubeconfig="+kubeconfig, "--request-timeout=3s")...)
		took := time.Since(start)
		t.Logf("%s: exit %d after %s: %s", strings.Join(args, " "), res.ExitCode, took.Round(100*time.Millisecond), strings.TrimSpace(res.Stderr))
		if res.ExitCode == 0 {
			t.Errorf("%v succeeded against a server that never answers:\n%s", args, res)
		}
		if !strings.Contains(res.Stderr, l.Addr().String()) || !strings.Contains(res.Stderr, "did not answer") {
			t.Errorf("%v: the error does not name the server and say it did not answer:\n%s", args, res.Stderr)
		}
		// A guard against a hang, not a speed test.
		if took > 30*time.Second {
			t.Errorf("%v returned after %s with --request-timeout=3s", args, took)
		}
	}
	mu.Lock()
	n := len(held)
	mu.Unlock()
	if n == 0 {
		t.Error("no command connected to the listener: the test did not test the timeout")
	}
}

// Drill 5: the repository's volume is full. The local provisioner's
// hostPath volumes do not enforce their size, so the repository PVC is
// bound to a PersistentVolume of our own: a 64 MiB tmpfs mounted on the
// node, of a StorageClass without a provisioner. A file
// written from the repository host fills it; backups and archive-push
// then fail with "No space left on device", show archive and doctor say
// so, and removing the file recovers.
func TestFaultRepositoryFull(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m,mode=0777", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for a small volume (needs root on the node): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	name := "drill5"
	// Registered before the namespace, so it runs after the namespace and
	// its pods are gone.
	pvName, className := "", ""
	t.Cleanup(func() {
		if pvName != "" {
			if err := env.Client.CoreV1().PersistentVolumes().Delete(context.Background(), pvName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete PersistentVolume %s: %v", pvName, err)
			}
		}
		if className != "" {
			if err := env.Client.StorageV1().StorageClasses().Delete(context.Background(), className, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete StorageClass %s: %v", className, err)
			}
		}
	})
	ns := env.Namespace(t)
	class := ns + "-tmpfs"
	// A class without a provisioner: only our PersistentVolume serves it.
	sc := &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: class, Labels: map[string]string{"kubectl-pgo.io/e2e": "true"}},
		Provisioner: "kubernetes.io/no-provisioner",
	}
	if _, err := env.Client.StorageV1().StorageClasses().Create(context.Background(), sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	className = class
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-repo", Labels: map[string]string{"kubectl-pgo.io/e2e": "true"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: cluster.RepoPVCName(name)},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: ptr.To(corev1.HostPathDirectory)},
			},
		},
	}
	if _, err := env.Client.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvName = pv.Name
	c := faultCluster(t, env, ns, name, "--pgbackrest-pvc-size=64Mi", "--pgbackrest-storage-class="+class)
	c.sql(t, "CREATE TABLE t AS SELECT generate_series(1, 100) AS v")
	c.backup(t)
	r, res := doctorReport(t, env, ns, name)
	if !r.Healthy {
		t.Fatalf("doctor before the drill:\n%s", res)
	}
	t.Logf("before: %s", doctorStatus(t, r, "repo1 PVC usage").Detail)

	// Fill the volume from the repository host.
	fill := path.Dir(cluster.DefaultRepoPath(name)) + "/fill"
	out, _ := c.execIn(c.repoPod(t), "pgbackrest", "dd", "if=/dev/zero", "of="+fill, "bs=1M")
	if !strings.Contains(out, "No space left on device") {
		t.Fatalf("dd did not fill the volume:\n%s", out)
	}
	df, _ := c.execIn(c.repoPod(t), "pgbackrest", "df", "-h", fill)
	t.Logf("volume filled:\n%s", df)

	// A backup fails, and says why.
	res = env.PGO(t, "backup", name, "-n", ns, "--type=full", "--wait")
	t.Logf("backup on a full repository: exit %d\n%s", res.ExitCode, res.Stderr)
	if res.ExitCode == 0 {
		t.Errorf("a backup to a full repository succeeded:\n%s", res)
	}
	if !strings.Contains(res.Stderr, "The repository volume is full: 100% used") {
		t.Errorf("the backup's failure does not say the repository is full:\n%s", res)
	}

	// archive-push fails: pg_stat_archiver and show archive say so.
	c.sql(t, "INSERT INTO t SELECT generate_series(101, 200)")
	c.one(t, "SELECT pg_walfile_name(pg_switch_wal())")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		row := c.one(t, "SELECT failed_count, coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) FROM pg_stat_archiver")
		if failed, failing, _ := strings.Cut(row, "|"); mustAtoi(t, failed) > 0 && failing == "t" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive-push has not failed after 2m: %s", row)
		}
		time.Sleep(time.Second)
	}
	res = env.PGO(t, "show", "archive", name, "-n", ns, "--no-check")
	t.Logf("show archive:\n%s%s", res.Stdout, res.Stderr)
	if res.ExitCode == 0 || !strings.Contains(res.Stdout, "(failing now)") || !strings.Contains(res.Stderr, "the last archive attempt failed") {
		t.Errorf("show archive does not report the failing archive-push:\n%s", res)
	}

	// doctor fails, with the full volume and the failing archive.
	res = env.PGO(t, "doctor", name, "-n", ns)
	t.Logf("doctor on a full repository:\n%s%s", res.Stdout, res.Stderr)
	if res.ExitCode == 0 {
		t.Errorf("doctor passed a full repository")
	}
	for _, want := range []string{"✗   repo1 PVC usage", "filesystem 100% used", "✗   WAL archiving", "the last attempt failed", "✗   pgbackrest check", "fix: free space"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("doctor's output lacks %q", want)
		}
	}

	// Freeing the space recovers: archiving catches up, a backup works.
	if out, err := c.execIn(c.repoPod(t), "pgbackrest", "rm", fill); err != nil {
		t.Fatalf("rm %s: %v %s", fill, err, out)
	}
	c.switchAndArchive(t)
	label, _ := (&bkCluster{env: env, ns: ns, name: name}).backupWait(t, "full")
	t.Logf("after freeing the space, backup %s succeeded", label)
	r, res = doctorReport(t, env, ns, name)
	if !r.Healthy {
		t.Errorf("doctor after freeing the space:\n%s", res)
	}
	t.Logf("after: %s; %s", doctorStatus(t, r, "repo1 PVC usage").Detail, doctorStatus(t, r, "WAL archiving").Detail)
	c.pgbackrestCheck(t)
	c.verify(t)
	c.noWALMissing(t)
	if got := c.one(t, "SELECT count(*) FROM t"); got != "200" {
		t.Errorf("t has %s rows, want 200", got)
	}
}
