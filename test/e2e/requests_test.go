package e2e

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

var requestSummary = regexp.MustCompile(`(?m)^api requests: (\d+)(?: \((.*)\))?$`)

// The read commands on a real cluster, with KUBECTL_PGO_COUNT_REQUESTS=1:
// the summary is printed, execs included, and no discovery is sent.
func TestAPIRequestCounts(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	c := &bkCluster{env: env, ns: env.Namespace(t), name: "hippo"}
	if res := c.pgo(t, "create", "cluster", c.name, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	c.backupWait(t, "full")
	c.waitJobsFinished(t)

	tests := []struct {
		args []string
		max  int
	}{
		{[]string{"show", "backup", c.name}, 3},
		{[]string{"show", "archive", c.name}, 3},
		// Two reads (settings, pods) and one exec (psql and pgbackrest
		// info in the database container).
		{[]string{"show", "cluster", c.name}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.args[0]+" "+tc.args[1], func(t *testing.T) {
			args := append([]string{kube.CountRequestsEnv + "=1", "kubectl", "pgo", "-n", c.ns}, tc.args...)
			res := env.Run(t, "env", args...)
			if res.ExitCode != 0 {
				t.Fatalf("failed:\n%s", res)
			}
			m := requestSummary.FindStringSubmatch(res.Stderr)
			if m == nil {
				t.Fatalf("no request summary on stderr:\n%s", res)
			}
			n, _ := strconv.Atoi(m[1])
			if n < 2 || n > tc.max {
				t.Errorf("%d requests (%s), want 2 to %d", n, m[2], tc.max)
			}
			if regexp.MustCompile(`discovery`).MatchString(m[2]) {
				t.Errorf("discovery requests were sent: %s", m[0])
			}
			if !regexp.MustCompile(`exec \d`).MatchString(m[2]) {
				t.Errorf("the execs were not counted: %s", m[0])
			}
		})
	}

	t.Run("off by default", func(t *testing.T) {
		res := c.pgo(t, "show", "backup", c.name)
		if res.ExitCode != 0 || requestSummary.MatchString(res.Stderr) {
			t.Errorf("a summary without %s:\n%s", kube.CountRequestsEnv, res)
		}
	})
}

// A cluster created with --cpu-limit=1 backs up with one pgBackRest
// process (docs/benchmarks.md: process-max follows the CPU limit).
func TestProcessMaxFollowsCPULimit(t *testing.T) {
	t.Parallel()
	c := newBkCluster(t, "--cpu-limit=1")
	res := c.pgo(t, "backup", c.name, "--type=full", "--wait")
	if res.ExitCode != 0 {
		t.Fatalf("backup failed:\n%s", res)
	}
	begin := regexp.MustCompile(`backup command begin [^\n]*`).FindString(res.Stdout)
	if !regexp.MustCompile(`--process-max=1( |$)`).MatchString(begin) {
		t.Errorf("the backup did not run with --process-max=1: %q", begin)
	}
}
