package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Labels of the fake repository: full A with a diff and an incr on it,
// then full B with an incr.
const (
	dbFullA = "20261120-010000F"
	dbDiffA = "20261120-010000F_20261121-010000D"
	dbIncrA = "20261120-010000F_20261122-010000I"
	dbFullB = "20261123-010000F"
	dbIncrB = "20261123-010000F_20261124-010000I"
)

func dbBackup(label, typ, prior string, refs ...string) repo.Backup {
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

func dbRepository() []repo.Backup {
	return []repo.Backup{
		dbBackup(dbFullA, "full", ""),
		dbBackup(dbDiffA, "diff", dbFullA, dbFullA),
		dbBackup(dbIncrA, "incr", dbDiffA, dbFullA, dbDiffA),
		dbBackup(dbFullB, "full", ""),
		dbBackup(dbIncrB, "incr", dbFullB, dbFullB),
	}
}

// fakeRepo answers pgbackrest info from its backups, and expire --set
// by removing the set and what depends on it (unless broken).
type fakeRepo struct {
	mu      sync.Mutex
	backups []repo.Backup
	broken  bool
	calls   []bkExecCall
}

func (r *fakeRepo) exec(_ context.Context, _, pod, container string, command []string) (string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, bkExecCall{pod, container, command})
	switch {
	case slices.Contains(command, "info"):
		s := repo.Stanza{Name: "db", Backup: r.backups, Status: repo.StanzaStatus{Code: 0, Message: "ok"},
			Repo: []repo.RepoStatus{{Key: 1, Cipher: "none", Status: repo.RepoResult{Code: 0, Message: "ok"}}}}
		data, err := json.Marshal([]repo.Stanza{s})
		return string(data), "", err
	case slices.Contains(command, "expire"):
		if r.broken {
			return "", "", nil
		}
		set := strings.TrimPrefix(command[len(command)-1], "--set=")
		gone := append(dependentBackups(r.backups, set), repo.Backup{Label: set})
		r.backups = slices.DeleteFunc(r.backups, func(b repo.Backup) bool {
			return slices.ContainsFunc(gone, func(g repo.Backup) bool { return g.Label == b.Label })
		})
		return "", "", nil
	}
	return "", "", errors.New("unexpected command")
}

func (r *fakeRepo) expires() [][]string {
	var out [][]string
	for _, c := range r.calls {
		if slices.Contains(c.Command, "expire") {
			out = append(out, c.Command)
		}
	}
	return out
}

func (r *fakeRepo) labels() []string { return backupLabelsOf(r.backups) }

