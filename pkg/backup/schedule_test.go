package backup

import (
	"context"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// scheduleClients are the clients of a cluster hippo whose user may do
// anything.
func scheduleClients(t *testing.T, objects ...runtime.Object) *apply.Clients {
	t.Helper()
	f := kubefake.NewFactory(objects...)
	f.Clientset.PrependReactor("create", "selfsubjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		review.Status.Allowed = true
		return true, review, nil
	})
	c := &apply.Clients{Client: f.Clientset, Dynamic: f.Dynamic, Mapper: f.Mapper}
	return c
}

func testSchedule(t *testing.T, typ string) ScheduledBackup {
	spec := cluster.Spec{Name: "hippo", Namespace: "default"}
	spec.Default()
	return ScheduledBackup{Cluster: "hippo", Namespace: "default", Spec: spec, Name: "hippo-" + typ, Cron: "0 1 * * *", Type: typ,
		PGBackRestType: repo.BackupFull, RepoIndex: func(cluster.Spec) (int, error) { return 1, nil },
		Database: "app", PVC: "backup-hippo-pgdump-pvc", PVCSize: "1Gi"}
}

// A client dry run renders the CronJob with the Job of each run, and
// changes nothing.
func TestCreateScheduleDryRun(t *testing.T) {
	r, objs := testRequest(t)
	c := scheduleClients(t, objs...)
	exists := func(context.Context, string, string, string, []string) (string, string, error) { return "1\n", "", nil }
	for _, typ := range []string{jobs.BackupTypePGBackRest, jobs.BackupTypePGDump, jobs.BackupTypePGBaseBackup} {
		s := testSchedule(t, typ)
		s.Spec = r.Spec
		applied, result, err := CreateSchedule(context.Background(), c, exists, s, apply.DryRunClient)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		var cj batchv1.CronJob
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(applied.Object, &cj); err != nil {
			t.Fatal(err)
		}
		if result != "created" || cj.Name != "hippo-"+typ || cj.Spec.Schedule != "0 1 * * *" || cj.Labels[jobs.LabelBackupType] != typ {
			t.Errorf("%s: %s, %+v", typ, result, cj.ObjectMeta)
		}
		if _, ok := applied.Object["status"]; ok {
			t.Errorf("%s: the CronJob carries a status", typ)
		}
	}
	for _, a := range c.Client.(*fake.Clientset).Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" && a.GetResource().Resource != "selfsubjectaccessreviews" {
			t.Errorf("changed something: %s %s", v, a.GetResource().Resource)
		}
	}
}

// A missing database, or repository host, creates no schedule.
func TestScheduleJobRefusals(t *testing.T) {
	c := scheduleClients(t)
	missing := func(context.Context, string, string, string, []string) (string, string, error) { return "0\n", "", nil }
	if _, err := ScheduleJob(context.Background(), c, missing, testSchedule(t, jobs.BackupTypePGDump)); err == nil ||
		err.Error() != `database "app" does not exist in cluster "hippo". No schedule was created` {
		t.Errorf("error = %v", err)
	}
	if _, err := ScheduleJob(context.Background(), c, missing, testSchedule(t, jobs.BackupTypePGBackRest)); err == nil ||
		!strings.HasPrefix(err.Error(), `cannot schedule backups of cluster "hippo": its repository host Deployment hippo-backrest-shared-repo is missing`) {
		t.Errorf("error = %v", err)
	}
}
