package cmd

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// clusterFixture is every kind of object a cluster has, plus objects that
// are not the cluster's and must survive.
func clusterFixture() []runtime.Object {
	meta := func(name, component string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "default", Labels: cluster.Labels("hippo", component), UID: types.UID("uid-" + name)}
	}
	ownedPod := &corev1.Pod{ObjectMeta: meta("hippo-0", cluster.ComponentDatabase)}
	ownedPod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "hippo", UID: "x", Controller: ptrTo(true)}}
	unmanaged := metav1.ObjectMeta{Name: "hippo-notes", Namespace: "default", Labels: map[string]string{"pg-cluster": "hippo", "app.kubernetes.io/instance": "hippo"}}
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&appsv1.StatefulSet{ObjectMeta: meta("hippo", cluster.ComponentDatabase)},
		&appsv1.Deployment{ObjectMeta: meta("hippo-backrest-shared-repo", cluster.ComponentRepo)},
		&batchv1.Job{ObjectMeta: meta("hippo-backup-abcd", "backup")},
		&batchv1.CronJob{ObjectMeta: meta("hippo-pgbackrest-full", "schedule")},
		ownedPod,
		&corev1.Service{ObjectMeta: meta("hippo", cluster.ComponentDatabase)},
		&corev1.Service{ObjectMeta: meta("hippo-backrest-shared-repo", cluster.ComponentRepo)},
		&corev1.PersistentVolumeClaim{ObjectMeta: meta("hippo", cluster.ComponentDatabase)},
		&corev1.PersistentVolumeClaim{ObjectMeta: meta("hippo-pgbr-repo", cluster.ComponentRepo)},
		&corev1.Secret{ObjectMeta: meta("hippo-backrest-repo-config", cluster.ComponentRepo)},
		&corev1.Secret{ObjectMeta: meta("hippo-postgres-secret", cluster.ComponentDatabase)},
		&corev1.ConfigMap{ObjectMeta: meta("hippo-pgo-config", cluster.ComponentConfig)},
		&corev1.ConfigMap{ObjectMeta: meta("hippo-pgbackrest-config", cluster.ComponentConfig)},
		// Not kubectl-pgo's, and another cluster's: both stay.
		&corev1.ConfigMap{ObjectMeta: unmanaged},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "zebra", Namespace: "default", Labels: cluster.Labels("zebra", cluster.ComponentDatabase)}},
	}
}

// newDeleteFactory holds clusterFixture. The fake has no garbage
// collector, so the StatefulSet's pod is taken away when the StatefulSet
// is deleted, as the real one would be.
func newDeleteFactory(t *testing.T) *kubefake.Factory {
	t.Helper()
	f := kubefake.NewFactory(clusterFixture()...)
	f.Dynamic.PrependReactor("delete", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		err := f.Clientset.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "default", "hippo-0")
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
		return false, nil, nil
	})
	return f
}

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
	f := newDeleteFactory(t)
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
	f := newDeleteFactory(t)
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
			f := newDeleteFactory(t)
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
	f := newDeleteFactory(t)
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
		f := newDeleteFactory(t)
		_, err := executeDelete(t, f, "", true, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want %q", tc.args, err, tc.want)
		}
		assertNoRequests(t, f)
	}
}

// Missing delete permissions are listed before anything is deleted.
func TestDeleteClusterForbidden(t *testing.T) {
	f := newDeleteFactory(t)
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
