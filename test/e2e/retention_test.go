package e2e

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Retention on a real repository: with 2 full backups kept, a third full
// backup expires the oldest; update cluster lowers it to 1 without
// restarting the database, and the next full backup keeps only itself.
// Bad input changes nothing.
func TestRetention(t *testing.T) {
	t.Parallel()
	c := newBkCluster(t, "--pgbackrest-repo-retention-full=2")
	env := c.env
	repoConf := func(t *testing.T) string {
		t.Helper()
		return clusterExec(t, env, c.ns, repoHostPod(t, env, c.ns, c.name).Name, cluster.ContainerPGBackRest, "cat", cluster.PGBackRestConfigFile)
	}
	if conf := repoConf(t); !strings.Contains(conf, "repo1-retention-full=2\n") || !strings.Contains(conf, "repo1-retention-full-type=count\n") {
		t.Fatalf("the repository host's pgbackrest.conf has no retention of 2 full backups:\n%s", conf)
	}

	fulls := func(t *testing.T) []string {
		t.Helper()
		var out []string
		for _, b := range c.shownBackups(t) {
			if b.Type == "full" {
				out = append(out, b.Label)
			}
		}
		return out
	}

	var labels []string
	for range 3 {
		label, took := c.backupWait(t, "full")
		t.Logf("full backup %s: %s", label, took.Round(time.Second))
		labels = append(labels, label)
	}
	if got, want := fulls(t), labels[1:]; !slices.Equal(got, want) {
		t.Fatalf("after 3 full backups with retention 2, show backup lists %q, want %q (the oldest, %s, expired)", got, want, labels[0])
	}

	// The cluster's objects but the backup Jobs, whose status the Job
	// controller may still touch.
	versions := func(t *testing.T) map[string]string {
		v := clusterVersions(t, env, c.ns, c.name)
		maps.DeleteFunc(v, func(k, _ string) bool { return strings.HasPrefix(k, "jobs/") })
		return v
	}
	t.Run("bad input and dry runs change nothing", func(t *testing.T) {
		before := versions(t)
		res := c.pgo(t, "update", "cluster", c.name, "--pgbackrest-repo-retention-full=1", "--dry-run=client", "-o", "yaml")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "repo1-retention-full=1\n") || strings.Contains(res.Stdout, "kind: Secret") {
			t.Errorf("update --dry-run=client -o yaml does not print the changed objects alone:\n%s", res)
		}
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"retention 0", []string{"update", "cluster", c.name, "--pgbackrest-repo-retention-full=0"},
				"--pgbackrest-repo-retention-full=0 is not valid: keep at least 1 full backup"},
			{"retention -1", []string{"update", "cluster", c.name, "--pgbackrest-repo-retention-full=-1"},
				"--pgbackrest-repo-retention-full=-1 is not valid"},
			{"diff retention 0", []string{"update", "cluster", c.name, "--pgbackrest-repo-retention-diff=0"},
				"--pgbackrest-repo-retention-diff=0 is not valid"},
			{"unknown type", []string{"update", "cluster", c.name, "--pgbackrest-repo-retention-full-type=weeks"},
				`full backup retention type "weeks" is not known: use count (keep N full backups) or time (keep N days of full backups)`},
			{"nonexistent cluster", []string{"update", "cluster", "nope", "--pgbackrest-repo-retention-full=1"},
				`cluster "nope" not found in namespace "` + c.ns + `"`},
			{"immutable setting", []string{"update", "cluster", c.name, "--pgbackrest-repo-retention-full=1", "--storage-size=5Gi"},
				"the storage size is immutable: the cluster uses 1Gi, the request says 5Gi"},
			{"retention 0 on create", []string{"create", "cluster", c.name, "--pgbackrest-repo-retention-full=0"},
				"--pgbackrest-repo-retention-full=0 is not valid"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := c.pgo(t, tc.args...)
				if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
					t.Errorf("want a non-zero exit and %q:\n%s", tc.want, res)
				}
			})
		}
		if after := versions(t); !maps.Equal(before, after) {
			t.Errorf("bad input changed the cluster's objects (resourceVersions):\nbefore %v\nafter  %v", before, after)
		}
		if conf := repoConf(t); !strings.Contains(conf, "repo1-retention-full=2\n") {
			t.Errorf("the retention changed:\n%s", conf)
		}
	})
	if t.Failed() {
		return
	}

	dbPod := func(t *testing.T) string {
		t.Helper()
		p, err := env.Client.CoreV1().Pods(c.ns).Get(context.Background(), cluster.PodName(c.name), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(p.UID)
	}
	dbBefore := dbPod(t)
	res := c.pgo(t, "update", "cluster", c.name, "--pgbackrest-repo-retention-full=1")
	if res.ExitCode != 0 {
		t.Fatalf("update cluster failed:\n%s", res)
	}
	for _, want := range []string{"retentionFull: 2 -> 1\n", "deployment.apps/" + cluster.RepoHostName(c.name) + " configured\n",
		"reads the new " + cluster.PGBackRestConfigFile, "cluster " + c.name + " updated"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("update output lacks %q:\n%s", want, res)
		}
	}
	if strings.Contains(res.Stdout, "statefulset") {
		t.Errorf("a retention change touched the database's StatefulSet:\n%s", res)
	}
	if dbPod(t) != dbBefore {
		t.Error("the database pod was restarted for a retention change")
	}
	if conf := repoConf(t); !strings.Contains(conf, "repo1-retention-full=1\n") {
		t.Fatalf("after update, the repository host's pgbackrest.conf:\n%s", conf)
	}
	// Nothing expires until the next backup.
	if got, want := fulls(t), labels[1:]; !slices.Equal(got, want) {
		t.Errorf("update alone expired backups: %q, want %q", got, want)
	}
	// The same again changes nothing.
	if res := c.pgo(t, "update", "cluster", c.name, "--pgbackrest-repo-retention-full=1"); res.ExitCode != 0 || !strings.Contains(res.Stdout, "unchanged") {
		t.Errorf("a repeated update was not a no-op:\n%s", res)
	}

	last, _ := c.backupWait(t, "full")
	if got, want := fulls(t), []string{last}; !slices.Equal(got, want) {
		t.Errorf("after update to retention 1 and a full backup, show backup lists %q, want %q", got, want)
	}
}
