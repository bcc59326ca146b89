package backup

import (
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// The repository of these tests holds fakecluster.BackupChains.

func TestDependents(t *testing.T) {
	backups := fakecluster.BackupChains()
	for target, want := range map[string][]string{
		fakecluster.FullA: {fakecluster.DiffA, fakecluster.IncrA},
		fakecluster.DiffA: {fakecluster.IncrA},
		fakecluster.IncrA: nil,
		fakecluster.FullB: {fakecluster.IncrB},
	} {
		if got := Labels(Dependents(backups, target)); !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Errorf("dependents of %s: %q, want %q", target, got, want)
		}
	}
	// A prior chain without references still counts.
	chain := []repo.Backup{fakecluster.Backup(fakecluster.FullA, "full", ""), fakecluster.Backup(fakecluster.DiffA, "diff", fakecluster.FullA), fakecluster.Backup(fakecluster.IncrA, "incr", fakecluster.DiffA)}
	if got := Labels(Dependents(chain, fakecluster.FullA)); !slices.Equal(got, []string{fakecluster.DiffA, fakecluster.IncrA}) {
		t.Errorf("dependents through prior: %q", got)
	}
}

// A Deletion plans without an exec but pgbackrest info, then expires the
// set and confirms that it and its dependents are gone.
func TestDeletion(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "default"}
	spec.Default()
	spec.RetentionFull = 2
	backups := fakecluster.BackupChains()
	var calls []fakecluster.ExecCall
	d := Deletion{Cluster: "hippo", Namespace: "default", Spec: spec, Target: fakecluster.FullA,
		Info: func(context.Context, string, string, ...string) (repo.Stanza, error) {
			return repo.Stanza{Name: "db", Backup: backups}, nil
		},
		Exec: fakecluster.RecordingExec(&calls, func(_, _ string, command []string) (string, string, error) {
			gone := append(Dependents(backups, fakecluster.FullA), repo.Backup{Label: fakecluster.FullA})
			backups = slices.DeleteFunc(backups, func(b repo.Backup) bool {
				return slices.ContainsFunc(gone, func(g repo.Backup) bool { return g.Label == b.Label })
			})
			return "", "", nil
		}),
	}
	plan, err := d.Plan(context.Background(), fake.NewClientset(clusterPods()...))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Pod != repoPod || plan.Target.Label != fakecluster.FullA || !slices.Equal(Labels(plan.Dependents), []string{fakecluster.DiffA, fakecluster.IncrA}) || len(calls) != 0 {
		t.Errorf("plan %+v, execs %+v", plan, calls)
	}
	// fakecluster.FullA is within the retention (2 fulls), and the oldest full.
	if len(plan.Warnings) != 2 || !strings.Contains(plan.Warnings[0], "not due to expire") || !strings.Contains(plan.Warnings[1], "oldest full backup") {
		t.Errorf("warnings %q", plan.Warnings)
	}
	result, err := d.Expire(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || strings.Join(calls[0].Command, " ") != "pgbackrest --stanza=db expire --set="+fakecluster.FullA || calls[0].Container != "pgbackrest" {
		t.Errorf("execs %+v", calls)
	}
	if result.Command != "pgbackrest --stanza=db expire --set="+fakecluster.FullA || len(result.Removed) != 3 || result.Removed[1].DependsOn != fakecluster.FullA ||
		!slices.Equal(result.Remaining, []string{fakecluster.FullB, fakecluster.IncrB}) {
		t.Errorf("result %+v", result)
	}
	// An expire that leaves the set is reported.
	if _, err := d.Expire(context.Background(), Plan{Pod: repoPod, Target: fakecluster.Backup(fakecluster.FullB, "full", "")}); err == nil ||
		err.Error() != "pgbackrest expire ran, but pgbackrest info still lists "+fakecluster.FullB {
		t.Errorf("error = %v", err)
	}
	// The only full backup of a repository is kept, as pgBackRest does.
	d.Target = fakecluster.FullB
	if _, err := d.Plan(context.Background(), fake.NewClientset(clusterPods()...)); err == nil || !strings.Contains(err.Error(), "it is the only full backup") {
		t.Errorf("error = %v", err)
	}
}
