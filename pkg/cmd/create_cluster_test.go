package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// testStreams returns streams whose output the test reads.
func testStreams(stdin string) (genericiooptions.IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: out, ErrOut: errOut}, out, errOut
}

// executeCreate runs create cluster with args against f.
func executeCreate(t *testing.T, f *kubefake.Factory, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	cmd := NewCmdCreateCluster(f, streams)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	// -n is the root's persistent flag; the fake factory carries the
	// namespace, and client dry run reads the flag.
	cmd.Flags().StringP("namespace", "n", "", "")
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// allowAccess makes every SelfSubjectAccessReview answer allowed, or denied
// for the verb/resource pairs in deny ("patch secrets").
func allowAccess(f *kubefake.Factory, deny ...string) {
	f.Clientset.PrependReactor("create", "selfsubjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		a := review.Spec.ResourceAttributes
		key := a.Verb + " " + a.Resource
		review = review.DeepCopy()
		review.Status.Allowed = true
		for _, d := range deny {
			if d == key {
				review.Status.Allowed = false
			}
		}
		return true, review, nil
	})
}

// fakeApply makes the dynamic fake answer server-side apply like an API
// server: create or replace, with a resourceVersion that changes only
// when the object does.
func fakeApply(f *kubefake.Factory) {
	tracker := f.Dynamic.Tracker()
	f.Dynamic.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		patch := action.(k8stesting.PatchActionImpl)
		if patch.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		obj := &unstructured.Unstructured{}
		if err := json.Unmarshal(patch.GetPatch(), &obj.Object); err != nil {
			return true, nil, err
		}
		gvr, ns := patch.GetResource(), patch.GetNamespace()
		dryRun := len(patch.GetPatchOptions().DryRun) > 0
		cur, err := tracker.Get(gvr, ns, obj.GetName())
		switch {
		case apierrors.IsNotFound(err):
			obj.SetResourceVersion("1")
			if !dryRun {
				if err := tracker.Create(gvr, obj, ns); err != nil {
					return true, nil, err
				}
			}
			return true, obj, nil
		case err != nil:
			return true, nil, err
		}
		old := toUnstructured(cur)
		if sameContent(old, obj) {
			return true, old, nil
		}
		if dryRun {
			obj.SetResourceVersion(old.GetResourceVersion())
			return true, obj, nil
		}
		rv, _ := strconv.Atoi(old.GetResourceVersion())
		obj.SetResourceVersion(strconv.Itoa(rv + 1))
		return true, obj, tracker.Update(gvr, obj, ns)
	})
}

func toUnstructured(obj runtime.Object) *unstructured.Unstructured {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func sameContent(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		c.SetResourceVersion("")
		c.SetManagedFields(nil)
		c.SetCreationTimestamp(metav1.Time{})
		unstructured.RemoveNestedField(c.Object, "status")
		return c.Object
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

// newClusterFactory is a fake factory whose namespace "default" exists,
// holding objs.
func newClusterFactory(objs ...runtime.Object) *kubefake.Factory {
	return kubefake.NewFactory(append([]runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}}, objs...)...)
}

// assertNoRequests fails when the fakes saw any request.
func assertNoRequests(t *testing.T, f *kubefake.Factory) {
	t.Helper()
	if n := len(f.Clientset.Actions()); n != 0 {
		t.Errorf("the clientset received %d requests, want none: %v", n, f.Clientset.Actions())
	}
	if n := len(f.Dynamic.Actions()); n != 0 {
		t.Errorf("the dynamic client received %d requests, want none: %v", n, f.Dynamic.Actions())
	}
}

// writes are the create, update, patch and delete requests the fakes saw.
func writes(f *kubefake.Factory) []string {
	var out []string
	for _, actions := range [][]k8stesting.Action{f.Clientset.Actions(), f.Dynamic.Actions()} {
		for _, a := range actions {
			switch a.GetVerb() {
			case "create", "update", "patch", "delete":
				if a.GetResource().Resource == "selfsubjectaccessreviews" {
					continue
				}
				out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
			}
		}
	}
	return out
}

