package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// bkCluster is the cluster of TestBackup, with helpers.
type bkCluster struct {
	env      *framework.Env
	ns, name string
}

// newBkCluster creates cluster hippo, ready, in a namespace of the test's own.
func newBkCluster(t *testing.T, createArgs ...string) *bkCluster {
	t.Helper()
	env := framework.Setup(t)
	c := &bkCluster{env: env, ns: env.Namespace(t), name: "hippo"}
	start := time.Now()
	if res := c.pgo(t, append([]string{"create", "cluster", c.name, "--wait", "--timeout=5m"}, createArgs...)...); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	t.Logf("create cluster --wait: %s", time.Since(start).Round(time.Second))
	return c
}

// pgo runs kubectl pgo in the cluster's namespace.
func (c *bkCluster) pgo(t *testing.T, args ...string) framework.Result {
	t.Helper()
	return c.env.PGO(t, append([]string{"-n", c.ns}, args...)...)
}

// backupJobs lists the cluster's backup Jobs.
func (c *bkCluster) backupJobs(t *testing.T) []batchv1.Job {
	t.Helper()
	list, err := c.env.Client.BatchV1().Jobs(c.ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: jobs.BackupSelector(c.name).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitJobsFinished waits until every backup Job of the cluster has
// finished.
func (c *bkCluster) waitJobsFinished(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		running := ""
		for _, j := range c.backupJobs(t) {
			if !jobs.Finished(&j) {
				running = j.Name
			}
		}
		if running == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup Job %s has not finished after 1m", running)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// sql runs a statement with psql in the database container.
func (c *bkCluster) sql(t *testing.T, query string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, err := kube.ExecCapture(ctx, c.env.Config, c.env.Client, c.ns, cluster.PodName(c.name), "database",
		[]string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", query})
	if err != nil {
		t.Fatalf("psql %q: %v", query, err)
	}
	return strings.TrimSpace(out)
}

// scale sets the replicas of the StatefulSet or Deployment and waits for
// its pods to be gone (0) or ready (1).
func (c *bkCluster) scale(t *testing.T, kind, name string, replicas int, selector string) {
	t.Helper()
	if res := c.env.Run(t, "kubectl", "-n", c.ns, "scale", kind, name, fmt.Sprintf("--replicas=%d", replicas)); res.ExitCode != 0 {
		t.Fatalf("scale %s/%s:\n%s", kind, name, res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		pods, err := c.env.Client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			if replicas == 0 && len(pods.Items) == 0 {
				return
			}
			if replicas > 0 {
				if _, err := kube.FindRunningPod(ctx, c.env.Client, c.ns, selector); err == nil {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s/%s did not reach %d ready replicas in 3m", kind, name, replicas)
		case <-time.After(time.Second):
		}
	}
}

// shownBackups are the pgBackRest backups that show backup -o json lists,
// oldest first.
func (c *bkCluster) shownBackups(t *testing.T) []repo.BackupSummary {
	t.Helper()
	res := c.pgo(t, "show", "backup", c.name, "-o", "json")
	if res.ExitCode != 0 {
		t.Fatalf("show backup failed:\n%s", res)
	}
	var got cmd.ClusterBackups
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil || got.Repository == nil {
		t.Fatalf("show backup -o json: %v\n%s", err, res.Stdout)
	}
	return got.Repository.Backups
}

var bkLabelLine = regexp.MustCompile(`(?m)^backup (\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?) completed in \S+: (full|diff|incr), `)

// backupWait takes a backup with --wait and returns its label, checking
// the output on the way.
func (c *bkCluster) backupWait(t *testing.T, typ string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	res := c.pgo(t, "backup", c.name, "--type="+typ, "--wait")
	took := time.Since(start)
	if res.ExitCode != 0 {
		t.Fatalf("backup --type=%s --wait failed:\n%s", typ, res)
	}
	return bkCheckWaitOutput(t, res, typ), took
}

// bkCheckWaitOutput checks what backup --wait printed and returns the
// label.
func bkCheckWaitOutput(t *testing.T, res framework.Result, typ string) string {
	t.Helper()
	// The Job's name, pgBackRest's log as it came, and the label that
	// pgbackrest info confirmed.
	for _, want := range []string{"started: pgbackrest " + typ + " backup of cluster", "INFO: backup command begin", "INFO: new backup label = ", "INFO: backup command end: completed successfully"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("backup --wait output lacks %q:\n%s", want, res)
		}
	}
	m := bkLabelLine.FindStringSubmatch(res.Stdout)
	if m == nil || m[2] != typ {
		t.Fatalf("backup --wait did not end with the new %s backup's label:\n%s", typ, res)
	}
	if !strings.Contains(res.Stdout, "new backup label = "+m[1]) {
		t.Errorf("the label printed (%s) is not the one in the log:\n%s", m[1], res.Stdout)
	}
	return m[1]
}

// bkRun runs kubectl pgo without a *testing.T, for a goroutine.
func bkRun(env *framework.Env, args ...string) (framework.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "kubectl", append([]string{"pgo"}, args...)...)
	c.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	res := framework.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		res.ExitCode, err = exitErr.ExitCode(), nil
	}
	framework.Record(args, res)
	return res, err
}

// One cluster, shared by the backup assertions, in order: nothing to show,
// full/diff/incr with --wait (and a second backup refused while the full
// runs), show backup and show archive, refusals, and a backup that fails.
func TestBackup(t *testing.T) {
	t.Parallel()
	c := newBkCluster(t)
	env := c.env

	t.Run("no backups yet", func(t *testing.T) {
		res := c.pgo(t, "show", "backup", c.name)
		if res.ExitCode != 0 {
			t.Fatalf("show backup failed:\n%s", res)
		}
		if !strings.Contains(res.Stdout, "status: no backups yet") || !strings.Contains(res.Stdout, "\n    no backups yet\n") {
			t.Errorf("show backup does not say plainly that there are no backups:\n%s", res.Stdout)
		}
	})

	var full, diff, incr string
	var fullTook time.Duration
	t.Run("full while a second is refused, diff, incr", func(t *testing.T) {
		// The full backup runs in the background; while its Job is active,
		// a second backup is refused and names it.
		type outcome struct {
			res  framework.Result
			err  error
			took time.Duration
		}
		done := make(chan outcome, 1)
		go func() {
			s := time.Now()
			res, err := bkRun(env, "-n", c.ns, "backup", c.name, "--type=full", "--wait")
			done <- outcome{res, err, time.Since(s)}
		}()
		var running string
		deadline := time.Now().Add(2 * time.Minute)
		for running == "" && time.Now().Before(deadline) {
			for _, j := range c.backupJobs(t) {
				if jobs.State(&j) == jobs.StateRunning {
					running = j.Name
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		if running == "" {
			o := <-done
			t.Fatalf("no backup Job became active:\n%s", o.res)
		}
		second := c.pgo(t, "backup", c.name, "--type=incr")
		if second.ExitCode == 0 || !strings.Contains(second.Stderr, "a backup of cluster hippo is already running: Job "+running) ||
			!strings.Contains(second.Stderr, "Nothing was started") {
			t.Errorf("a second backup was not refused with the running Job's name (%s):\n%s", running, second)
		}
		if n := len(c.backupJobs(t)); n != 1 {
			t.Errorf("%d backup Jobs after the refusal, want 1", n)
		}
		o := <-done
		if o.err != nil || o.res.ExitCode != 0 {
			t.Fatalf("the full backup failed (%v):\n%s", o.err, o.res)
		}
		full, fullTook = bkCheckWaitOutput(t, o.res, "full"), o.took
		t.Logf("full backup through the plugin (backup --wait, command start to exit): %s", fullTook.Round(10*time.Millisecond))

		c.sql(t, "CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 50000) g")
		diff, _ = c.backupWait(t, "diff")
		c.sql(t, "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
		incr, _ = c.backupWait(t, "incr")
	})
	if full == "" || diff == "" || incr == "" {
		t.Fatal("the backups were not all taken")
	}

	t.Run("show backup lists them in order with references", func(t *testing.T) {
		// backup --wait returns when pgBackRest has exited; the Job
		// controller marks the last Job Complete a few seconds later.
		c.waitJobsFinished(t)
		res := c.pgo(t, "show", "backup", c.name)
		if res.ExitCode != 0 {
			t.Fatalf("show backup failed:\n%s", res)
		}
		out := res.Stdout
		i, j, k := strings.Index(out, "full backup: "+full), strings.Index(out, "diff backup: "+diff), strings.Index(out, "incr backup: "+incr)
		if i < 0 || j < 0 || k < 0 || !(i < j && j < k) {
			t.Errorf("show backup does not list full, diff, incr in order:\n%s", out)
		}
		for _, want := range []string{
			"backup reference list: " + full + "\n",
			"backup reference list: " + full + ", " + diff + "\n",
			"status: ok", "cipher: none", "wal archive min/max (" + defaultArchiveID + "): 0000000",
			"timestamp start/stop: 20", " UTC / 20", "backup jobs:",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("show backup lacks %q:\n%s", want, out)
			}
		}

		res = c.pgo(t, "show", "backup", c.name, "-o", "json")
		if res.ExitCode != 0 {
			t.Fatalf("show backup -o json failed:\n%s", res)
		}
		var got cmd.ClusterBackups
		if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
			t.Fatalf("show backup -o json is not JSON: %v\n%s", err, res.Stdout)
		}
		r := got.Repository
		if r == nil || r.Status != repo.SummaryOK || len(r.Backups) != 3 {
			t.Fatalf("JSON: %s", res.Stdout)
		}
		b := r.Backups
		if b[0].Label != full || b[1].Label != diff || b[2].Label != incr ||
			b[0].Type != "full" || b[1].Type != "diff" || b[2].Type != "incr" ||
			len(b[0].References) != 0 || strings.Join(b[1].References, ",") != full ||
			strings.Join(b[2].References, ",") != full+","+diff || b[2].Prior != diff {
			t.Errorf("backups in JSON: %+v", b)
		}
		for _, x := range b {
			if x.Start.Location() != time.UTC || x.Stop.Before(x.Start) || x.DatabaseSize == 0 || x.RepositoryBackupSize == 0 || x.WALStart == "" ||
				(x.RepositorySize == 0) != cluster.BlockIncrementalByDefault(cluster.DefaultPostgresVersion) {
				t.Errorf("backup %s: %+v", x.Label, x)
			}
		}
		a := r.Databases[0].Archives[0]
		if a.Min == "" || a.Max < b[2].WALStop {
			t.Errorf("WAL archive min/max %q/%q, the incr needs up to %s", a.Min, a.Max, b[2].WALStop)
		}
		if len(got.Jobs) != 3 {
			t.Errorf("%d backup Jobs listed, want 3: %+v", len(got.Jobs), got.Jobs)
		}
		for _, j := range got.Jobs {
			if j.State != jobs.StateSucceeded {
				t.Errorf("Job %s: %s", j.Name, j.State)
			}
		}

		// The same cluster found by a selector, in every namespace.
		res = c.pgo(t, "show", "backup", "-A", "--selector", "pg-cluster="+c.name+",app.kubernetes.io/instance="+c.name, "-o", "json")
		var list cmd.ClusterBackupsList
		if err := json.Unmarshal([]byte(res.Stdout), &list); err != nil {
			t.Fatalf("show backup -A -o json: %v\n%s", err, res)
		}
		found := false
		for _, item := range list.Items {
			if item.Namespace == c.ns && item.Cluster == c.name && item.Repository != nil && len(item.Repository.Backups) == 3 {
				found = true
			}
		}
		if !found {
			t.Errorf("show backup -A --selector does not list the cluster:\n%s", res)
		}
	})

	t.Run("archive status shows no failures", func(t *testing.T) {
		res := c.pgo(t, "show", "archive", c.name)
		if res.ExitCode != 0 {
			t.Fatalf("show archive failed:\n%s", res)
		}
		for _, want := range []string{"failed: 0, last: none", "waiting to be archived (.ready): ", "pgbackrest check: ok (WAL segment ", "archiving: ok"} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("show archive lacks %q:\n%s", want, res.Stdout)
			}
		}
		res = c.pgo(t, "show", "archive", c.name, "-o", "json")
		var s cmd.ArchiveStatus
		if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
			t.Fatalf("show archive -o json: %v\n%s", err, res)
		}
		if !s.Healthy || s.Archiver == nil || s.Archiver.FailedCount != 0 || s.Archiver.ArchivedCount == 0 || s.Check == nil || !s.Check.OK {
			t.Errorf("archive status: %s", res.Stdout)
		}
	})

	t.Run("api requests of show backup", func(t *testing.T) {
		n, execs := bkCountShowBackupRequests(t, env, c.ns, c.name)
		t.Logf("show backup %s: %d API requests (of which %d exec)", c.name, n, execs)
		if n > 5 {
			t.Errorf("show backup made %d API requests, want at most 5", n)
		}
	})

	t.Run("exec forbidden by RBAC", func(t *testing.T) {
		// May read everything, but not exec.
		as := bkServiceAccount(t, env, c.ns, "backup-reader", []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps", "pods"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list"}},
		})
		res := c.pgo(t, "show", "backup", c.name, as)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "is forbidden (kubectl pgo needs the create verb on pods/exec in namespace "+c.ns+")") {
			t.Errorf("show backup without pods/exec:\n%s", res)
		}
		// And a backup without the right to create Jobs starts nothing.
		before := len(c.backupJobs(t))
		res = c.pgo(t, "backup", c.name, as)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "forbidden") {
			t.Errorf("backup without the right to create Jobs:\n%s", res)
		}
		if n := len(c.backupJobs(t)); n != before {
			t.Errorf("%d backup Jobs, want %d", n, before)
		}
	})

	t.Run("plugin and by hand", func(t *testing.T) {
		// The same full backup, by hand in the repository pod, alternating
		// with more through the plugin (the repository keeps two full
		// backups: this runs after the assertions on the first ones).
		// pgBackRest's own duration ("completed successfully (Nms)") splits
		// each wall time into the backup and what is around it.
		pod, err := kube.FindRunningPod(context.Background(), env.Client, c.ns, cluster.RepoSelector(c.name).String())
		if err != nil {
			t.Fatal(err)
		}
		var plugin, byHand, pluginPB, byHandPB []time.Duration
		for i := 0; i < 3; i++ {
			s := time.Now()
			res := c.pgo(t, "backup", c.name, "--type=full", "--wait")
			plugin = append(plugin, time.Since(s))
			if res.ExitCode != 0 {
				t.Fatalf("backup failed:\n%s", res)
			}
			pluginPB = append(pluginPB, bkPGBackRestDuration(t, res.Stdout))
			s = time.Now()
			res = env.Run(t, "kubectl", "-n", c.ns, "exec", pod.Name, "-c", "pgbackrest", "--",
				"pgbackrest", "--stanza=db", "backup", "--type=full", "--start-fast", "--log-level-console=info")
			byHand = append(byHand, time.Since(s))
			if res.ExitCode != 0 {
				t.Fatalf("pgbackrest backup by hand failed:\n%s", res)
			}
			byHandPB = append(byHandPB, bkPGBackRestDuration(t, res.Stdout))
		}
		p, h := bkMedian(plugin), bkMedian(byHand)
		t.Logf("full backup, wall time: plugin (backup --wait) %v, median %s; by hand (kubectl exec pgbackrest backup) %v, median %s; ratio %.2f",
			bkRound(plugin), p.Round(10*time.Millisecond), bkRound(byHand), h.Round(10*time.Millisecond), float64(p)/float64(h))
		t.Logf("full backup, pgBackRest's own duration: plugin %v, by hand %v", bkRound(pluginPB), bkRound(byHandPB))
	})

	t.Run("repository host not running", func(t *testing.T) {
		before := len(c.backupJobs(t))
		c.scale(t, "deployment", cluster.RepoHostName(c.name), 0, cluster.RepoSelector(c.name).String())
		res := c.pgo(t, "backup", c.name, "--type=full", "--wait")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `cannot back up cluster "hippo": its repository host is not running`) ||
			!strings.Contains(res.Stderr, "Nothing was started") {
			t.Errorf("backup with the repository host scaled to 0:\n%s", res)
		}
		if n := len(c.backupJobs(t)); n != before {
			t.Errorf("%d backup Jobs, want %d: one was started", n, before)
		}
		res = c.pgo(t, "show", "backup", c.name)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "the repository host (or, for an S3-only cluster, the database pod) is not running") {
			t.Errorf("show backup with the repository host scaled to 0:\n%s", res)
		}
		c.scale(t, "deployment", cluster.RepoHostName(c.name), 1, cluster.RepoSelector(c.name).String())
	})

	t.Run("a failed backup Job fails --wait with the reason", func(t *testing.T) {
		// pgBackRest cannot reach PostgreSQL; a short io-timeout makes it
		// give up in seconds rather than minutes.
		c.scale(t, "statefulset", cluster.StatefulSetName(c.name), 0, cluster.DatabaseSelector(c.name).String())
		s := time.Now()
		res := c.pgo(t, "backup", c.name, "--type=full", "--wait", "--backup-opts=--io-timeout=3")
		t.Logf("failed backup --wait: %s", time.Since(s).Round(time.Second))
		for _, want := range []string{" failed (BackoffLimitExceeded", "pgbackrest exited with code 56", "ERROR: [056]: unable to find primary cluster - cannot proceed", "kubectl logs job/hippo-backup-full-"} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("the failure lacks %q:\n%s", want, res)
			}
		}
		if res.ExitCode == 0 {
			t.Errorf("a failed backup exited 0:\n%s", res)
		}
		res = c.pgo(t, "show", "backup", c.name, "-o", "json")
		var got cmd.ClusterBackups
		if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
			t.Fatalf("show backup -o json: %v\n%s", err, res)
		}
		if n := len(got.Jobs); n == 0 || got.Jobs[n-1].State != jobs.StateFailed || got.Jobs[n-1].Reason != "BackoffLimitExceeded" {
			t.Errorf("show backup does not list the failed Job: %+v", got.Jobs)
		}
	})
}

