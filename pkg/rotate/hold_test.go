package rotate

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

func schedule(name string, suspend bool, annotations map[string]string) *batchv1.CronJob {
	return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pgo", Labels: jobs.ScheduleSelector("hippo"), Annotations: annotations},
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", Suspend: ptr.To(suspend)}}
}

func clusterJob(name, component string) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pgo",
		Labels: cluster.Labels("hippo", component), CreationTimestamp: metav1.NewTime(issued)}}
}

// With --wait-for-jobs, a rotation during a scheduled backup suspends the
// running schedules (and one an interrupted rotation left suspended, not
// one the user suspended), waits until the backup Job ends, rotates, and
// resumes them; the steps say so.
func TestHoldWaitsForBackupAndSuspendsSchedules(t *testing.T) {
	fx := newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"},
		schedule("hippo-pgbackrest-incr", false, nil),
		schedule("hippo-pgbackrest-full", true, map[string]string{AnnotationHeld: "passwords 2026-01-01T00:00:00Z"}),
		schedule("hippo-pgdump", true, nil),
		clusterJob("hippo-pgbackrest-incr-123", jobs.ComponentBackup))
	e := newPodExec(t, fx)
	req := fx.request(e.exec)
	req.WaitForJobs = true
	progress := &bytes.Buffer{}
	req.Progress = progress
	plan, err := PlanCerts(context.Background(), fx.clients(), req, true)
	if err != nil {
		t.Fatal(err)
	}
	if m := fx.mutations(); len(m) != 0 {
		t.Fatalf("planning changed %v", m)
	}
	steps := strings.Join(plan.Steps(0), "\n")
	for _, want := range []string{"suspend the backup schedules hippo-pgbackrest-full, hippo-pgbackrest-incr until the rotation ends",
		"wait until backup Job hippo-pgbackrest-incr-123 ends"} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps lack %q:\n%s", want, steps)
		}
	}
	if strings.Contains(steps, "hippo-pgdump") {
		t.Errorf("a schedule the user suspended is in the steps:\n%s", steps)
	}

	// The backup ends after a few polls; until then nothing is rotated.
	cronJobs, batch := fx.f.Clientset.BatchV1().CronJobs("pgo"), fx.f.Clientset.BatchV1().Jobs("pgo")
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		time.Sleep(50 * time.Millisecond)
		for _, name := range []string{"hippo-pgbackrest-incr", "hippo-pgbackrest-full"} {
			cj, _ := cronJobs.Get(context.Background(), name, metav1.GetOptions{})
			if !suspended(cj) || !strings.HasPrefix(cj.Annotations[AnnotationHeld], "certificates ") {
				t.Errorf("schedule %s during the wait: suspend %v, annotations %v", name, cj.Spec.Suspend, cj.Annotations)
			}
		}
		if len(e.callsMatching("pg_reload_conf")) != 0 {
			t.Error("PostgreSQL was reloaded while the backup ran")
		}
		j, _ := batch.Get(context.Background(), "hippo-pgbackrest-incr-123", metav1.GetOptions{})
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: "True"}}
		_, _ = batch.UpdateStatus(context.Background(), j, metav1.UpdateOptions{})
	}()
	if _, err := Certs(context.Background(), fx.clients(), req, plan); err != nil {
		t.Fatalf("%v\n%s", err, progress)
	}
	<-ended
	if !strings.Contains(progress.String(), "waiting for backup Job hippo-pgbackrest-incr-123 to end before rotating the certificates") {
		t.Errorf("progress does not say which Job it waited for:\n%s", progress)
	}
	for name, want := range map[string]bool{"hippo-pgbackrest-incr": false, "hippo-pgbackrest-full": false, "hippo-pgdump": true} {
		cj, _ := cronJobs.Get(context.Background(), name, metav1.GetOptions{})
		if suspended(cj) != want || cj.Annotations[AnnotationHeld] != "" {
			t.Errorf("schedule %s after the rotation: suspend %v (want %v), annotations %v", name, *cj.Spec.Suspend, want, cj.Annotations)
		}
	}
}

// A restore Job is never waited for; without --wait-for-jobs neither is a
// backup; and a failed rotation resumes the schedules too.
func TestHoldRefusesAndResumesOnFailure(t *testing.T) {
	fx := newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"}, clusterJob("hippo-restore-1", jobs.ComponentRestore))
	req := fx.request(nil)
	req.WaitForJobs = true
	if _, err := PlanPassword(context.Background(), fx.clients(), req, true); err == nil || !strings.Contains(err.Error(), "restore Job hippo-restore-1 of cluster hippo is") ||
		!strings.Contains(err.Error(), "Nothing was changed") {
		t.Errorf("during a restore: %v", err)
	}

	fx = newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"}, schedule("hippo-pgbackrest-incr", false, nil))
	e := newPodExec(t, fx)
	e.alterFails = true
	req = fx.request(e.exec)
	req.WaitForJobs = true
	plan, err := PlanPassword(context.Background(), fx.clients(), req, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Password(context.Background(), fx.clients(), req, plan); err == nil {
		t.Fatal("ALTER ROLE failed, yet the rotation did not")
	}
	cj, _ := fx.f.Clientset.BatchV1().CronJobs("pgo").Get(context.Background(), "hippo-pgbackrest-incr", metav1.GetOptions{})
	if suspended(cj) || cj.Annotations[AnnotationHeld] != "" {
		t.Errorf("after a failed rotation the schedule is suspend %v, annotations %v", *cj.Spec.Suspend, cj.Annotations)
	}
	if !strings.Contains(req.Progress.(*bytes.Buffer).String(), "schedule hippo-pgbackrest-incr resumed") {
		t.Errorf("progress:\n%s", req.Progress)
	}

	// A restore that starts during the wait ends it at once, with the schedules resumed.
	fx = newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"}, schedule("hippo-pgbackrest-incr", false, nil), clusterJob("hippo-backup-1", jobs.ComponentBackup))
	req = fx.request(newPodExec(t, fx).exec)
	req.WaitForJobs, req.Timeout = true, time.Minute
	plan, err = PlanPassword(context.Background(), fx.clients(), req, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.f.Clientset.BatchV1().Jobs("pgo").Create(context.Background(), clusterJob("hippo-restore-2", jobs.ComponentRestore), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Password(context.Background(), fx.clients(), req, plan)
	if err == nil || !strings.Contains(err.Error(), "restore Job hippo-restore-2") || !strings.Contains(err.Error(), "nothing was rotated") || time.Since(start) > 10*time.Second {
		t.Errorf("a restore during the wait: %v after %s", err, time.Since(start))
	}
	if s := fx.secret(t, cluster.PostgresSecretName("hippo")); string(s.Data[cluster.KeyPassword]) == string(plan.Secret.Data[cluster.KeyPassword]) {
		t.Error("the new password was written although the rotation was refused")
	}
	cj, _ = fx.f.Clientset.BatchV1().CronJobs("pgo").Get(context.Background(), "hippo-pgbackrest-incr", metav1.GetOptions{})
	if suspended(cj) {
		t.Error("the schedule stayed suspended")
	}
}
