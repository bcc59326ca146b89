package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
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
func restoreFromFixture(t *testing.T) (*restoreFixture, *RestoreFromOptions) {
	t.Helper()
	fx := newRestoreFixture(t)
	// The fixture's cluster is hippo; rename its objects to old.
	c := fx.f.Clientset
	spec := cluster.Spec{Name: "old", Namespace: "pgo"}
	spec.Default()
	m := cluster.Material{PKI: cluster.PKI{CACert: []byte("ca"), CAKey: []byte("k"), DBCert: []byte("old db.crt"), DBKey: []byte("old db.key"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p"}
	addRendered(t, c, spec, m)
	_ = c.Tracker().Add(readyPod("old-backrest-shared-repo-abc", podLabels("old", cluster.ComponentRepo), "pgbackrest"))
	r := &RestoreFromOptions{Source: "old", exec: fx.exec, pollInterval: time.Millisecond, Timeout: time.Minute}
	return fx, r
}

// addRendered adds the ConfigMaps, Secrets, PVCs and Deployments that
// create cluster renders for spec to the fake clientset c.
func addRendered(t *testing.T, c *fake.Clientset, spec cluster.Spec, m cluster.Material) {
	t.Helper()
	rendered, err := cluster.Render(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rendered {
		var obj k8sruntime.Object
		switch u.GetKind() {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Secret":
			obj = &corev1.Secret{}
		case "PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "Deployment":
			obj = &appsv1.Deployment{}
		default:
			continue
		}
		if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			t.Fatal(err)
		}
		if err := c.Tracker().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
}

func restoreFromStreams() genericiooptions.IOStreams {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	return streams
}

// The flag layer over restore.From (whose tests are in pkg/restore), from
// a running source: Prepare checks it, AdjustObjects keeps the new
// database stopped, and Restore runs the Job with the source's
// configuration, removes the temporary Secret and starts the database.
func TestRestoreFromRunningSource(t *testing.T) {
	fx, r := restoreFromFixture(t)
	r.SourceNamespace = "pgo"
	r.PITRTarget = "2026-11-26 07:30:00+00"
	if err := r.Validate("new", "other"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Prepare(ctx, fx.f, false, cluster.Spec{}, cluster.Material{}, restoreFromStreams()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if r.backup.Label != "20261126-072526F" {
		t.Errorf("backup = %q", r.backup.Label)
	}

	// What create cluster renders and applies for "new".
	spec := cluster.Spec{Name: "new", Namespace: "other"}
	spec.Default()
	objects, err := cluster.Render(spec, cluster.Material{PKI: cluster.PKI{CACert: []byte("c"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
		RepoCert: []byte("c"), RepoKey: []byte("k")}, Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AdjustObjects(objects); err != nil {
		t.Fatal(err)
	}
	var sts *appsv1.StatefulSet
	for _, obj := range objects {
		if obj.GetKind() == "StatefulSet" {
			replicas, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
			if replicas != 0 {
				t.Errorf("replicas = %d after AdjustObjects, want 0", replicas)
			}
			sts = &appsv1.StatefulSet{}
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, sts); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := fx.f.Clientset
	if err := c.Tracker().Add(sts); err != nil {
		t.Fatal(err)
	}
	var secret *corev1.Secret
	c.PrependReactor("create", "secrets", func(action k8stesting.Action) (bool, k8sruntime.Object, error) {
		secret = action.(k8stesting.CreateAction).GetObject().(*corev1.Secret).DeepCopy()
		return false, nil, nil
	})
	fx.f.Clientset.ClearActions()
	if err := r.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}

	if got, want := strings.Join(fx.mutations(), ", "), "delete secrets, create secrets, delete jobs, create jobs, patch statefulsets, delete secrets"; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if secret == nil || secret.Namespace != "other" || string(secret.Data[jobs.SourceKeyCert]) != "old db.crt" ||
		!strings.Contains(string(secret.Data[jobs.SourceKeyConfig]), "repo1-host=old-backrest-shared-repo") {
		t.Errorf("source Secret = %+v", secret)
	}
	job, err := c.BatchV1().Jobs("other").Get(ctx, "new-restore", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " ")
	for _, want := range []string{
		"--stanza=db --pg1-path=/pgdata/new --repo1-host=old-backrest-shared-repo.pgo.svc restore --delta --set=20261126-072526F --type=time --target=2026-11-26 07:30:00+00 --target-action=promote",
		"archive_mode=off",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("job command lacks %q:\n%s", want, cmd)
		}
	}
	env := map[string]string{}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["PASSWORD_FILE"] != "/etc/kubectl-pgo/password" || env["PG_BIN"] != "/usr/lib/postgresql/15/bin" {
		t.Errorf("job env = %v", env)
	}
	got, _ := c.AppsV1().StatefulSets("other").Get(ctx, "new", metav1.GetOptions{})
	if *got.Spec.Replicas != 1 {
		t.Errorf("replicas = %d after the restore, want 1", *got.Spec.Replicas)
	}
}