var bkCompleted = regexp.MustCompile(`backup command end: completed successfully \((\d+)ms\)`)

// bkPGBackRestDuration reads how long pgBackRest says the backup took.
func bkPGBackRestDuration(t *testing.T, log string) time.Duration {
	t.Helper()
	m := bkCompleted.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no \"completed successfully\" in:\n%s", log)
	}
	var ms int
	fmt.Sscan(m[1], &ms)
	return time.Duration(ms) * time.Millisecond
}

func bkMedian(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func bkRound(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(10 * time.Millisecond)
	}
	return out
}

// Bad input: a clear error, a non-zero exit, and nothing started.
func TestBackupBadInput(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown backup type", []string{"backup", "hippo", "--backup-type=tarball"}, `unknown --backup-type "tarball": valid backup types are pgbackrest`},
		{"pgbasebackup: cluster does not exist", []string{"backup", "hippo", "--backup-type=pgbasebackup"}, `cluster "hippo" not found in namespace "` + ns + `"`},
		{"pgdump: cluster does not exist", []string{"backup", "hippo", "--backup-type=pgdump"}, `cluster "hippo" not found in namespace "` + ns + `"`},
		{"managed option", []string{"backup", "hippo", "--backup-opts=--type=full --stanza=other"}, "option --stanza is managed by kubectl-pgo and cannot be passed in --backup-opts"},
		{"managed path", []string{"backup", "hippo", "--backup-opts=--repo1-path=/tmp"}, "option --repo1-path is managed by kubectl-pgo"},
		{"managed host", []string{"backup", "hippo", "--backup-opts=--pg1-host=elsewhere"}, "option --pg1-host is managed by kubectl-pgo"},
		{"unknown option", []string{"backup", "hippo", "--backup-opts=--frobnicate=1"}, "option --frobnicate is unknown or not supported in --backup-opts"},
		{"bad value", []string{"backup", "hippo", "--backup-opts=--process-max=0"}, `option --process-max: "0" is not allowed`},
		{"cluster does not exist", []string{"backup", "hippo"}, `cluster "hippo" not found in namespace "` + ns + `"`},
		{"show: cluster does not exist", []string{"show", "backup", "hippo"}, `cluster "hippo" not found in namespace "` + ns + `"`},
		{"show archive: cluster does not exist", []string{"show", "archive", "hippo"}, `cluster "hippo" not found in namespace "` + ns + `"`},
		{"show: name and -A", []string{"show", "backup", "hippo", "-A"}, "a cluster NAME cannot be combined with -A or --selector"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.PGO(t, append([]string{"-n", ns}, tc.args...)...)
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
				t.Errorf("want a non-zero exit and %q:\n%s", tc.want, res)
			}
		})
	}
	list, err := env.Client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("bad input started %d Jobs", len(list.Items))
	}
}

