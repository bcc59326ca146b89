package cmd

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

// executeRotate runs kubectl pgo rotate with args against f.
func executeRotate(t *testing.T, f *kubefake.Factory, args ...string) (string, string, error) {
	t.Helper()
	streams, out, errOut := testStreams("")
	cmd := NewCmdRotate(f, streams)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// Bad flags are refused before any request; cipher-pass refuses without
// any request, and says what to do instead.
func TestRotateRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"certs"}, "a cluster name is required"},
		{"bad name", []string{"password", "Hippo"}, `cluster name "Hippo" is not valid`},
		{"bad dry run", []string{"certs", "hippo", "--dry-run=server"}, `invalid --dry-run value "server"`},
		{"no wait", []string{"password", "hippo", "--wait=false"}, "--wait=false cannot be used"},
		{"zero timeout", []string{"certs", "hippo", "--timeout=0s"}, "invalid --timeout"},
		{"new CA and reload only", []string{"certs", "hippo", "--new-ca", "--reload-only"}, "--new-ca and --reload-only cannot be used together"},
		{"grace without new CA", []string{"certs", "hippo", "--new-ca-grace=1m"}, "--new-ca-grace goes with --new-ca"},
		{"negative grace", []string{"certs", "hippo", "--new-ca", "--new-ca-grace=-1s"}, "invalid --new-ca-grace -1s"},
		{"no keys", []string{"keys", "hippo"}, "give exactly one of --s3-credentials-secret, --gcs-key-secret and --azure-key-secret"},
		{"two keys", []string{"s3-keys", "hippo", "--s3-credentials-secret=a", "--azure-key-secret=b"}, "give exactly one of"},
		{"bad secret name", []string{"s3-keys", "hippo", "--s3-credentials-secret=Bad_Name"}, `invalid --s3-credentials-secret "Bad_Name"`},
		{"cipher-pass", []string{"cipher-pass", "hippo"}, "pgBackRest cannot re-encrypt a repository or change its passphrase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory()
			_, _, err := executeRotate(t, f, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			assertNoRequests(t, f)
		})
	}
}

// A cluster that does not exist is refused with the wording of every
// command, before anything changes.
func TestRotateUnknownCluster(t *testing.T) {
	for _, sub := range []string{"certs", "password", "keys"} {
		f := newClusterFactory()
		args := []string{sub, "nosuch", "--yes"}
		if sub == "keys" {
			args = append(args, "--s3-credentials-secret=new-keys")
		}
		_, _, err := executeRotate(t, f, args...)
		if err == nil || !strings.Contains(err.Error(), `cluster "nosuch" not found in namespace "default"`) {
			t.Errorf("%s: %v", sub, err)
		}
		for _, a := range f.Clientset.Actions() {
			if v := a.GetVerb(); v != "get" && v != "list" {
				t.Errorf("%s: %s %s", sub, v, a.GetResource().Resource)
			}
		}
	}
}

// rotateFixture is hippo in namespace pgo, with its Secrets.
func rotateFixture(t *testing.T) *fakecluster.Cluster {
	t.Helper()
	fx := fakecluster.New(t)
	pg, rc := fakecluster.Secrets(t, "hippo", "pgo", fakecluster.PodsCreated)
	if err := fx.Factory.Clientset.Tracker().Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pgo"}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*corev1.Secret{pg, rc} {
		s.Labels = cluster.Labels("hippo", cluster.ComponentConfig)
		if err := fx.Factory.Clientset.Tracker().Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

// --dry-run=client reads the cluster and prints the steps, and -o yaml
// what would be written, changing nothing.
func TestRotateDryRun(t *testing.T) {
	fx := rotateFixture(t)
	out, errOut, err := executeRotate(t, fx.Factory, "certs", "hippo", "--dry-run=client", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rotation of the certificates of cluster hippo in namespace pgo (dry run): nothing is changed",
		"1. write new database and repository certificates", "send SIGHUP to each pgBackRest server"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "rotation: certificates") || !strings.Contains(out, "Secret/hippo-backrest-repo-config") {
		t.Errorf("stdout:\n%s", out)
	}
	out, _, err = executeRotate(t, fx.Factory, "password", "hippo", "--dry-run=client")
	if err != nil || !strings.Contains(out, "ALTER ROLE postgres and pgo_replication in the primary hippo-0") {
		t.Errorf("password: %v\n%s", err, out)
	}
	for _, m := range fx.Mutations() {
		if m != "create namespaces" {
			t.Errorf("change: %s", m)
		}
	}
}

// rotate keys' --s3-credentials-secret offers the user's Secrets with S3 keys, and every
// rotation the cluster names.
func TestRotateCompletion(t *testing.T) {
	keys := map[string][]byte{cluster.KeyS3Key: []byte("k"), cluster.KeyS3KeySecret: []byte("s")}
	f := kubefake.NewFactory(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s3-keys-2024"}, Data: keys},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hippo-backrest-repo-config", Labels: cluster.Labels("hippo", cluster.ComponentRepo)}, Data: keys},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "passphrase"}, Data: map[string][]byte{cluster.KeyCipherPass: []byte("x")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hippo-pgo-config", Labels: cluster.Labels("hippo", cluster.ComponentConfig)}})
	streams, _, _ := testStreams("")
	rotate := NewCmdRotate(f, streams)
	for _, sub := range rotate.Commands() {
		if sub.ValidArgsFunction == nil {
			t.Errorf("rotate %s does not complete the cluster name", sub.Name())
			continue
		}
		if names, _ := sub.ValidArgsFunction(sub, nil, "h"); len(names) != 1 || names[0] != "hippo" {
			t.Errorf("rotate %s completes %v", sub.Name(), names)
		}
	}
	keysCmd, _, err := rotate.Find([]string{"keys"})
	if err != nil {
		t.Fatal(err)
	}
	complete, ok := keysCmd.GetFlagCompletionFunc("s3-credentials-secret")
	if !ok {
		t.Fatal("no completion of --s3-credentials-secret")
	}
	if names, _ := complete(keysCmd, nil, ""); len(names) != 1 || names[0] != "s3-keys-2024" {
		t.Errorf("--s3-credentials-secret completes %v, want [s3-keys-2024]", names)
	}
}
