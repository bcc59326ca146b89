package cmd

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

func executeDelete(t *testing.T, f *kubefake.Factory, stdin string, terminal bool, args ...string) (string, error) {
	t.Helper()
	streams, out, _ := testStreams(stdin)
	o := NewDeleteClusterOptions(streams)
	o.isTerminal = func(io.Reader) bool { return terminal }
	o.pollInterval = time.Millisecond
	cmd := newCmdDeleteCluster(f, o)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), err
}

// deletes are the objects deleted, in order, as resource/name.
func deletes(f *kubefake.Factory) []string { return f.Deletes() }

// What is deleted, and in which order, is tested in pkg/lifecycle.
func TestDeleteCluster(t *testing.T) {
	f := fakecluster.NewDeletableFactory(t)
	out, err := executeDelete(t, f, "", false, "hippo", "--yes")
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := deletes(f); len(got) != 12 {
		t.Errorf("deleted %d objects, want 12: %v", len(got), got)
	}
	for _, line := range []string{"statefulset.apps/hippo deleted\n", "cluster hippo deleted\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestDeleteClusterKeepBackups(t *testing.T) {
	f := fakecluster.NewDeletableFactory(t)
	out, err := executeDelete(t, f, "", false, "hippo", "--keep-backups", "--no-prompt")
	if err != nil {
		t.Fatalf("delete --keep-backups: %v", err)
	}
	got := deletes(f)
	for _, kept := range []string{"persistentvolumeclaims/hippo-pgbr-repo", "secrets/hippo-backrest-repo-config", "configmaps/hippo-pgo-config"} {
		if slices.Contains(got, kept) {
			t.Errorf("%s deleted despite --keep-backups", kept)
		}
	}
	if len(got) != 9 {
		t.Errorf("deleted %d objects, want 9: %v", len(got), got)
	}
	want := "cluster hippo deleted; kept its backups: persistentvolumeclaim/hippo-pgbr-repo, secret/hippo-backrest-repo-config, configmap/hippo-pgo-config\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("output does not end with %q:\n%s", want, out)
	}

	// Again: nothing left but the backups.
	f.Dynamic.ClearActions()
	out, err = executeDelete(t, f, "", false, "hippo", "--keep-backups", "--yes")
	if err != nil || !strings.Contains(out, "cluster hippo has nothing left to delete") || len(deletes(f)) != 0 {
		t.Errorf("second delete --keep-backups: %v, %v\n%s", err, deletes(f), out)
	}
}

func TestDeleteClusterConfirmation(t *testing.T) {
	tests := []struct {
		name        string
		stdin       string
		terminal    bool
		args        []string
		wantErr     string
		wantDeleted bool
	}{
		{name: "no terminal", terminal: false, args: []string{"hippo"},
			wantErr: `refusing to delete cluster "hippo" without confirmation: stdin is not a terminal to ask on; pass --yes (or --no-prompt) to delete it`},
		{name: "answer no", stdin: "n\n", terminal: true, args: []string{"hippo"}, wantErr: `cancelled: cluster "hippo" was not deleted`},
		{name: "no answer", stdin: "", terminal: true, args: []string{"hippo"}, wantErr: "cancelled"},
		{name: "answer yes", stdin: "yes\n", terminal: true, args: []string{"hippo"}, wantDeleted: true},
		{name: "answer y without newline", stdin: "Y", terminal: true, args: []string{"hippo", "--keep-backups"}, wantDeleted: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fakecluster.NewDeletableFactory(t)
			out, err := executeDelete(t, f, tc.stdin, tc.terminal, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Errorf("delete: %v", err)
			}
			if deleted := len(deletes(f)) > 0; deleted != tc.wantDeleted {
				t.Errorf("deleted = %v, want %v", deleted, tc.wantDeleted)
			}
			if tc.terminal {
				for _, want := range []string{`This deletes cluster "hippo" in namespace "default":`, "  statefulset.apps/hippo\n", "Delete cluster hippo? [y/N]: "} {
					if !strings.Contains(out, want) {
						t.Errorf("prompt lacks %q:\n%s", want, out)
					}
				}
				if slices.Contains(tc.args, "--keep-backups") && !strings.Contains(out, "and keeps (--keep-backups):\n  persistentvolumeclaim/hippo-pgbr-repo\n") {
					t.Errorf("prompt does not name what is kept:\n%s", out)
				}
			}
		})
	}
}

func TestDeleteClusterNotFound(t *testing.T) {
	f := fakecluster.NewDeletableFactory(t)
	_, err := executeDelete(t, f, "", false, "rhino", "--yes")
	want := `cluster "rhino" not found in namespace "default"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
	if d := deletes(f); len(d) != 0 {
		t.Errorf("deleted %v", d)
	}
}

func TestDeleteClusterRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "a cluster name is required"},
		{[]string{"a", "b"}, "takes one cluster name, got 2 arguments"},
		{[]string{"Hippo"}, `cluster name "Hippo" is not valid`},
		{[]string{strings.Repeat("x", 50)}, "is too long"},
		{[]string{"hippo", "--timeout=-1s"}, "invalid --timeout -1s"},
	} {
		f := fakecluster.NewDeletableFactory(t)
		_, err := executeDelete(t, f, "", true, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want %q", tc.args, err, tc.want)
		}
		assertNoRequests(t, f)
	}
}

// Missing delete permissions are listed before anything is deleted.
func TestDeleteClusterForbidden(t *testing.T) {
	f := fakecluster.NewDeletableFactory(t)
	f.Clientset.PrependReactor("create", "selfsubjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		review.Status.Allowed = review.Spec.ResourceAttributes.Resource != "persistentvolumeclaims"
		return true, review, nil
	})
	_, err := executeDelete(t, f, "", false, "hippo", "--yes")
	want := `forbidden: you may not delete cluster "hippo" in namespace "default"; missing permissions: delete persistentvolumeclaims`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
	if d := deletes(f); len(d) != 0 {
		t.Errorf("deleted %v", d)
	}
}