func TestCreateClusterRefusesBadInput(t *testing.T) {
	long := strings.Repeat("a", cluster.MaxNameLength()+1)
	tests := []struct {
		name string
		args []string
		ns   string
		want []string
	}{
		{name: "no name", args: nil, want: []string{"a cluster name is required"}},
		{name: "two names", args: []string{"a", "b"}, want: []string{"takes one cluster name, got 2 arguments"}},
		{name: "invalid name", args: []string{"Hippo_1"}, want: []string{`cluster name "Hippo_1" is not valid`}},
		{name: "too long", args: []string{long}, want: []string{"is too long", "use a name of at most 42 characters"}},
		{name: "invalid namespace", args: []string{"hippo"}, ns: "Bad_NS", want: []string{`namespace "Bad_NS" is not valid`}},
		{name: "unknown storage type", args: []string{"hippo", "--pgbackrest-storage-type=gcs"}, want: []string{`storage type "gcs" is not known: use local`}},
		{name: "s3", args: []string{"hippo", "--pgbackrest-storage-type=s3"}, want: []string{"storage type s3 needs a bucket: give --pgbackrest-s3-bucket"}},
		{name: "local and s3", args: []string{"hippo", "--pgbackrest-storage-type=local,s3"}, want: []string{"storage type s3 needs a bucket: give --pgbackrest-s3-bucket"}},
		{name: "s3 without keys", args: []string{"hippo", "--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=b-1", "--pgbackrest-s3-endpoint=s3.example"},
			want: []string{"storage type s3 needs keys"}},
		{name: "s3 keys twice", args: []string{"hippo", "--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=b-1", "--pgbackrest-s3-endpoint=s3.example",
			"--pgbackrest-s3-key=a", "--pgbackrest-s3-key-secret=b", "--pgbackrest-s3-credentials-secret=keys"}, want: []string{"both as flags and as --pgbackrest-s3-credentials-secret"}},
		{name: "s3 half the keys", args: []string{"hippo", "--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=b-1", "--pgbackrest-s3-endpoint=s3.example",
			"--pgbackrest-s3-key=a"}, want: []string{"give both --pgbackrest-s3-key and --pgbackrest-s3-key-secret"}},
		{name: "s3 URI style", args: []string{"hippo", "--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=b-1", "--pgbackrest-s3-endpoint=s3.example",
			"--pgbackrest-s3-credentials-secret=keys", "--pgbackrest-s3-uri-style=virtual"}, want: []string{`S3 URI style "virtual" is not known`}},
		{name: "s3 flags without s3", args: []string{"hippo", "--pgbackrest-s3-bucket=b-1"}, want: []string{"S3 settings are given, but the storage type is local"}},
		{name: "unknown cipher", args: []string{"hippo", "--pgbackrest-repo-cipher=rot13"}, want: []string{`cipher "rot13" is not supported`}},
		{name: "empty storage type", args: []string{"hippo", "--pgbackrest-storage-type="}, want: []string{"--pgbackrest-storage-type is empty"}},
		{name: "negative size", args: []string{"hippo", "--storage-size=-1Gi"}, want: []string{`storage size "-1Gi" must be more than zero`}},
		{name: "unparsable size", args: []string{"hippo", "--storage-size=lots"}, want: []string{`storage size "lots" is not a quantity`}},
		{name: "zero repo size", args: []string{"hippo", "--pgbackrest-pvc-size=0"}, want: []string{`repository PVC size "0" must be more than zero`}},
		{name: "bad storage class", args: []string{"hippo", "--storage-class=Fast SSD"}, want: []string{`storage class "Fast SSD" is not a valid name`}},
		{name: "bad repo storage class", args: []string{"hippo", "--pgbackrest-storage-class=_x"}, want: []string{`repository storage class "_x"`}},
		{name: "bad image", args: []string{"hippo", "--image=a b"}, want: []string{`image "a b" is not valid`}},
		{name: "bad cpu", args: []string{"hippo", "--cpu=fast"}, want: []string{`database CPU request "fast" is not valid`}},
		{name: "negative memory limit", args: []string{"hippo", "--memory-limit=-1Gi"}, want: []string{`database memory limit "-1Gi" is not valid`}},
		{name: "request over limit", args: []string{"hippo", "--cpu=2", "--cpu-limit=1"}, want: []string{"database CPU request 2 is more than its limit 1"}},
		{name: "several at once", args: []string{"hippo", "--storage-size=x", "--memory=y"}, want: []string{"invalid settings:", `storage size "x"`, `memory request "y"`}},
		{name: "zero retention", args: []string{"hippo", "--pgbackrest-repo-retention-full=0"}, want: []string{"--pgbackrest-repo-retention-full=0 is not valid: keep at least 1 full backup (the default is 2)"}},
		{name: "negative retention", args: []string{"hippo", "--pgbackrest-repo-retention-full=-1"}, want: []string{"--pgbackrest-repo-retention-full=-1 is not valid"}},
		{name: "zero diff retention", args: []string{"hippo", "--pgbackrest-repo-retention-diff=0"}, want: []string{"--pgbackrest-repo-retention-diff=0 is not valid: keep at least 1 differential backup"}},
		{name: "unknown retention type", args: []string{"hippo", "--pgbackrest-repo-retention-full-type=weeks"}, want: []string{`full backup retention type "weeks" is not known: use count`}},
		{name: "retention not a number", args: []string{"hippo", "--pgbackrest-repo-retention-full=two"}, want: []string{`invalid argument "two" for "--pgbackrest-repo-retention-full"`}},
		{name: "bad dry run", args: []string{"hippo", "--dry-run=maybe"}, want: []string{`invalid --dry-run value "maybe"`}},
		{name: "bad output", args: []string{"hippo", "-o", "table"}, want: []string{`invalid output format "table": allowed formats are yaml, json`}},
		{name: "wait with dry run", args: []string{"hippo", "--wait", "--dry-run=server"}, want: []string{"--wait cannot be used with --dry-run"}},
		{name: "zero timeout", args: []string{"hippo", "--timeout=0s"}, want: []string{"invalid --timeout 0s"}},
		{name: "unknown flag", args: []string{"hippo", "--storage-sise=1Gi"}, want: []string{"unknown flag: --storage-sise"}},
		{name: "pitr target without restore-from", args: []string{"hippo", "--pitr-target=2026-11-24 12:00:00+00"}, want: []string{"--pitr-target needs --restore-from"}},
		{name: "restore-from itself", args: []string{"hippo", "--restore-from=hippo"}, want: []string{"--restore-from=hippo names the cluster being created"}},
		{name: "restore-from with server dry run", args: []string{"hippo", "--restore-from=old", "--dry-run=server"}, want: []string{"--restore-from cannot be used with --dry-run=server"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory()
			if tc.ns != "" {
				f.NS = tc.ns
			}
			_, _, err := executeCreate(t, f, tc.args...)
			if err == nil {
				t.Fatal("create succeeded, want an error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			assertNoRequests(t, f)
		})
	}
}

func TestCreateClusterKubeconfigErrors(t *testing.T) {
	f := kubefake.NewFactory()
	f.Err = errors.New(`context was not found for specified context: nope`)
	_, _, err := executeCreate(t, f, "hippo")
	if err == nil || !strings.Contains(err.Error(), "cannot use the kubeconfig: context was not found for specified context: nope") {
		t.Fatalf("error = %v, want a kubeconfig error", err)
	}
	assertNoRequests(t, f)
}

// With --dry-run=client nothing is asked of the factory beyond the
// namespace, which may fail: no kubeconfig is needed.
func TestCreateClusterClientDryRun(t *testing.T) {
	f := kubefake.NewFactory()
	f.Err = errors.New("no configuration has been provided")
	out, _, err := executeCreate(t, f, "hippo", "--dry-run=client", "-o", "yaml", "--storage-size=5Gi")
	if err != nil {
		t.Fatalf("create --dry-run=client: %v", err)
	}
	docs := strings.Split(strings.TrimPrefix(out, "---\n"), "---\n")
	if len(docs) != 10 {
		t.Fatalf("printed %d documents, want 10:\n%s", len(docs), out)
	}
	for _, doc := range docs {
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		if obj.GetNamespace() != "default" {
			t.Errorf("%s/%s in namespace %q, want default", obj.GetKind(), obj.GetName(), obj.GetNamespace())
		}
	}
	if !strings.Contains(out, "storage: 5Gi") {
		t.Errorf("the data PVC does not ask for 5Gi:\n%s", out)
	}
	assertNoRequests(t, f)

	// The retention flags reach the repository host's pgbackrest.conf.
	out, _, err = executeCreate(t, f, "hippo", "--dry-run=client", "-o", "yaml",
		"--pgbackrest-repo-retention-full=14", "--pgbackrest-repo-retention-full-type=time", "--pgbackrest-repo-retention-diff=3")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repo1-retention-full=14\n", "repo1-retention-full-type=time\n", "repo1-retention-diff=3\n", "retentionFullType: time"} {
		if !strings.Contains(out, want) {
			t.Errorf("the objects lack %q", want)
		}
	}

	// -n is used as given; JSON is a List.
	out, _, err = executeCreate(t, f, "hippo", "--dry-run=client", "-o", "json", "-n", "pg")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string
		Items []unstructured.Unstructured
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("-o json is not JSON: %v", err)
	}
	if list.Kind != "List" || len(list.Items) != 10 || list.Items[0].GetNamespace() != "pg" {
		t.Errorf("got kind %q with %d items in %q, want a List of 10 in pg", list.Kind, len(list.Items), list.Items[0].GetNamespace())
	}

	// Without -o, one line per object.
	out, _, err = executeCreate(t, f, "hippo", "--dry-run=client")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "statefulset.apps/hippo created (dry run)\n") || !strings.HasSuffix(out, "cluster hippo created (dry run)\n") {
		t.Errorf("unexpected output:\n%s", out)
	}
	assertNoRequests(t, f)
}