// bkServiceAccount makes a ServiceAccount with a Role of rules in ns and
// returns the --as flag that impersonates it.
func bkServiceAccount(t *testing.T, env *framework.Env, ns, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return "--as=system:serviceaccount:" + ns + ":" + name
}

// bkCountShowBackupRequests runs show backup in this process with a
// transport that counts the requests, and returns how many there were and
// how many of them were execs.
func bkCountShowBackupRequests(t *testing.T, env *framework.Env, ns, name string) (total, execs int) {
	t.Helper()
	var n, e atomic.Int32
	var mu sync.Mutex
	var seen []string
	flags := genericclioptions.NewConfigFlags(false).WithWrapConfigFn(func(c *rest.Config) *rest.Config {
		c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return bkRoundTripper(func(r *http.Request) (*http.Response, error) {
				n.Add(1)
				if strings.HasSuffix(r.URL.Path, "/exec") {
					e.Add(1)
				}
				mu.Lock()
				seen = append(seen, r.Method+" "+r.URL.Path)
				mu.Unlock()
				return rt.RoundTrip(r)
			})
		})
		return c
	})
	flags.KubeConfig = ptr.To(env.Kubeconfig)
	flags.Namespace = ptr.To(ns)
	var out, errOut bytes.Buffer
	command := cmd.NewCmdShowBackup(kube.NewFactory(flags), genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	command.SetArgs([]string{name})
	command.SetContext(context.Background())
	if err := command.Execute(); err != nil {
		t.Fatalf("show backup in process: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "stanza: db") {
		t.Errorf("show backup in process printed:\n%s", out.String())
	}
	t.Logf("requests: %s", strings.Join(seen, ", "))
	return int(n.Load()), int(e.Load())
}

type bkRoundTripper func(*http.Request) (*http.Response, error)

func (f bkRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
