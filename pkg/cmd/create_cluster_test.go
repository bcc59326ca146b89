package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
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
func allowAccess(f *kubefake.Factory, deny ...string) { f.AllowAccess(deny...) }

// fakeApply makes the dynamic fake answer server-side apply like an API
// server.
func fakeApply(f *kubefake.Factory) { f.ServerSideApply() }

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
func writes(f *kubefake.Factory) []string { return f.Writes() }

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
		{name: "unknown storage type", args: []string{"hippo", "--pgbackrest-storage-type=ftp"}, want: []string{`storage type "ftp" is not known: use local`}},
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
		{name: "s3 twice", args: []string{"hippo", "--pgbackrest-storage-type=s3,s3"}, want: []string{"storage type s3 is given twice in s3,s3"}},
		{name: "five repositories", args: []string{"hippo", "--pgbackrest-storage-type=local,s3,gcs,azure,local"}, want: []string{"has 5 repositories: a cluster has at most 4"}},
		{name: "gcs without bucket", args: []string{"hippo", "--pgbackrest-storage-type=gcs", "--pgbackrest-gcs-key-secret=k"},
			want: []string{"storage type gcs needs a bucket: give --pgbackrest-gcs-bucket"}},
		{name: "gcs without key", args: []string{"hippo", "--pgbackrest-storage-type=local,gcs", "--pgbackrest-gcs-bucket=b-1"},
			want: []string{"GCS key type service needs a Secret with gcs-key.json: give --pgbackrest-gcs-key-secret"}},
		{name: "gcs flags without gcs", args: []string{"hippo", "--pgbackrest-gcs-bucket=b-1"}, want: []string{"GCS settings are given, but the storage type is local: add gcs"}},
		{name: "azure without account and container", args: []string{"hippo", "--pgbackrest-storage-type=azure", "--pgbackrest-azure-key-secret=k"},
			want: []string{"storage type azure needs an account", "storage type azure needs a container"}},
		{name: "azure without key", args: []string{"hippo", "--pgbackrest-storage-type=azure", "--pgbackrest-azure-account=acct", "--pgbackrest-azure-container=c-1"},
			want: []string{"storage type azure needs a key: give --pgbackrest-azure-key-secret"}},
		{name: "azure key type", args: []string{"hippo", "--pgbackrest-storage-type=azure", "--pgbackrest-azure-account=acct", "--pgbackrest-azure-container=c-1",
			"--pgbackrest-azure-key-secret=k", "--pgbackrest-azure-key-type=oauth"}, want: []string{`Azure key type "oauth" is not known`}},
		{name: "unknown cipher", args: []string{"hippo", "--pgbackrest-repo-cipher=rot13"}, want: []string{`cipher "rot13" is not supported`}},
		{name: "bad passphrase Secret", args: []string{"hippo", "--pgbackrest-repo-cipher-secret=Bad_Name"}, want: []string{`passphrase Secret "Bad_Name" is not a valid name`}},
		{name: "passphrase in the cluster's Secret", args: []string{"hippo", "--pgbackrest-repo-cipher-secret=hippo-backrest-repo-config"}, want: []string{"is one of the Secrets of cluster \"hippo\""}},
		{name: "empty storage type", args: []string{"hippo", "--pgbackrest-storage-type="}, want: []string{"--pgbackrest-storage-type is empty"}},
		{name: "negative size", args: []string{"hippo", "--storage-size=-1Gi"}, want: []string{`storage size "-1Gi" must be more than zero`}},
		{name: "unknown major", args: []string{"hippo", "--postgres-version=16"}, want: []string{"PostgreSQL version 16 is not supported: use one of 15, 17, 18"}},
		{name: "image of another major", args: []string{"hippo", "--postgres-version=17", "--image=ghcr.io/kubectl-pgo/postgres:15"},
			want: []string{"image ghcr.io/kubectl-pgo/postgres:15 is PostgreSQL 15, but the cluster's PostgreSQL version is 17: give --image=ghcr.io/kubectl-pgo/postgres:17"}},
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
		{name: "restore-from with replicas", args: []string{"hippo", "--restore-from=old", "--replicas=1"}, want: []string{"--restore-from cannot be used with --replicas yet", "kubectl pgo update cluster hippo --replicas=1"}},
		{name: "replicas out of range", args: []string{"hippo", "--replicas=6"}, want: []string{"--replicas=6 is out of range: give 0 to 5"}},
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
	// Split at the lines "---" only: the CA ConfigMap's PEM has lines that end in "---".
	docs := strings.Split(strings.TrimPrefix(out, "---\n"), "\n---\n")
	if len(docs) != 13 {
		t.Fatalf("printed %d documents, want 13:\n%s", len(docs), out)
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

	// --pgbackrest-repo-cipher-secret alone encrypts, with the user's
	// Secret; the repository Secret holds no passphrase.
	out, _, err = executeCreate(t, f, "hippo", "--dry-run=client", "-o", "yaml", "--pgbackrest-repo-cipher-secret=hippo-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repo1-cipher-type=aes-256-cbc", "cipherSecret: hippo-passphrase", "name: hippo-passphrase"} {
		if !strings.Contains(out, want) {
			t.Errorf("the objects lack %q", want)
		}
	}
	if strings.Contains(out, "cipher-pass:") {
		t.Errorf("a passphrase is rendered into a Secret of the cluster:\n%s", out)
	}

	// A repository on S3 archives asynchronously unless told otherwise.
	s3 := []string{"hippo", "--dry-run=client", "-o", "yaml", "--pgbackrest-storage-type=local,s3", "--pgbackrest-s3-bucket=b-1",
		"--pgbackrest-s3-endpoint=s3.example", "--pgbackrest-s3-region=us-east-1", "--pgbackrest-s3-key=k", "--pgbackrest-s3-key-secret=s"}
	for _, tc := range []struct {
		args  []string
		async bool
	}{{s3, true}, {append(s3, "--pgbackrest-archive-async=false"), false}} {
		out, _, err = executeCreate(t, f, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out, "archive-async=y\n"); got != tc.async {
			t.Errorf("%v: archive-async=y rendered: %v, want %v", tc.args[4:], got, tc.async)
		}
	}

	// --postgres-version picks the image and the binaries; the project's --image of a major
	// says the major.
	for _, args := range [][]string{{"--postgres-version=17"}, {"--image=ghcr.io/kubectl-pgo/postgres:17"}} {
		out, _, err = executeCreate(t, f, append([]string{"hippo", "--dry-run=client", "-o", "yaml"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"image: ghcr.io/kubectl-pgo/postgres:17\n", "/usr/lib/postgresql/17/bin/pg_isready", "postgresVersion: 17"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: the objects lack %q", args, want)
			}
		}
		if strings.Contains(out, "postgresql/15") || strings.Contains(out, "postgres:15") {
			t.Errorf("%v: the objects still name PostgreSQL 15", args)
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
	if list.Kind != "List" || len(list.Items) != 13 || list.Items[0].GetNamespace() != "pg" {
		t.Errorf("got kind %q with %d items in %q, want a List of 13 in pg", list.Kind, len(list.Items), list.Items[0].GetNamespace())
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

// The flags reach the cluster: a new cluster is created, a flag given
// again changes it, and -o prints the objects with the summary on stderr
// (the work itself is tested in pkg/lifecycle).
func TestCreateClusterFlagsReachTheCluster(t *testing.T) {
	f := newClusterFactory()
	allowAccess(f)
	fakeApply(f)
	out, _, err := executeCreate(t, f, "hippo", "--cpu=500m")
	if err != nil || !strings.Contains(out, "statefulset.apps/hippo created\n") || !strings.HasSuffix(out, "cluster hippo created\n") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	mirrorToTyped(t, f)
	out, _, err = executeCreate(t, f, "hippo", "--memory-limit=1Gi")
	if err != nil || !strings.Contains(out, "statefulset.apps/hippo configured\n") || !strings.HasSuffix(out, "cluster hippo configured\n") {
		t.Errorf("a new memory limit did not configure the StatefulSet: %v\n%s", err, out)
	}
	out, errOut, err := executeCreate(t, f, "hippo", "--memory-limit=1Gi", "--pgbackrest-storage-type=posix", "--storage-size=1024Mi", "-o", "json")
	var list struct{ Items []unstructured.Unstructured }
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 13 || errOut != "cluster hippo unchanged\n" {
		t.Errorf("create -o json: %v, %d items, stderr %q\n%s", err, len(list.Items), errOut, out)
	}
}

// The GCS and Azure flags reach pgbackrest.conf and the pods; the keys
// stay in the user's Secrets.
func TestCreateClusterObjectStoreFlags(t *testing.T) {
	f := kubefake.NewFactory()
	out, _, err := executeCreate(t, f, "hippo", "--dry-run=client", "-o", "yaml", "--pgbackrest-storage-type=local,gcs,azure",
		"--pgbackrest-gcs-bucket=g-1", "--pgbackrest-gcs-endpoint=gcs.example:4443", "--pgbackrest-gcs-key-secret=gcs-key",
		"--pgbackrest-gcs-ca-secret=gcs-ca", "--pgbackrest-gcs-upload-chunk-size=32Mi",
		"--pgbackrest-azure-account=acct1", "--pgbackrest-azure-container=c-1", "--pgbackrest-azure-endpoint=az.example:10000",
		"--pgbackrest-azure-uri-style=path", "--pgbackrest-azure-key-type=sas", "--pgbackrest-azure-key-secret=azure-key")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repo2-gcs-bucket=g-1", "repo2-gcs-endpoint=gcs.example:4443", "repo2-gcs-key=/etc/pgbackrest/gcs/key.json",
		"repo2-storage-upload-chunk-size=33554432", "repo2-storage-ca-file=/etc/pgbackrest/gcs/ca.crt",
		"repo3-azure-account=acct1", "repo3-azure-container=c-1", "repo3-azure-uri-style=path", "repo3-azure-key-type=sas",
		"name: PGBACKREST_REPO3_AZURE_KEY", "path: gcs/key.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("the objects lack %q", want)
		}
	}
	assertNoRequests(t, f)
}

// mirrorToTyped copies the Secrets and ConfigMaps of the dynamic fake into
// the typed fake (two separate stores).
func mirrorToTyped(t *testing.T, f *kubefake.Factory) {
	t.Helper()
	f.MirrorToTyped(t)
}