func runDeleteBackup(t *testing.T, f *kubefake.Factory, exec bkExecFunc, stdin string, terminal bool, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := bkStreams()
	streams.In = strings.NewReader(stdin)
	o := NewDeleteBackupOptions(streams)
	o.exec = exec
	o.isTerminal = func(io.Reader) bool { return terminal }
	cmd := newCmdDeleteBackup(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// Bad input is refused before any request.
func TestDeleteBackupBadInputSendsNothing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"--target=" + dbFullA}, "a cluster name is required: backup NAME"},
		{"two names", []string{"a", "b", "--target=" + dbFullA}, "takes one cluster name, got 2 arguments: a b"},
		{"bad name", []string{"Hippo_1", "--target=" + dbFullA}, `cluster name "Hippo_1" is not valid`},
		{"no target", []string{"hippo"}, "--target is required"},
		{"malformed target", []string{"hippo", "--target=latest"}, `invalid --target "latest"`},
		{"full with a suffix", []string{"hippo", "--target=20261120-010000F_20261121-010000F"}, "invalid --target"},
		{"short", []string{"hippo", "--target=2026112-010000F"}, "invalid --target"},
		{"bad output", []string{"hippo", "--target=" + dbFullA, "-o", "wide"}, `invalid output format "wide"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(bkClusterObjects(t, "hippo", "default")...)
			_, _, err := runDeleteBackup(t, f, noExec(t), "", true, append(tc.args, "--yes")...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			var usage *usageError
			if !errors.As(err, &usage) {
				t.Errorf("error %T is not a usage error", err)
			}
			if n := len(f.Clientset.Actions()); n != 0 {
				t.Errorf("sent %d requests for bad input: %v", n, f.Clientset.Actions())
			}
		})
	}
}

func TestDependentBackups(t *testing.T) {
	backups := dbRepository()
	for target, want := range map[string][]string{
		dbFullA: {dbDiffA, dbIncrA},
		dbDiffA: {dbIncrA},
		dbIncrA: nil,
		dbFullB: {dbIncrB},
	} {
		if got := backupLabelsOf(dependentBackups(backups, target)); !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Errorf("dependents of %s: %q, want %q", target, got, want)
		}
	}
	// A prior chain without references still counts.
	chain := []repo.Backup{dbBackup(dbFullA, "full", ""), dbBackup(dbDiffA, "diff", dbFullA), dbBackup(dbIncrA, "incr", dbDiffA)}
	if got := backupLabelsOf(dependentBackups(chain, dbFullA)); !slices.Equal(got, []string{dbDiffA, dbIncrA}) {
		t.Errorf("dependents through prior: %q", got)
	}
}

func TestDeleteBackupWithYes(t *testing.T) {
	f := kubefake.NewFactory(bkClusterObjects(t, "hippo", "default")...)
	r := &fakeRepo{backups: dbRepository()}
	out, errOut, err := runDeleteBackup(t, f, r.exec, "", false, "hippo", "--target="+dbFullA, "--yes")
	if err != nil {
		t.Fatal(err)
	}
	want := "backup " + dbFullA + " (full) deleted\n" +
		"backup " + dbDiffA + " (diff, depended on " + dbFullA + ") deleted\n" +
		"backup " + dbIncrA + " (incr, depended on " + dbFullA + ") deleted\n" +
		"cluster hippo has 2 backup(s) left: " + dbFullB + ", " + dbIncrB + "\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	for _, w := range []string{"Warning: backup " + dbFullA + " is not due to expire", "repo1-retention-full=2", "it is the oldest full backup"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	exp := r.expires()
	if len(exp) != 1 || strings.Join(exp[0], " ") != "pgbackrest --stanza=db expire --set="+dbFullA {
		t.Errorf("expires = %q", exp)
	}
	for _, c := range r.calls {
		if c.Container != "pgbackrest" || !strings.HasPrefix(c.Pod, "hippo-backrest-shared-repo-") {
			t.Errorf("exec in %s/%s", c.Pod, c.Container)
		}
	}
	if got := r.labels(); !slices.Equal(got, []string{dbFullB, dbIncrB}) {
		t.Errorf("left: %q", got)
	}
}

func TestDeleteBackupJSON(t *testing.T) {
	f := kubefake.NewFactory(bkClusterObjects(t, "hippo", "default")...)
	r := &fakeRepo{backups: dbRepository()}
	out, _, err := runDeleteBackup(t, f, r.exec, "", false, "hippo", "--target="+dbDiffA, "--no-prompt", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got DeleteBackupResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Target != dbDiffA || len(got.Removed) != 2 || got.Removed[0].Label != dbDiffA || got.Removed[1].Label != dbIncrA ||
		got.Removed[1].DependsOn != dbDiffA || !slices.Equal(got.Remaining, []string{dbFullA, dbFullB, dbIncrB}) {
		t.Errorf("result: %+v", got)
	}
}

func TestDeleteBackupPrompt(t *testing.T) {
	for _, tc := range []struct {
		answer  string
		deleted bool
	}{{"y\n", true}, {"yes\n", true}, {"n\n", false}, {"", false}} {
		t.Run(strings.TrimSpace(tc.answer), func(t *testing.T) {
			f := kubefake.NewFactory(bkClusterObjects(t, "hippo", "default")...)
			r := &fakeRepo{backups: dbRepository()}
			out, _, err := runDeleteBackup(t, f, r.exec, tc.answer, true, "hippo", "--target="+dbFullB)
			for _, w := range []string{
				"This deletes from cluster \"hippo\" in namespace \"default\", with pgbackrest expire --set=" + dbFullB,
				"and the 1 backup(s) that depend on it",
				dbIncrB + "  incr backup, started 2026-11-24 01:00:00 UTC",
				"Warning: backup " + dbFullB + " is not due to expire",
				"Warning: the newest backup, " + dbIncrB + ", goes",
				"Delete backup " + dbFullB + "? [y/N]: ",
			} {
				if !strings.Contains(out, w) {
					t.Errorf("prompt lacks %q:\n%s", w, out)
				}
			}
			if tc.deleted {
				if err != nil || len(r.expires()) != 1 {
					t.Fatalf("err = %v, expires = %q", err, r.expires())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "cancelled: backup "+dbFullB+" of cluster \"hippo\" was not deleted") {
				t.Errorf("err = %v", err)
			}
			if len(r.expires()) != 0 {
				t.Errorf("expire ran after no")
			}
		})
	}
}

// Run-time refusals run no expire.
func TestDeleteBackupRefusals(t *testing.T) {
	activeJob := func(component string) runtime.Object {
		l := cluster.Labels("hippo", component)
		l[jobs.LabelPGBackRestType] = "full"
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-" + component + "-x", Namespace: "default", Labels: l}}
	}
	onlyFull := []repo.Backup{dbBackup(dbFullA, "full", ""), dbBackup(dbIncrA, "incr", dbFullA, dbFullA)}
	tests := []struct {
		name     string
		extra    []runtime.Object
		backups  []repo.Backup
		args     []string
		terminal bool
		want     []string
	}{
		{name: "no terminal", args: []string{"--target=" + dbFullA}, want: []string{"refusing to delete backup " + dbFullA, "stdin is not a terminal", "--yes"}},
		{name: "unknown label", args: []string{"--target=20200101-000000F", "--yes"}, want: []string{`backup "20200101-000000F" not found in cluster "hippo"; its backups are:`, dbFullA, dbDiffA, dbIncrA, dbFullB, dbIncrB}},
		{name: "no backups", backups: []repo.Backup{}, args: []string{"--target=" + dbFullA, "--yes"}, want: []string{`cluster "hippo" has no backups`}},
		{name: "active backup", extra: []runtime.Object{activeJob(jobs.ComponentBackup)}, args: []string{"--target=" + dbFullA, "--yes"}, want: []string{"backup Job hippo-backup-x is active"}},
		{name: "active restore", extra: []runtime.Object{activeJob(jobs.ComponentRestore)}, args: []string{"--target=" + dbFullA, "--yes"}, want: []string{"restore Job hippo-restore-x is active"}},
		{name: "only full", backups: onlyFull, args: []string{"--target=" + dbFullA, "--yes"}, want: []string{"it is the only full backup", "point in time", "kubectl pgo backup hippo -n default --type=full"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(append(bkClusterObjects(t, "hippo", "default"), tc.extra...)...)
			backups := tc.backups
			if backups == nil {
				backups = dbRepository()
			}
			r := &fakeRepo{backups: backups}
			_, _, err := runDeleteBackup(t, f, r.exec, "y\n", tc.terminal, append([]string{"hippo"}, tc.args...)...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if len(r.expires()) != 0 {
				t.Errorf("expire ran: %q", r.expires())
			}
		})
	}
}

// An expire that leaves the backup is an error.
func TestDeleteBackupNotGone(t *testing.T) {
	f := kubefake.NewFactory(bkClusterObjects(t, "hippo", "default")...)
	r := &fakeRepo{backups: dbRepository(), broken: true}
	_, _, err := runDeleteBackup(t, f, r.exec, "", false, "hippo", "--target="+dbIncrB, "--yes")
	if err == nil || !strings.Contains(err.Error(), "pgbackrest info still lists "+dbIncrB) {
		t.Errorf("err = %v", err)
	}
}

func TestDeleteBackupCompletion(t *testing.T) {
	f := kubefake.NewFactory(bkClusterObjects(t, "hippo", "default")...)
	r := &fakeRepo{backups: dbRepository()}
	streams, _, _ := bkStreams()
	o := NewDeleteBackupOptions(streams)
	o.exec = r.exec
	cmd := newCmdDeleteBackup(f, o)
	cmd.SetContext(context.Background())
	complete, ok := cmd.GetFlagCompletionFunc("target")
	if !ok {
		t.Fatal("--target has no completion")
	}
	got, directive := complete(cmd, []string{"hippo"}, "20261123")
	var labels []string
	for _, c := range got {
		labels = append(labels, strings.SplitN(c, "\t", 2)[0])
	}
	if !slices.Equal(labels, []string{dbFullB, dbIncrB}) || directive != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("got %q %v", got, directive)
	}
	if got, _ := complete(cmd, nil, ""); len(got) != 0 {
		t.Errorf("without a cluster: %q", got)
	}
	if got, _ := complete(cmd, []string{"zebra"}, ""); len(got) != 0 {
		t.Errorf("unknown cluster: %q", got)
	}
}
