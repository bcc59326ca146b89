package lifecycle

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// runDelete finds the objects of cluster hippo and deletes them, as
// delete cluster hippo --yes does.
func runDelete(t *testing.T, f *kubefake.Factory, keepBackups bool, timeout time.Duration) (doomed, kept []Object, out string, err error) {
	t.Helper()
	c := clients(f)
	doomed, kept, err = Find(context.Background(), c, "default", "hippo", keepBackups)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = Delete(context.Background(), c, DeleteOptions{Name: "hippo", Namespace: "default", Wait: true, Timeout: timeout, Poll: time.Millisecond, Out: &b}, doomed)
	return doomed, kept, b.String(), err
}

func TestDelete(t *testing.T) {
	f := fakecluster.NewDeletableFactory(t)
	_, _, out, err := runDelete(t, f, false, time.Minute)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	want := []string{
		"cronjobs/hippo-pgbackrest-full",
		"jobs/hippo-backup-abcd",
		"statefulsets/hippo",
		"deployments/hippo-backrest-shared-repo",
		"services/hippo", "services/hippo-backrest-shared-repo",
		"persistentvolumeclaims/hippo", "persistentvolumeclaims/hippo-pgbr-repo",
		"secrets/hippo-backrest-repo-config", "secrets/hippo-postgres-secret",
		"configmaps/hippo-pgbackrest-config", "configmaps/hippo-pgo-config",
	}
	got := f.Deletes()
	// Within the last stage the order is by kind, then by name.
	if !slices.Equal(got[:4], want[:4]) {
		t.Errorf("first deletes = %v, want the schedule's CronJob and the Job, then the StatefulSet, then the Deployment", got)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("deleted %v\nwant %v", got, want)
	}
	for _, line := range []string{"statefulset.apps/hippo deleted\n", "job.batch/hippo-backup-abcd deleted\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	for _, a := range f.Dynamic.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok {
			if p := d.GetDeleteOptions().PropagationPolicy; p == nil || *p != metav1.DeletePropagationBackground {
				t.Errorf("%s deleted with propagation %v, want Background", d.GetName(), p)
			}
		}
	}
}

func TestDeleteKeepBackups(t *testing.T) {
	f := fakecluster.NewDeletableFactory(t)
	_, kept, _, err := runDelete(t, f, true, time.Minute)
	if err != nil {
		t.Fatalf("delete --keep-backups: %v", err)
	}
	got := f.Deletes()
	for _, kept := range []string{"persistentvolumeclaims/hippo-pgbr-repo", "secrets/hippo-backrest-repo-config", "configmaps/hippo-pgo-config"} {
		if slices.Contains(got, kept) {
			t.Errorf("%s deleted despite --keep-backups", kept)
		}
	}
	if len(got) != 9 {
		t.Errorf("deleted %d objects, want 9: %v", len(got), got)
	}
	if want := "persistentvolumeclaim/hippo-pgbr-repo, secret/hippo-backrest-repo-config, configmap/hippo-pgo-config"; Refs(kept) != want {
		t.Errorf("kept %s, want %s", Refs(kept), want)
	}

	// Again: nothing left but the backups.
	doomed, kept, err := Find(context.Background(), clients(f), "default", "hippo", true)
	if err != nil || len(doomed) != 0 || len(kept) != 3 {
		t.Errorf("second find: %v, doomed %s, kept %s", err, Refs(doomed), Refs(kept))
	}
}

// The repository host is deleted only once the database pod is gone.
func TestDeleteStopsTheDatabaseFirst(t *testing.T) {
	f := kubefake.NewFactory(fakecluster.ObjectsOfEveryKind()...) // the pod never goes
	_, _, _, err := runDelete(t, f, false, 50*time.Millisecond)
	want := "waiting for the database pod to stop: timed out after 50ms (run the same command again to finish the deletion)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	if got := f.Deletes(); !slices.Equal(got, []string{"cronjobs/hippo-pgbackrest-full", "jobs/hippo-backup-abcd", "statefulsets/hippo"}) {
		t.Errorf("deleted %v, want only the CronJob, the Job and the StatefulSet", got)
	}
}
