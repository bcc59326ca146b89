package cmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// executeUpdate runs update cluster with args against f.
func executeUpdate(t *testing.T, f *kubefake.Factory, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	o := NewUpdateClusterOptions(streams)
	o.exec = func(context.Context, string, string, string, []string) (string, string, error) {
		t.Error("exec was called")
		return "", "", errors.New("no exec in this test")
	}
	cmd := newCmdUpdateCluster(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// createdCluster is a fake factory holding the objects of create cluster
// hippo (args), visible to both the typed and the dynamic client.
func createdCluster(t *testing.T, args ...string) *kubefake.Factory {
	t.Helper()
	f := newClusterFactory()
	allowAccess(f)
	fakeApply(f)
	if _, _, err := executeCreate(t, f, append([]string{"hippo"}, args...)...); err != nil {
		t.Fatal(err)
	}
	mirrorToTyped(t, f)
	f.Clientset.ClearActions()
	f.Dynamic.ClearActions()
	return f
}

func TestUpdateClusterRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"--pgbackrest-repo-retention-full=1"}, "a cluster name is required"},
		{"two names", []string{"a", "b", "--pgbackrest-repo-retention-full=1"}, "takes one cluster name, got 2 arguments"},
		{"zero retention", []string{"hippo", "--pgbackrest-repo-retention-full=0"}, "--pgbackrest-repo-retention-full=0 is not valid: keep at least 1 full backup"},
		{"negative retention", []string{"hippo", "--pgbackrest-repo-retention-full=-1"}, "--pgbackrest-repo-retention-full=-1 is not valid"},
		{"negative diff retention", []string{"hippo", "--pgbackrest-repo-retention-diff=-3"}, "--pgbackrest-repo-retention-diff=-3 is not valid"},
		{"unknown retention type", []string{"hippo", "--pgbackrest-repo-retention-full-type=weekly"}, `full backup retention type "weekly" is not known`},
		{"bad cpu", []string{"hippo", "--cpu=lots"}, `database CPU request "lots" is not valid`},
		{"bad dry run", []string{"hippo", "--cpu=1", "--dry-run=yes"}, `invalid --dry-run value "yes"`},
		{"bad output", []string{"hippo", "--cpu=1", "-o", "wide"}, `invalid output format "wide"`},
		{"wait with dry run", []string{"hippo", "--cpu=1", "--wait", "--dry-run=client"}, "--wait cannot be used with --dry-run"},
		{"zero timeout", []string{"hippo", "--cpu=1", "--timeout=0s"}, "invalid --timeout 0s"},
		{"backup-standby with no replicas", []string{"hippo", "--pgbackrest-backup-standby", "--replicas=0"}, "--pgbackrest-backup-standby needs a replica to back up from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory()
			_, _, err := executeUpdate(t, f, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			assertNoRequests(t, f)
		})
	}
}

// A setting the flags get wrong is refused before the cluster is read
// (the refusals that need it are tested in pkg/lifecycle).
func TestUpdateClusterRefusals(t *testing.T) {
	f := createdCluster(t, "--cpu-limit=2")
	_, _, err := executeUpdate(t, f, "hippo", "--pgbackrest-storage-type=ftp")
	if want := `storage type "ftp" is not known`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to contain %q", err, want)
	}
	if w := writes(f); len(w) != 0 {
		t.Errorf("writes despite the refusal: %v", w)
	}
}

// The flags reach the cluster: the stored value changes nothing, a client
// dry run prints what changes, and --wait=false applies without waiting.
func TestUpdateClusterFlagsReachTheCluster(t *testing.T) {
	f := createdCluster(t)
	out, _, err := executeUpdate(t, f, "hippo", "--pgbackrest-repo-retention-full=2")
	if err != nil || out != "cluster hippo unchanged: its settings already are those given\n" {
		t.Fatalf("update to the stored retention: %v\n%s", err, out)
	}
	// Without any setting: nothing differs from what this version renders.
	out, _, err = executeUpdate(t, f, "hippo", "--wait=false")
	if err != nil || out != "cluster hippo unchanged: its settings already are those given\n" || len(writes(f)) != 0 {
		t.Fatalf("update without a setting: %v, writes %v\n%s", err, writes(f), out)
	}
	out, errOut, err := executeUpdate(t, f, "hippo", "--pgbackrest-repo-retention-full=1", "--dry-run=client", "-o", "yaml")
	if err != nil || strings.Count(out, "---\n") != 3 || !strings.Contains(errOut, "retentionFull: 2 -> 1\n") || len(writes(f)) != 0 {
		t.Errorf("client dry run: %v, writes %v\n%s\n%s", err, writes(f), errOut, out)
	}
	out, _, err = executeUpdate(t, f, "hippo", "--pgbackrest-repo-retention-diff=3", "--wait=false")
	for _, want := range []string{"retentionDiff: (none) -> 3\n", "deployment.apps/hippo-backrest-shared-repo configured\n", "not waiting for the restarts"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("update: %v, output lacks %q:\n%s", err, want, out)
		}
	}
}

// --pgbackrest-backup-standby alone is checked against the stored replicas: a cluster with a
// replica takes it, one without is refused after its settings are read, before any change.
func TestUpdateClusterBackupStandby(t *testing.T) {
	f := createdCluster(t, "--replicas=1")
	if _, _, err := executeUpdate(t, f, "hippo", "--pgbackrest-backup-standby"); err != nil {
		t.Errorf("with a replica: %v", err)
	}
	f = createdCluster(t)
	_, _, err := executeUpdate(t, f, "hippo", "--pgbackrest-backup-standby")
	if err == nil || !strings.Contains(err.Error(), "--pgbackrest-backup-standby needs a replica to back up from") {
		t.Errorf("without a replica: %v", err)
	}
}