func TestCreateClusterCreatesThenIsUnchanged(t *testing.T) {
	f := newClusterFactory()
	allowAccess(f)
	fakeApply(f)
	// The typed client reads the settings and the Secrets; mirror the
	// dynamic store into it after the first create.
	out, _, err := executeCreate(t, f, "hippo", "--cpu=500m")
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
	if got := len(writes(f)); got != 10 {
		t.Errorf("%d writes, want 10 applies: %v", got, writes(f))
	}

	// Second run: the typed client must see the Secrets and the settings.
	mirrorToTyped(t, f)
	f.Clientset.ClearActions()
	f.Dynamic.ClearActions()
	out, _, err = executeCreate(t, f, "hippo")
	if err != nil {
		t.Fatalf("second create: %v", err)
	}
	if strings.Count(out, " unchanged\n") != 11 || !strings.HasSuffix(out, "cluster hippo unchanged\n") {
		t.Errorf("second create changed something:\n%s", out)
	}

	// A mutable change is applied.
	out, _, err = executeCreate(t, f, "hippo", "--memory-limit=1Gi")
	if err != nil {
		t.Fatalf("third create: %v", err)
	}
	if !strings.Contains(out, "statefulset.apps/hippo configured\n") || !strings.HasSuffix(out, "cluster hippo configured\n") {
		t.Errorf("a new memory limit did not configure the StatefulSet:\n%s", out)
	}
}

