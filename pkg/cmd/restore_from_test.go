package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

func TestRestoreFromValidate(t *testing.T) {
	tests := []struct {
		name string
		r    RestoreFromOptions
		want string // "" for no error
	}{
		{name: "off", r: RestoreFromOptions{}},
		{name: "latest", r: RestoreFromOptions{Source: "old"}},
		{name: "point in time, other namespace", r: RestoreFromOptions{Source: "old", SourceNamespace: "prod", PITRTarget: "2026-11-24T12:00:00Z"}},
		{name: "set", r: RestoreFromOptions{Source: "old", RestoreOpts: "--set=20261124-110000F --type=immediate"}},
		{name: "target without source", r: RestoreFromOptions{PITRTarget: "2026-11-24T12:00:00Z"}, want: "--pitr-target needs --restore-from"},
		{name: "bad source", r: RestoreFromOptions{Source: "Old_1"}, want: "--restore-from=Old_1 is not a cluster name"},
		{name: "bad namespace", r: RestoreFromOptions{Source: "old", SourceNamespace: "a/b"}, want: "--restore-from-namespace=a/b is not a namespace"},
		{name: "itself", r: RestoreFromOptions{Source: "new"}, want: "names the cluster being created"},
		{name: "itself elsewhere is another", r: RestoreFromOptions{Source: "new", SourceNamespace: "other"}},
		{name: "malformed target", r: RestoreFromOptions{Source: "old", PITRTarget: "noon"}, want: `invalid --pitr-target: "noon" is not a valid point-in-time target`},
		{name: "denied option", r: RestoreFromOptions{Source: "old", RestoreOpts: "--pg1-path=/x"}, want: "--pg1-path cannot be given"},
		{name: "pause", r: RestoreFromOptions{Source: "old", RestoreOpts: "--type=immediate --target-action=pause"}, want: "--target-action=pause cannot be used with --restore-from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate("new", "pg")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

// restoreFromFixture is a running cluster "old" in namespace "pgo" with one
// backup, to restore into a new cluster "new".
func restoreFromFixture(t *testing.T) (*fakecluster.Cluster, *RestoreFromOptions) {
	t.Helper()
	fx := fakecluster.New(t)
	fx.AddSource(t, "old")
	r := &RestoreFromOptions{Source: "old", exec: fx.Exec, pollInterval: time.Millisecond, Timeout: time.Minute}
	return fx, r
}

func restoreFromStreams() genericiooptions.IOStreams {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	return streams
}

// The flag layer over restore.From, whose tests (in pkg/restore) check
// what it reads, creates and removes: the flags reach the restore, Prepare
// gets its clients from the factory and keeps the backup it chose, and
// AdjustObjects and Restore hand over to it.
func TestRestoreFromRunningSource(t *testing.T) {
	fx, r := restoreFromFixture(t)
	r.SourceNamespace = "pgo"
	r.PITRTarget = "2026-11-26 07:30:00+00"
	if err := r.Validate("new", "other"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Prepare(ctx, fx.Factory, false, cluster.Spec{PostgresVersion: fakecluster.FixtureVersion}, cluster.Material{}, restoreFromStreams()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if r.backup.Label != "20261126-072526F" {
		t.Errorf("backup = %q", r.backup.Label)
	}

	fx.AddBootstrapped(t, "new", "other", r.AdjustObjects)
	c := fx.Factory.Clientset
	if err := r.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	job, err := c.BatchV1().Jobs("other").Get(ctx, "new-restore", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cmd, want := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " "), "--set=20261126-072526F --type=time --target=2026-11-26 07:30:00+00 "; !strings.Contains(cmd, want) {
		t.Errorf("job command lacks %q:\n%s", want, cmd)
	}
}
