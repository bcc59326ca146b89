package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// newCreate are the options of create cluster hippo in namespace default
// with the defaults of its flags; set changes the settings and says
// which were given, as the flags would.
func newCreate(t *testing.T, set func(*cluster.Spec, *Given)) CreateOptions {
	t.Helper()
	spec := cluster.Spec{Name: "hippo", Namespace: "default"}
	var given Given
	if set != nil {
		set(&spec, &given)
	}
	spec.Default()
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	return CreateOptions{Request: Request{Spec: spec, Given: given, DryRun: apply.DryRunNone, Timeout: apply.DefaultWaitTimeout, Poll: time.Millisecond, Now: time.Now}}
}

// runCreate runs Create against f, and returns what it wrote to stdout and
// stderr.
func runCreate(f *kubefake.Factory, o CreateOptions) (string, string, error) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	o.Out, o.ErrOut = out, errOut
	err := Create(context.Background(), clients(f), o)
	return out.String(), errOut.String(), err
}

// createdFactory is a fake API server on which create cluster can run.
func createdFactory(objs ...runtime.Object) *kubefake.Factory {
	f := newClusterFactory(objs...)
	f.AllowAccess()
	f.ServerSideApply()
	return f
}

func TestCreateCreatesThenIsUnchanged(t *testing.T) {
	f := createdFactory()
	// The typed client reads the settings and the Secrets; mirror the
	// dynamic store into it after the first create.
	out, _, err := runCreate(f, newCreate(t, func(s *cluster.Spec, g *Given) { s.Resources.CPURequest, g.CPU = "500m", true }))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	for _, want := range []string{
		"secret/hippo-backrest-repo-config created\n",
		"statefulset.apps/hippo created\n",
		"deployment.apps/hippo-backrest-shared-repo created\n",
		"cluster hippo created\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := len(f.Writes()); got != 13 {
		t.Errorf("%d writes, want 13 applies: %v", got, f.Writes())
	}

	// Second run: the typed client must see the Secrets and the settings.
	f.MirrorToTyped(t)
	f.ClearActions()
	out, _, err = runCreate(f, newCreate(t, nil))
	if err != nil {
		t.Fatalf("second create: %v", err)
	}
	if strings.Count(out, " unchanged\n") != 14 || !strings.HasSuffix(out, "cluster hippo unchanged\n") {
		t.Errorf("second create changed something:\n%s", out)
	}

	// A mutable change is applied.
	out, _, err = runCreate(f, newCreate(t, func(s *cluster.Spec, g *Given) { s.Resources.MemoryLimit, g.MemoryLimit = "1Gi", true }))
	if err != nil {
		t.Fatalf("third create: %v", err)
	}
	if !strings.Contains(out, "statefulset.apps/hippo configured\n") || !strings.HasSuffix(out, "cluster hippo configured\n") {
		t.Errorf("a new memory limit did not configure the StatefulSet:\n%s", out)
	}
}

// An existing cluster with another setting that cannot change: refused,
// nothing written.
func TestCreateRefusesImmutableChange(t *testing.T) {
	f := createdFactory()
	if _, _, err := runCreate(f, newCreate(t, nil)); err != nil {
		t.Fatal(err)
	}
	f.MirrorToTyped(t)
	f.ClearActions()

	_, _, err := runCreate(f, newCreate(t, func(s *cluster.Spec, g *Given) {
		s.StorageSize, g.StorageSize = "2Gi", true
		s.RepoStorageClass, g.RepoStorageClass = "slow", true
	}))
	if err == nil {
		t.Fatal("create with another storage size succeeded")
	}
	for _, want := range []string{
		`cluster "hippo" already exists in namespace "default" with settings that cannot change; nothing was changed`,
		"the storage size is immutable: the cluster uses 1Gi, the request says 2Gi",
		"the repository storage class is immutable",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("writes despite the refusal: %v", w)
	}

	// posix is local: the same cluster.
	out, _, err := runCreate(f, newCreate(t, func(s *cluster.Spec, g *Given) {
		s.StorageType, g.StorageType = []cluster.StorageType{cluster.StoragePosix}, true
		s.StorageSize, g.StorageSize = "1024Mi", true
	}))
	if err != nil || !strings.HasSuffix(out, "cluster hippo unchanged\n") {
		t.Errorf("posix and 1024Mi changed the cluster: %v\n%s", err, out)
	}
}