// mirrorToTyped copies the Secrets and ConfigMaps of the dynamic fake into
// the typed fake (two separate stores).
func mirrorToTyped(t *testing.T, f *kubefake.Factory) {
	t.Helper()
	ctx := context.Background()
	for _, res := range []string{"secrets", "configmaps"} {
		list, err := f.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: res}).Namespace("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			var obj runtime.Object = &corev1.Secret{}
			if res == "configmaps" {
				obj = &corev1.ConfigMap{}
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, obj); err != nil {
				t.Fatal(err)
			}
			if err := f.Clientset.Tracker().Add(obj); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// An existing cluster with another setting that cannot change: refused,
// nothing written.
func TestCreateClusterRefusesImmutableChange(t *testing.T) {
	f := newClusterFactory()
	allowAccess(f)
	fakeApply(f)
	if _, _, err := executeCreate(t, f, "hippo"); err != nil {
		t.Fatal(err)
	}
	mirrorToTyped(t, f)
	f.Clientset.ClearActions()
	f.Dynamic.ClearActions()

	_, _, err := executeCreate(t, f, "hippo", "--storage-size=2Gi", "--pgbackrest-storage-class=slow")
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
	if w := writes(f); len(w) != 0 {
		t.Errorf("writes despite the refusal: %v", w)
	}

	// posix is local: the same cluster.
	out, _, err := executeCreate(t, f, "hippo", "--pgbackrest-storage-type=posix", "--storage-size=1024Mi")
	if err != nil || !strings.HasSuffix(out, "cluster hippo unchanged\n") {
		t.Errorf("posix and 1024Mi changed the cluster: %v\n%s", err, out)
	}
}

// An object of the same name that kubectl-pgo did not make is refused
// before anything is written.
func TestCreateClusterRefusesForeignObjects(t *testing.T) {
	foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Namespace: "default", Labels: map[string]string{"app": "mine"}}}
	otherCluster := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hippo-backrest-shared-repo", Namespace: "default",
		Labels: cluster.Labels("hippo-backrest-shared-repo", cluster.ComponentDatabase)}}
	tests := []struct {
		name string
		obj  runtime.Object
		args []string
		want string
	}{
		{"unlabelled Service", foreign, []string{"hippo"},
			"Service default/hippo already exists and was not created by kubectl-pgo (it has no label app.kubernetes.io/managed-by=kubectl-pgo)"},
		{"another cluster's Service", otherCluster, []string{"hippo"},
			`Service default/hippo-backrest-shared-repo already exists and belongs to the kubectl-pgo cluster "hippo-backrest-shared-repo", not "hippo"`},
		{"unlabelled settings", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hippo-pgo-config", Namespace: "default"}}, []string{"hippo"},
			"ConfigMap default/hippo-pgo-config already exists and was not created by kubectl-pgo"},
		{"unlabelled Secret", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hippo-postgres-secret", Namespace: "default"}}, []string{"hippo"},
			"Secret default/hippo-postgres-secret already exists and was not created by kubectl-pgo"},
		{"server dry run too", foreign, []string{"hippo", "--dry-run=server"}, "Service default/hippo already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory(tc.obj)
			allowAccess(f)
			fakeApply(f)
			_, _, err := executeCreate(t, f, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if w := writes(f); len(w) != 0 {
				t.Errorf("writes despite the refusal: %v", w)
			}
		})
	}
}

