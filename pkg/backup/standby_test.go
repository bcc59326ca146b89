package backup

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// A backup from a standby picks the streaming replica with the least lag, and its Job copies from
// that replica's own Service as pg2 with backup-standby, annotated with the pod; a cluster
// without a streaming replica is refused before any Job.
func TestBackupFromStandby(t *testing.T) {
	r, objs := testRequest(t)
	db := fakecluster.PodLabels("hippo", cluster.ComponentDatabase)
	objs = slices.DeleteFunc(objs, func(o runtime.Object) bool { return o.(metav1.Object).GetName() == "hippo-0" })
	objs = append(objs,
		fakecluster.RunningPod("default", "hippo-0", db, "database", "pgbackrest"),
		fakecluster.RunningPod("default", "hippo-r1-0", db, "database", "pgbackrest"),
		fakecluster.RunningPod("default", "hippo-r2-0", db, "database", "pgbackrest"))
	client := fake.NewSimpleClientset(objs...)
	senders := `[{"name": "hippo-r1", "state": "streaming", "lagBytes": 8192}, {"name": "hippo-r2", "state": "streaming", "lagBytes": 0}]`
	exec := func(_ context.Context, _, pod, _ string, command []string) (string, string, error) {
		switch query := command[len(command)-1]; {
		case strings.Contains(query, "pg_stat_replication"):
			return senders, "", nil
		case pod == "hippo-0":
			return `{"inRecovery": false, "timeline": 1}`, "", nil
		default:
			return `{"inRecovery": true, "timeline": 1}`, "", nil
		}
	}

	if _, err := ChooseStandby(context.Background(), client, exec, r.Spec); err == nil || !strings.Contains(err.Error(), "it has no replica") {
		t.Errorf("no replicas: %v", err)
	}
	r.Spec.Replicas = 2
	standby, err := ChooseStandby(context.Background(), client, exec, r.Spec)
	if err != nil || standby != "hippo-r2" {
		t.Fatalf("ChooseStandby = %q, %v; want hippo-r2 (no lag)", standby, err)
	}
	r.Standby = standby
	job, err := Start(context.Background(), client, r, now)
	if err != nil {
		t.Fatal(err)
	}
	command := job.Spec.Template.Spec.Containers[0].Command
	for _, want := range []string{"--backup-standby", "--pg2-host=hippo-r2-0", "--pg2-host-type=tls", "--pg2-path=" + cluster.DataDirectory("hippo"),
		"--annotation=kubectl-pgo.standby=hippo-r2-0"} {
		if !slices.Contains(command, want) {
			t.Errorf("the Job's command lacks %s: %v", want, command)
		}
	}

	senders = `[{"name": "hippo-r1", "state": "catchup", "lagBytes": 8192}]`
	if _, err := ChooseStandby(context.Background(), client, exec, r.Spec); err == nil ||
		!strings.Contains(err.Error(), "no replica streams from the primary (hippo-r1-0: catchup; hippo-r2-0: not connected)") ||
		!strings.Contains(err.Error(), "Nothing was started") {
		t.Errorf("no streaming replica: %v", err)
	}
}
