package backup

import (
	"context"
	"slices"
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

// With the cluster's backup-standby setting, a schedule's Job lists every instance's Service as
// pg1, pg2, ... with backup-standby, so that pgBackRest finds the primary and a standby when it
// runs (after a failover too), and annotates the backup as copied from a standby it chose; without
// the setting it has none of that.
func TestScheduleJobFromAStandby(t *testing.T) {
	r, objs := testRequest(t)
	c := scheduleClients(t, objs...)
	s := testSchedule(t, jobs.BackupTypePGBackRest)
	s.Spec = r.Spec
	job, err := ScheduleJob(context.Background(), c, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if command := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "); strings.Contains(command, "standby") || strings.Contains(command, "--pg1-host") {
		t.Errorf("without the setting, the Job backs up from a standby: %s", command)
	}
	s.Spec.Replicas, s.Spec.BackupStandby, s.Spec.Primary = 2, true, "hippo-r1"
	job, err = ScheduleJob(context.Background(), c, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	command := job.Spec.Template.Spec.Containers[0].Command
	for _, want := range []string{"--backup-standby", "--pg1-host=hippo-0", "--pg2-host=hippo-r1-0", "--pg3-host=hippo-r2-0", "--pg3-host-type=tls",
		"--annotation=" + repo.AnnotationStandby + "=" + repo.AnyStandby} {
		if !slices.Contains(command, want) {
			t.Errorf("the Job's command lacks %s: %v", want, command)
		}
	}
}