func TestCreateClusterNamespaceMissing(t *testing.T) {
	f := kubefake.NewFactory()
	allowAccess(f)
	f.Clientset.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "default")
	})
	_, _, err := executeCreate(t, f, "hippo")
	want := `namespace "default" does not exist: create it (kubectl create namespace default) or choose another with -n`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if w := writes(f); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}
}

// Missing permissions are listed before the first write.
func TestCreateClusterForbidden(t *testing.T) {
	f := newClusterFactory()
	allowAccess(f, "patch secrets", "patch statefulsets")
	fakeApply(f)
	_, _, err := executeCreate(t, f, "hippo")
	for _, want := range []string{
		`forbidden: you may not create cluster "hippo" in namespace "default"`,
		"missing permissions: patch secrets, patch statefulsets.apps",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to contain %q", err, want)
		}
	}
	if w := writes(f); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}

	// A read refused by the API server is reported as such.
	f = newClusterFactory()
	allowAccess(f)
	f.Clientset.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "hippo-backrest-repo-config",
			errors.New(`User "system:serviceaccount:pg:reader" cannot get resource "secrets" in API group "" in the namespace "default"`))
	})
	_, _, err = executeCreate(t, f, "hippo")
	if err == nil || !strings.Contains(err.Error(), `cannot read Secret default/hippo-backrest-repo-config: secrets "hippo-backrest-repo-config" is forbidden: User "system:serviceaccount:pg:reader" cannot get resource "secrets"`) {
		t.Errorf("error = %v", err)
	}
	if w := writes(f); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}
}

func TestCreateClusterOutput(t *testing.T) {
	f := newClusterFactory()
	allowAccess(f)
	fakeApply(f)
	out, errOut, err := executeCreate(t, f, "hippo", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []unstructured.Unstructured }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(list.Items) != 10 || list.Items[0].GetResourceVersion() != "1" {
		t.Errorf("got %d items, want the 10 applied objects", len(list.Items))
	}
	if errOut != "cluster hippo created\n" {
		t.Errorf("stderr = %q, want the summary", errOut)
	}
}

// A cluster deleted with --keep-backups is not created again over its
// backups.
func TestCreateClusterRefusesKeptBackups(t *testing.T) {
	repoPVC := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "hippo-pgbr-repo", Namespace: "default",
		Labels: podLabels("hippo", cluster.ComponentRepo)}}
	f := newClusterFactory(specConfigMap(t, "hippo", "default"), repoPVC)
	allowAccess(f)
	fakeApply(f)
	_, _, err := executeCreate(t, f, "hippo")
	want := `cluster "hippo" was deleted with --keep-backups: its repository (PVC hippo-pgbr-repo) holds the backups and the WAL of the old database`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
	if w := writes(f); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}
}

// A storage class that does not exist is refused before the first write
// (its PVC would stay Pending); one that exists, or that the user may not
// read, lets the create go on.
func TestCreateClusterStorageClassMissing(t *testing.T) {
	fast := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "x"}
	for _, c := range []struct {
		name      string
		args      []string
		forbidden bool
		want      string
	}{
		{"data class missing", []string{"--storage-class=nosuch"}, false, `--storage-class: storage class "nosuch" does not exist`},
		{"repository class missing", []string{"--storage-class=fast", "--pgbackrest-storage-class=slow"}, false, `--pgbackrest-storage-class: storage class "slow" does not exist`},
		{"class exists", []string{"--storage-class=fast", "--pgbackrest-storage-class=fast"}, false, ""},
		{"classes not readable", []string{"--storage-class=nosuch"}, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newClusterFactory(fast)
			allowAccess(f)
			fakeApply(f)
			if c.forbidden {
				f.Clientset.PrependReactor("get", "storageclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}, "nosuch", errors.New("no"))
				})
			}
			_, _, err := executeCreate(t, f, append([]string{"hippo"}, c.args...)...)
			if c.want == "" {
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was created") {
				t.Errorf("error = %v, want %q and nothing was created", err, c.want)
			}
			if w := writes(f); len(w) != 0 {
				t.Errorf("writes: %v", w)
			}
		})
	}
}
