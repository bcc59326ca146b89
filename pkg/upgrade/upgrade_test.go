package upgrade

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

func upgrader(fx *fakecluster.Cluster) Upgrader {
	f := fx.Factory
	return Upgrader{Clients: &apply.Clients{Config: f.Config, Client: f.Clientset, Dynamic: f.Dynamic, Mapper: f.Mapper},
		Exec: fx.Exec, Out: io.Discard, Log: io.Discard}
}

func request(to int) Request {
	return Request{Name: "hippo", Namespace: "pgo", To: to, Mode: jobs.UpgradeLink, Timeout: time.Minute, Poll: time.Millisecond,
		Now: func() time.Time { return time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC) }}
}

// What cannot work is refused before anything changes, saying what to do.
func TestCheckRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func(*Request)
		fx   func(*testing.T, *fakecluster.Cluster)
		want string
	}{
		{name: "not found", req: func(r *Request) { r.Name = "nope" }, want: `cluster "nope" not found in namespace "pgo"`},
		{name: "unknown major", req: func(r *Request) { r.To = 16 }, want: "PostgreSQL 16 is not supported: use one of 15, 17, 18"},
		{name: "same major", req: func(r *Request) { r.To = 15 }, want: `cluster "hippo" runs PostgreSQL 15: --to=15 is not a newer major`},
		{name: "a backup runs", fx: func(t *testing.T, fx *fakecluster.Cluster) {
			job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-backup-x", Namespace: "pgo", Labels: cluster.Labels("hippo", jobs.ComponentBackup),
				CreationTimestamp: metav1.Now()}}
			// Added past the fake's Job controller, which would finish it.
			if err := fx.Factory.Clientset.Tracker().Add(job); err != nil {
				t.Fatal(err)
			}
		}, want: "hippo-backup-x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := fakecluster.New(t)
			if tc.fx != nil {
				tc.fx(t, fx)
			}
			r := request(17)
			if tc.req != nil {
				tc.req(&r)
			}
			fx.Factory.Clientset.ClearActions()
			_, err := upgrader(fx).Check(context.Background(), r)
			fx.Refused(t, err, tc.want)
		})
	}
}

// A plan for 17: the new settings name 17's image and binaries, the Job the upgrade image.
func TestPlan(t *testing.T) {
	fx := fakecluster.New(t)
	plan, err := upgrader(fx).Check(context.Background(), request(17))
	if err != nil {
		t.Fatal(err)
	}
	up := plan.Upgraded()
	if up.PostgresVersion != 17 || up.Image != cluster.ImageFor(17) || plan.upgradeImage() != cluster.UpgradeImageFor(17) {
		t.Errorf("upgraded %d %s, Job image %s", up.PostgresVersion, up.Image, plan.upgradeImage())
	}
	if d := plan.Describe(); !strings.Contains(d, "PostgreSQL 15 to 17 with pg_upgrade --link") || !strings.Contains(d, "a full backup of PostgreSQL 15") {
		t.Errorf("Describe:\n%s", d)
	}
}