// An object of the same name that kubectl-pgo did not make is refused
// before anything is written.
func TestCreateRefusesForeignObjects(t *testing.T) {
	foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Namespace: "default", Labels: map[string]string{"app": "mine"}}}
	otherCluster := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hippo-backrest-shared-repo", Namespace: "default",
		Labels: cluster.Labels("hippo-backrest-shared-repo", cluster.ComponentDatabase)}}
	tests := []struct {
		name   string
		obj    runtime.Object
		dryRun string
		want   string
	}{
		{"unlabelled Service", foreign, apply.DryRunNone,
			"Service default/hippo already exists and was not created by kubectl-pgo (it has no label app.kubernetes.io/managed-by=kubectl-pgo)"},
		{"another cluster's Service", otherCluster, apply.DryRunNone,
			`Service default/hippo-backrest-shared-repo already exists and belongs to the kubectl-pgo cluster "hippo-backrest-shared-repo", not "hippo"`},
		{"unlabelled settings", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hippo-pgo-config", Namespace: "default"}}, apply.DryRunNone,
			"ConfigMap default/hippo-pgo-config already exists and was not created by kubectl-pgo"},
		{"unlabelled Secret", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hippo-postgres-secret", Namespace: "default"}}, apply.DryRunNone,
			"Secret default/hippo-postgres-secret already exists and was not created by kubectl-pgo"},
		{"server dry run too", foreign, apply.DryRunServer, "Service default/hippo already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := createdFactory(tc.obj)
			o := newCreate(t, nil)
			o.DryRun = tc.dryRun
			_, _, err := runCreate(f, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if w := f.Writes(); len(w) != 0 {
				t.Errorf("writes despite the refusal: %v", w)
			}
		})
	}
}

func TestCreateNamespaceMissing(t *testing.T) {
	f := kubefake.NewFactory()
	f.AllowAccess()
	f.Clientset.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "default")
	})
	_, _, err := runCreate(f, newCreate(t, nil))
	want := `namespace "default" does not exist: create it (kubectl create namespace default) or choose another with -n`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}
}

// Missing permissions are listed before the first write.
func TestCreateForbidden(t *testing.T) {
	f := newClusterFactory()
	f.AllowAccess("patch secrets", "patch statefulsets")
	f.ServerSideApply()
	_, _, err := runCreate(f, newCreate(t, nil))
	for _, want := range []string{
		`forbidden: you may not create cluster "hippo" in namespace "default"`,
		"missing permissions: patch secrets, patch statefulsets.apps",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to contain %q", err, want)
		}
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}

	// A read refused by the API server is reported as such.
	f = newClusterFactory()
	f.AllowAccess()
	f.Clientset.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "hippo-backrest-repo-config",
			errors.New(`User "system:serviceaccount:pg:reader" cannot get resource "secrets" in API group "" in the namespace "default"`))
	})
	_, _, err = runCreate(f, newCreate(t, nil))
	if err == nil || !strings.Contains(err.Error(), `cannot read Secret default/hippo-backrest-repo-config: secrets "hippo-backrest-repo-config" is forbidden: User "system:serviceaccount:pg:reader" cannot get resource "secrets"`) {
		t.Errorf("error = %v", err)
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}
}

func TestCreateOutput(t *testing.T) {
	f := createdFactory()
	o := newCreate(t, nil)
	o.Output = "json"
	out, errOut, err := runCreate(f, o)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []unstructured.Unstructured }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(list.Items) != 13 || list.Items[0].GetResourceVersion() != "1" {
		t.Errorf("got %d items, want the 13 applied objects", len(list.Items))
	}
	if errOut != "cluster hippo created\n" {
		t.Errorf("stderr = %q, want the summary", errOut)
	}
}

// A cluster deleted with --keep-backups is not created again over its
// backups.
func TestCreateRefusesKeptBackups(t *testing.T) {
	labels := cluster.Labels("hippo", cluster.ComponentRepo)
	labels[cluster.LabelPGBackRestCommands] = "true"
	repoPVC := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "hippo-pgbr-repo", Namespace: "default", Labels: labels}}
	f := createdFactory(fakecluster.SettingsConfigMap(t, "hippo", "default"), repoPVC)
	_, _, err := runCreate(f, newCreate(t, nil))
	want := `cluster "hippo" was deleted with --keep-backups: its repository (PVC hippo-pgbr-repo) holds the backups and the WAL of the old database`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}
}

// A storage class that does not exist is refused before the first write
// (its PVC would stay Pending); one that exists, or that the user may not
// read, lets the create go on.
func TestCreateStorageClassMissing(t *testing.T) {
	fast := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "x"}
	for _, c := range []struct {
		name             string
		data, repository string
		forbidden        bool
		want             string
	}{
		{"data class missing", "nosuch", "", false, `--storage-class: storage class "nosuch" does not exist`},
		{"repository class missing", "fast", "slow", false, `--pgbackrest-storage-class: storage class "slow" does not exist`},
		{"class exists", "fast", "fast", false, ""},
		{"classes not readable", "nosuch", "", true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := createdFactory(fast)
			if c.forbidden {
				f.Clientset.PrependReactor("get", "storageclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}, "nosuch", errors.New("no"))
				})
			}
			_, _, err := runCreate(f, newCreate(t, func(s *cluster.Spec, g *Given) {
				s.StorageClass, g.StorageClass = c.data, true
				s.RepoStorageClass, g.RepoStorageClass = c.repository, c.repository != ""
			}))
			if c.want == "" {
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was created") {
				t.Errorf("error = %v, want %q and nothing was created", err, c.want)
			}
			if w := f.Writes(); len(w) != 0 {
				t.Errorf("writes: %v", w)
			}
		})
	}
}
