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

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// The repository of these tests holds fakecluster.BackupChains.

// fakeRepo answers pgbackrest info from its backups, and expire --set
// by removing the set and what depends on it (unless broken).
type fakeRepo struct {
	mu      sync.Mutex
	backups []repo.Backup
	broken  bool
	calls   []fakecluster.ExecCall
}

func (r *fakeRepo) exec(_ context.Context, _, pod, container string, command []string) (string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fakecluster.ExecCall{Pod: pod, Container: container, Command: command})
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
		gone := append(backup.Dependents(r.backups, set), repo.Backup{Label: set})
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

func (r *fakeRepo) labels() []string { return backup.Labels(r.backups) }

func runDeleteBackup(t *testing.T, f *kubefake.Factory, exec execFunc, stdin string, terminal bool, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
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
		{"no name", []string{"--target=" + fakecluster.FullA}, "a cluster name is required: backup NAME"},
		{"two names", []string{"a", "b", "--target=" + fakecluster.FullA}, "takes one cluster name, got 2 arguments: a b"},
		{"bad name", []string{"Hippo_1", "--target=" + fakecluster.FullA}, `cluster name "Hippo_1" is not valid`},
		{"no target", []string{"hippo"}, "--target is required"},
		{"malformed target", []string{"hippo", "--target=latest"}, `invalid --target "latest"`},
		{"full with a suffix", []string{"hippo", "--target=20261120-010000F_20261121-010000F"}, "invalid --target"},
		{"short", []string{"hippo", "--target=2026112-010000F"}, "invalid --target"},
		{"bad output", []string{"hippo", "--target=" + fakecluster.FullA, "-o", "wide"}, `invalid output format "wide"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
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

func TestDeleteBackupWithYes(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	r := &fakeRepo{backups: fakecluster.BackupChains()}
	out, errOut, err := runDeleteBackup(t, f, r.exec, "", false, "hippo", "--target="+fakecluster.FullA, "--yes")
	if err != nil {
		t.Fatal(err)
	}
	want := "backup " + fakecluster.FullA + " (full) deleted\n" +
		"backup " + fakecluster.DiffA + " (diff, depended on " + fakecluster.FullA + ") deleted\n" +
		"backup " + fakecluster.IncrA + " (incr, depended on " + fakecluster.FullA + ") deleted\n" +
		"cluster hippo has 2 backup(s) left: " + fakecluster.FullB + ", " + fakecluster.IncrB + "\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	for _, w := range []string{"Warning: backup " + fakecluster.FullA + " is not due to expire", "repo1-retention-full=2", "it is the oldest full backup"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	exp := r.expires()
	if len(exp) != 1 || strings.Join(exp[0], " ") != "pgbackrest --stanza=db expire --set="+fakecluster.FullA {
		t.Errorf("expires = %q", exp)
	}
	for _, c := range r.calls {
		if c.Container != "pgbackrest" || !strings.HasPrefix(c.Pod, "hippo-backrest-shared-repo-") {
			t.Errorf("exec in %s/%s", c.Pod, c.Container)
		}
	}
	if got := r.labels(); !slices.Equal(got, []string{fakecluster.FullB, fakecluster.IncrB}) {
		t.Errorf("left: %q", got)
	}
}

func TestDeleteBackupJSON(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	r := &fakeRepo{backups: fakecluster.BackupChains()}
	out, _, err := runDeleteBackup(t, f, r.exec, "", false, "hippo", "--target="+fakecluster.DiffA, "--no-prompt", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got DeleteBackupResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Target != fakecluster.DiffA || len(got.Removed) != 2 || got.Removed[0].Label != fakecluster.DiffA || got.Removed[1].Label != fakecluster.IncrA ||
		got.Removed[1].DependsOn != fakecluster.DiffA || !slices.Equal(got.Remaining, []string{fakecluster.FullA, fakecluster.FullB, fakecluster.IncrB}) {
		t.Errorf("result: %+v", got)
	}
}

func TestDeleteBackupPrompt(t *testing.T) {
	for _, tc := range []struct {
		answer  string
		deleted bool
	}{{"y\n", true}, {"yes\n", true}, {"n\n", false}, {"", false}} {
		t.Run(strings.TrimSpace(tc.answer), func(t *testing.T) {
			f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
			r := &fakeRepo{backups: fakecluster.BackupChains()}
			out, _, err := runDeleteBackup(t, f, r.exec, tc.answer, true, "hippo", "--target="+fakecluster.FullB)
			for _, w := range []string{
				"This deletes from cluster \"hippo\" in namespace \"default\", with pgbackrest expire --set=" + fakecluster.FullB,
				"and the 1 backup(s) that depend on it",
				fakecluster.IncrB + "  incr backup, started 2026-11-24 01:00:00 UTC",
				"Warning: backup " + fakecluster.FullB + " is not due to expire",
				"Warning: the newest backup, " + fakecluster.IncrB + ", goes",
				"Delete backup " + fakecluster.FullB + "? [y/N]: ",
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
			if err == nil || !strings.Contains(err.Error(), "cancelled: backup "+fakecluster.FullB+" of cluster \"hippo\" was not deleted") {
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
	onlyFull := []repo.Backup{fakecluster.Backup(fakecluster.FullA, "full", ""), fakecluster.Backup(fakecluster.IncrA, "incr", fakecluster.FullA, fakecluster.FullA)}
	tests := []struct {
		name     string
		extra    []runtime.Object
		backups  []repo.Backup
		args     []string
		terminal bool
		want     []string
	}{
		{name: "no terminal", args: []string{"--target=" + fakecluster.FullA}, want: []string{"refusing to delete backup " + fakecluster.FullA, "stdin is not a terminal", "--yes"}},
		{name: "unknown label", args: []string{"--target=20200101-000000F", "--yes"}, want: []string{`backup "20200101-000000F" not found in cluster "hippo"; its backups are:`, fakecluster.FullA, fakecluster.DiffA, fakecluster.IncrA, fakecluster.FullB, fakecluster.IncrB}},
		{name: "no backups", backups: []repo.Backup{}, args: []string{"--target=" + fakecluster.FullA, "--yes"}, want: []string{`cluster "hippo" has no backups`}},
		{name: "active backup", extra: []runtime.Object{activeJob(jobs.ComponentBackup)}, args: []string{"--target=" + fakecluster.FullA, "--yes"}, want: []string{"backup Job hippo-backup-x is active"}},
		{name: "active restore", extra: []runtime.Object{activeJob(jobs.ComponentRestore)}, args: []string{"--target=" + fakecluster.FullA, "--yes"}, want: []string{"restore Job hippo-restore-x is active"}},
		{name: "only full", backups: onlyFull, args: []string{"--target=" + fakecluster.FullA, "--yes"}, want: []string{"it is the only full backup", "point in time", "kubectl pgo backup hippo -n default --type=full"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(append(renderedClusterObjects(t, "hippo", "default"), tc.extra...)...)
			backups := tc.backups
			if backups == nil {
				backups = fakecluster.BackupChains()
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
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	r := &fakeRepo{backups: fakecluster.BackupChains(), broken: true}
	_, _, err := runDeleteBackup(t, f, r.exec, "", false, "hippo", "--target="+fakecluster.IncrB, "--yes")
	if err == nil || !strings.Contains(err.Error(), "pgbackrest info still lists "+fakecluster.IncrB) {
		t.Errorf("err = %v", err)
	}
}

func TestDeleteBackupCompletion(t *testing.T) {
	f := kubefake.NewFactory(renderedClusterObjects(t, "hippo", "default")...)
	r := &fakeRepo{backups: fakecluster.BackupChains()}
	streams, _, _ := testStreams("")
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
	if !slices.Equal(labels, []string{fakecluster.FullB, fakecluster.IncrB}) || directive != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("got %q %v", got, directive)
	}
	if got, _ := complete(cmd, nil, ""); len(got) != 0 {
		t.Errorf("without a cluster: %q", got)
	}
	if got, _ := complete(cmd, []string{"zebra"}, ""); len(got) != 0 {
		t.Errorf("unknown cluster: %q", got)
	}
}
