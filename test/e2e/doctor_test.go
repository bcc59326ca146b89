package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// doctorReport runs doctor -o json and decodes it.
func doctorReport(t *testing.T, env *framework.Env, ns, name string, args ...string) (cmd.DoctorReport, framework.Result) {
	t.Helper()
	res := env.PGO(t, append([]string{"doctor", name, "-n", ns, "-o", "json"}, args...)...)
	var r cmd.DoctorReport
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("doctor -o json is not JSON: %v\n%s", err, res)
	}
	if (res.ExitCode == 0) != r.Healthy {
		t.Errorf("doctor exited %d with healthy=%v:\n%s", res.ExitCode, r.Healthy, res)
	}
	return r, res
}

// doctorStatus returns the status of the named check.
func doctorStatus(t *testing.T, r cmd.DoctorReport, name string) cmd.DoctorCheck {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("doctor has no check %q: %+v", name, r.Checks)
	return cmd.DoctorCheck{}
}

// A new cluster has no backup, which doctor reports with its fix; after a
// backup every check passes; an age limit the backup exceeds fails again.
func TestDoctor(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := &restoreCluster{env: env, ns: ns, name: "doc"}
	if res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--wait"); res.ExitCode != 0 {
		t.Fatalf("create cluster:\n%s", res)
	}

	res := env.PGO(t, "doctor", c.name, "-n", ns)
	t.Logf("doctor of a new cluster:\n%s", res.Stdout)
	if res.ExitCode == 0 {
		t.Errorf("doctor passed a cluster without a backup:\n%s", res)
	}
	for _, want := range []string{"✗   repo1 last backup", "no backup in repo1", "fix: take one: kubectl pgo backup doc -n " + ns + " --type=full --wait",
		"✓   secrets", "✓   certificates", "✓   repo1 host reachable", "✓   repo1 stanza", "✓   repo1 WAL continuity", "✓   WAL archiving", "✓   pgbackrest check", "✓   postgres TLS", "✓   loaded secrets"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, res.Stdout)
		}
	}
	if !strings.Contains(res.Stderr, "1 of 14 checks failed: repo1 last backup") {
		t.Errorf("doctor's error does not name the failed check:\n%s", res.Stderr)
	}

	c.backup(t)
	r, res := doctorReport(t, env, ns, c.name)
	if !r.Healthy || r.Failed != 0 || len(r.Checks) != 14 {
		t.Errorf("doctor after a backup:\n%s", res)
	}
	for _, check := range r.Checks {
		if check.Status != cmd.CheckOK {
			t.Errorf("%s: %s %s", check.Name, check.Status, check.Detail)
		}
	}

	r, res = doctorReport(t, env, ns, c.name, "--max-backup-age=1s", "--no-check")
	if last := doctorStatus(t, r, "repo1 last backup"); last.Status != cmd.CheckFailed || !strings.Contains(last.Detail, "more than --max-backup-age=1s") {
		t.Errorf("an old backup passed: %+v\n%s", last, res)
	}
}
