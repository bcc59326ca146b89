package backup

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Labels of the test repository: full A with a diff and an incr on it,
// then full B with an incr.
const (
	fullA = "20261120-010000F"
	diffA = "20261120-010000F_20261121-010000D"
	incrA = "20261120-010000F_20261122-010000I"
	fullB = "20261123-010000F"
	incrB = "20261123-010000F_20261124-010000I"
)

func testBackup(label, typ, prior string, refs ...string) repo.Backup {
	b := repo.Backup{Label: label, Type: typ, Prior: prior, Reference: refs}
	stamp := label
	if i := strings.IndexByte(label, '_'); i > 0 {
		stamp = label[i+1:]
	}
	start, err := time.Parse("20060102-150405", stamp[:15])
	if err != nil {
		panic(err)
	}
	b.Timestamp = repo.UnixRange{Start: start.Unix(), Stop: start.Unix() + 10}
	b.Database = repo.DatabaseRef{ID: 1, RepoKey: 1}
	return b
}

func backupChains() []repo.Backup {
	return []repo.Backup{
		testBackup(fullA, "full", ""),
		testBackup(diffA, "diff", fullA, fullA),
		testBackup(incrA, "incr", diffA, fullA, diffA),
		testBackup(fullB, "full", ""),
		testBackup(incrB, "incr", fullB, fullB),
	}
}

func TestDependents(t *testing.T) {
	backups := backupChains()
	for target, want := range map[string][]string{
		fullA: {diffA, incrA},
		diffA: {incrA},
		incrA: nil,
		fullB: {incrB},
	} {
		if got := Labels(Dependents(backups, target)); !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Errorf("dependents of %s: %q, want %q", target, got, want)
		}
	}
	// A prior chain without references still counts.
	chain := []repo.Backup{testBackup(fullA, "full", ""), testBackup(diffA, "diff", fullA), testBackup(incrA, "incr", diffA)}
	if got := Labels(Dependents(chain, fullA)); !slices.Equal(got, []string{diffA, incrA}) {
		t.Errorf("dependents through prior: %q", got)
	}
}

// A Deletion plans without an exec but pgbackrest info, then expires the
// set and confirms that it and its dependents are gone.
func TestDeletion(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "default"}
	spec.Default()
	spec.RetentionFull = 2
	backups := backupChains()
	var calls []execCall
	d := Deletion{Cluster: "hippo", Namespace: "default", Spec: spec, Target: fullA,
		Info: func(context.Context, string, string, ...string) (repo.Stanza, error) {
			return repo.Stanza{Name: "db", Backup: backups}, nil
		},
		Exec: recordingExec(&calls, func(_, _ string, command []string) (string, string, error) {
			gone := append(Dependents(backups, fullA), repo.Backup{Label: fullA})
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
	if plan.Pod != repoPod || plan.Target.Label != fullA || !slices.Equal(Labels(plan.Dependents), []string{diffA, incrA}) || len(calls) != 0 {
		t.Errorf("plan %+v, execs %+v", plan, calls)
	}
	// fullA is within the retention (2 fulls), and the oldest full.
	if len(plan.Warnings) != 2 || !strings.Contains(plan.Warnings[0], "not due to expire") || !strings.Contains(plan.Warnings[1], "oldest full backup") {
		t.Errorf("warnings %q", plan.Warnings)
	}
	result, err := d.Expire(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || strings.Join(calls[0].Command, " ") != "pgbackrest --stanza=db expire --set="+fullA || calls[0].Container != "pgbackrest" {
		t.Errorf("execs %+v", calls)
	}
	if result.Command != "pgbackrest --stanza=db expire --set="+fullA || len(result.Removed) != 3 || result.Removed[1].DependsOn != fullA ||
		!slices.Equal(result.Remaining, []string{fullB, incrB}) {
		t.Errorf("result %+v", result)
	}
	// An expire that leaves the set is reported.
	if _, err := d.Expire(context.Background(), Plan{Pod: repoPod, Target: testBackup(fullB, "full", "")}); err == nil ||
		err.Error() != "pgbackrest expire ran, but pgbackrest info still lists "+fullB {
		t.Errorf("error = %v", err)
	}
	// The only full backup of a repository is kept, as pgBackRest does.
	d.Target = fullB
	if _, err := d.Plan(context.Background(), fake.NewClientset(clusterPods()...)); err == nil || !strings.Contains(err.Error(), "it is the only full backup") {
		t.Errorf("error = %v", err)
	}
}
