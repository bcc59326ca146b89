package rotate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

var issued = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is hippo in namespace pgo, running and ready: its settings, its
// StatefulSet and repository host Deployment with ready pods, and its two
// Secrets with real certificates.
type fixture struct {
	f    *kubefake.Factory
	spec cluster.Spec
}

func newFixture(t *testing.T, spec cluster.Spec, extra ...runtime.Object) *fixture {
	t.Helper()
	spec = fakecluster.Defaulted(spec)
	rendered := fakecluster.Render(t, spec, fakecluster.Material())
	objects := fakecluster.TypedOfKinds(t, rendered, "ConfigMap", "StatefulSet", "Deployment")
	for _, o := range objects {
		switch w := o.(type) {
		case *appsv1.StatefulSet:
			w.Status = appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1}
		case *appsv1.Deployment:
			w.Status = appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1}
		}
	}
	pg, rc := fakecluster.Secrets(t, spec.Name, spec.Namespace, issued)
	pg.Labels, rc.Labels = cluster.Labels(spec.Name, cluster.ComponentConfig), cluster.Labels(spec.Name, cluster.ComponentConfig)
	pg.Data[cluster.KeyReplicationPassword] = []byte("replication")
	objects = append(objects, pg, rc,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: spec.Namespace}},
		fakecluster.RunningPod(spec.Namespace, "hippo-0", fakecluster.PodLabels(spec.Name, cluster.ComponentDatabase), "database", "pgbackrest"))
	if spec.HasLocalRepo() {
		objects = append(objects, fakecluster.RunningPod(spec.Namespace, "hippo-backrest-shared-repo-abc", fakecluster.PodLabels(spec.Name, cluster.ComponentRepo), "pgbackrest"))
	}
	f := kubefake.NewFactory(append(objects, extra...)...)
	f.AllowAccess()
	return &fixture{f: f, spec: spec}
}

func (fx *fixture) clients() *apply.Clients {
	return &apply.Clients{Config: fx.f.Config, Client: fx.f.Clientset, Dynamic: fx.f.Dynamic, Mapper: fx.f.Mapper}
}

// mutations are the writes to the fake API server (access reviews are no change).
func (fx *fixture) mutations() []string { return fx.f.Writes() }

func (fx *fixture) secret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	s, err := fx.f.Clientset.CoreV1().Secrets("pgo").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (fx *fixture) request(exec apply.ExecFunc) Request {
	return Request{Spec: fx.spec, Exec: exec, Progress: &bytes.Buffer{}, Poll: time.Millisecond, Timeout: 2 * time.Second,
		Now: func() time.Time { return issued.Add(24 * time.Hour) }}
}

// podExec answers like the pods after the Secrets changed: each mounted
// file is what the Secret holds now, each server presents what it loaded
// at its last reload (the old certificate before), and records every
// command as "pod/container: command".
type podExec struct {
	t     *testing.T
	fx    *fixture
	mu    sync.Mutex
	calls []string
	// served is the certificate each "pod/server" presents.
	served map[string][]byte
	// alterFails makes ALTER ROLE fail.
	alterFails bool
}

func newPodExec(t *testing.T, fx *fixture) *podExec {
	e := &podExec{t: t, fx: fx, served: map[string][]byte{}}
	rc := fx.secret(t, cluster.RepoConfigSecretName("hippo"))
	e.served["hippo-0/postgres"] = rc.Data[cluster.KeyDBCert]
	e.served["hippo-0/pgbackrest"] = rc.Data[cluster.KeyDBCert]
	e.served["hippo-backrest-shared-repo-abc/pgbackrest"] = rc.Data[cluster.KeyRepoCert]
	return e
}

func (e *podExec) exec(_ context.Context, _, pod, container string, command []string) (string, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	line := strings.Join(command, " ")
	e.calls = append(e.calls, pod+"/"+container+": "+line)
	rc := e.fx.secret(e.t, cluster.RepoConfigSecretName("hippo"))
	pg := e.fx.secret(e.t, cluster.PostgresSecretName("hippo"))
	certOf := func() []byte {
		if strings.Contains(pod, "repo") {
			return rc.Data[cluster.KeyRepoCert]
		}
		return rc.Data[cluster.KeyDBCert]
	}
	switch {
	case command[0] == "cat" && strings.HasSuffix(command[1], cluster.KeyCACert):
		return string(rc.Data[cluster.KeyCACert]), "", nil
	case command[0] == "cat":
		return string(certOf()), "", nil
	case command[0] == "sha256sum":
		key := cluster.KeyPassword
		if strings.HasSuffix(command[1], cluster.KeyReplicationPassword) {
			key = cluster.KeyReplicationPassword
		}
		sum := sha256.Sum256(pg.Data[key])
		return hex.EncodeToString(sum[:]) + "  " + command[1] + "\n", "", nil
	case strings.Contains(line, "pg_reload_conf"):
		e.served[pod+"/postgres"] = certOf()
		return "t\n", "", nil
	case strings.Contains(line, "-starttls postgres"):
		return string(e.served[pod+"/postgres"]), "", nil
	case strings.Contains(line, "kill -HUP"):
		e.served[pod+"/pgbackrest"] = certOf()
		return "reloaded 1\n", "", nil
	case strings.Contains(line, "openssl s_client"):
		return string(e.served[pod+"/pgbackrest"]), "", nil
	case strings.Contains(line, "ALTER ROLE"):
		if e.alterFails {
			return "", "psql: error: connection refused", fmt.Errorf("exit 2")
		}
		return "", "", nil
	case strings.Contains(line, "replication.pgpass"), strings.Contains(line, "SELECT 1"):
		return "", "", nil
	case slices.Contains(command, "check"):
		return "P00   INFO: WAL segment 00000001000000000000000C successfully archived to '/pgbackrest/repo1/...'\n", "", nil
	}
	return "", "", fmt.Errorf("unexpected command %q", command)
}

func (e *podExec) callsMatching(substr string) []string {
	var out []string
	for _, c := range e.calls {
		if strings.Contains(c, substr) {
			out = append(out, c)
		}
	}
	return out
}

// A rotation is refused, with nothing changed, while a backup Job runs,
// while the repository host is not ready, and while the primary is not.
func TestCheckRefuses(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "pgo"}
	backup := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hippo-backup-full-abcd", Namespace: "pgo",
		Labels: cluster.Labels("hippo", jobs.ComponentBackup), CreationTimestamp: metav1.NewTime(issued)}}
	fx := newFixture(t, spec, backup)
	req := fx.request(nil)
	for _, plan := range []func() error{
		func() error { _, err := PlanCerts(context.Background(), fx.clients(), req, true); return err },
		func() error { _, err := PlanPassword(context.Background(), fx.clients(), req, true); return err },
	} {
		err := plan()
		if err == nil || !strings.Contains(err.Error(), "Job hippo-backup-full-abcd of cluster hippo is") ||
			!strings.Contains(err.Error(), "a rotation of the") || !strings.Contains(err.Error(), "Nothing was changed") {
			t.Errorf("during a backup: %v", err)
		}
	}

	fx = newFixture(t, spec)
	d, _ := fx.f.Clientset.AppsV1().Deployments("pgo").Get(context.Background(), cluster.RepoHostName("hippo"), metav1.GetOptions{})
	d.Status.ReadyReplicas = 0
	_, _ = fx.f.Clientset.AppsV1().Deployments("pgo").UpdateStatus(context.Background(), d, metav1.UpdateOptions{})
	fx.f.Clientset.ClearActions()
	_, err := PlanCerts(context.Background(), fx.clients(), fx.request(nil), true)
	if err == nil || !strings.Contains(err.Error(), "the repository host of cluster \"hippo\" is not ready") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("repository host down: %v", err)
	}
	if m := fx.mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}

	fx = newFixture(t, spec)
	_ = fx.f.Clientset.CoreV1().Pods("pgo").Delete(context.Background(), "hippo-0", metav1.DeleteOptions{})
	fx.f.Clientset.ClearActions()
	_, err = PlanPassword(context.Background(), fx.clients(), fx.request(nil), true)
	if err == nil || !strings.Contains(err.Error(), "the primary of cluster \"hippo\" is not ready") {
		t.Errorf("primary down: %v", err)
	}
	if m := fx.mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}

	// A user who may not patch pods is told so before anything changes.
	fx = newFixture(t, spec)
	fx.f.AllowAccess("patch pods")
	_, err = PlanCerts(context.Background(), fx.clients(), fx.request(nil), true)
	if err == nil || !strings.Contains(err.Error(), `you may not rotate the certificates of cluster "hippo"`) || !strings.Contains(err.Error(), "patch pods") {
		t.Errorf("forbidden: %v", err)
	}
	if m := fx.mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}

	standby := spec
	standby.Standby = &cluster.StandbySpec{Source: "main"}
	fx = newFixture(t, spec)
	req = fx.request(nil)
	req.Spec.Standby = standby.Standby
	if _, err := PlanPassword(context.Background(), fx.clients(), req, true); err == nil || !strings.Contains(err.Error(), "is a standby of cluster \"main\"") {
		t.Errorf("standby: %v", err)
	}
}

// The new certificates are signed by the same CA, with new keys, valid for
// every name; the Secret keeps its other keys. Certs writes them, waits
// for the mounts, reloads PostgreSQL and then the pgBackRest servers
// (database pods before the repository host), each until it serves the new
// certificate, and ends with pgbackrest check.
func TestCerts(t *testing.T) {
	fx := newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"})
	e := newPodExec(t, fx)
	req := fx.request(e.exec)
	plan, err := PlanCerts(context.Background(), fx.clients(), req, true)
	if err != nil {
		t.Fatal(err)
	}
	if m := fx.mutations(); len(m) != 0 {
		t.Fatalf("planning changed %v", m)
	}
	if !bytes.Equal(plan.New.CACert, plan.Old.CACert) || !bytes.Equal(plan.New.CAKey, plan.Old.CAKey) {
		t.Error("the CA changed")
	}
	if bytes.Equal(plan.New.DBCert, plan.Old.DBCert) || bytes.Equal(plan.New.DBKey, plan.Old.DBKey) || bytes.Equal(plan.New.RepoKey, plan.Old.RepoKey) {
		t.Error("a certificate or key was kept")
	}
	if err := plan.New.Verify("hippo", "pgo", issued.Add(25*time.Hour)); err != nil {
		t.Errorf("the new certificates do not verify: %v", err)
	}
	if len(plan.RepoPods) != 1 || plan.RepoPods[0] != "hippo-backrest-shared-repo-abc" {
		t.Errorf("repository pods %v", plan.RepoPods)
	}

	result, err := Certs(context.Background(), fx.clients(), req, plan)
	if err != nil {
		t.Fatalf("%v\n%s", err, req.Progress)
	}
	stored := fx.secret(t, cluster.RepoConfigSecretName("hippo"))
	if !bytes.Equal(stored.Data[cluster.KeyDBCert], plan.New.DBCert) || !bytes.Equal(stored.Data[cluster.KeyCAKey], plan.Old.CAKey) {
		t.Error("the Secret does not hold the new certificates beside the old CA")
	}
	if result.ArchivedWAL != "00000001000000000000000C" || len(result.Reloaded) != 3 {
		t.Errorf("result %+v", result)
	}
	var order []string
	for _, c := range e.calls {
		switch {
		case strings.Contains(c, "pg_reload_conf"):
			order = append(order, "reload postgres")
		case strings.Contains(c, "kill -HUP"):
			order = append(order, "hup "+strings.SplitN(c, "/", 2)[0])
		case strings.Contains(c, " check"):
			order = append(order, "check")
		}
	}
	want := []string{"reload postgres", "hup hippo-0", "hup hippo-backrest-shared-repo-abc", "check"}
	if !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	pod, _ := fx.f.Clientset.CoreV1().Pods("pgo").Get(context.Background(), "hippo-0", metav1.GetOptions{})
	if !strings.HasPrefix(pod.Annotations[AnnotationRotated], "certs ") {
		t.Errorf("pod annotations %v", pod.Annotations)
	}
}

// A server that never serves the new certificate ends the wait with an
// error that says how to finish.
func TestCertsServerDoesNotReload(t *testing.T) {
	fx := newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"})
	e := newPodExec(t, fx)
	exec := func(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
		if strings.Contains(strings.Join(command, " "), "kill -HUP") && strings.Contains(pod, "repo") {
			return "reloaded 1\n", "", nil // the signal is lost
		}
		return e.exec(ctx, ns, pod, container, command)
	}
	req := fx.request(exec)
	req.Timeout = 200 * time.Millisecond
	plan, err := PlanCerts(context.Background(), fx.clients(), req, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Certs(context.Background(), fx.clients(), req, plan)
	if err == nil || !strings.Contains(err.Error(), "the pgBackRest server in pod hippo-backrest-shared-repo-abc does not serve the new certificate") ||
		!strings.Contains(err.Error(), "--reload-only") {
		t.Errorf("err = %v", err)
	}
}

// The passwords change in the Secret first, then in PostgreSQL from the
// mounted files (no password in any command), then in each password
// file; if PostgreSQL refuses, the old Secret is written back.
func TestPassword(t *testing.T) {
	fx := newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"})
	e := newPodExec(t, fx)
	req := fx.request(e.exec)
	plan, err := PlanPassword(context.Background(), fx.clients(), req, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Password(context.Background(), fx.clients(), req, plan); err != nil {
		t.Fatalf("%v\n%s", err, req.Progress)
	}
	pg := fx.secret(t, cluster.PostgresSecretName("hippo"))
	newPass, newRepl := string(pg.Data[cluster.KeyPassword]), string(pg.Data[cluster.KeyReplicationPassword])
	if newPass == "secret" || newRepl == "replication" || len(newPass) < 40 || string(pg.Data[cluster.KeyUsername]) != "postgres" {
		t.Errorf("Secret after: %q %q %q", pg.Data[cluster.KeyUsername], newPass, newRepl)
	}
	for _, c := range e.calls {
		if strings.Contains(c, newPass) || strings.Contains(c, newRepl) {
			t.Errorf("a password in a command: %s", c)
		}
	}
	alter := e.callsMatching("ALTER ROLE")
	if len(alter) != 1 || !strings.HasPrefix(alter[0], "hippo-0/database") || !strings.Contains(alter[0], "-1 ") {
		t.Errorf("ALTER ROLE: %v", alter)
	}
	if len(e.callsMatching("replication.pgpass")) != 1 || len(e.callsMatching("sslmode=verify-full")) != 1 {
		t.Errorf("calls %v", e.calls)
	}

	fx = newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"})
	e = newPodExec(t, fx)
	e.alterFails = true
	req = fx.request(e.exec)
	plan, err = PlanPassword(context.Background(), fx.clients(), req, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Password(context.Background(), fx.clients(), req, plan)
	if err == nil || !strings.Contains(err.Error(), "The old passwords were written back") {
		t.Errorf("err = %v", err)
	}
	if pg := fx.secret(t, cluster.PostgresSecretName("hippo")); string(pg.Data[cluster.KeyPassword]) != "secret" {
		t.Errorf("the old password was not written back: %q", pg.Data[cluster.KeyPassword])
	}
}

// New keys are refused before anything changes: a cluster without that
// store, the Secret it already uses, kubectl-pgo's own Secret, a Secret
// that is missing or lacks a key; and keys the probe pod cannot use.
func TestKeysRefused(t *testing.T) {
	local := newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"})
	if _, err := PlanKeys(context.Background(), local.clients(), local.request(nil), repo.S3, "new-keys", true); err == nil ||
		!strings.Contains(err.Error(), "cluster \"hippo\" has no s3 repository (its storage types are local)") {
		t.Errorf("no S3: %v", err)
	}

	s3 := cluster.Spec{Name: "hippo", Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageLocal, cluster.StorageS3},
		S3: &cluster.S3Spec{Bucket: "bucket", Endpoint: "s3.example:9000", Region: "us-east-1", CredentialsSecret: "old-keys", URIStyle: "path", VerifyTLS: true}}
	secret := func(name string, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pgo"}, Data: data}
	}
	keys := map[string][]byte{cluster.KeyS3Key: []byte("k"), cluster.KeyS3KeySecret: []byte("s")}
	fx := newFixture(t, s3, secret("old-keys", keys), secret("new-keys", keys), secret("half-keys", map[string][]byte{cluster.KeyS3Key: []byte("k")}))
	for _, c := range []struct{ secret, want string }{
		{"old-keys", "already takes its s3 keys from Secret old-keys"},
		{cluster.RepoConfigSecretName("hippo"), "is kubectl-pgo's own Secret of cluster \"hippo\""},
		{"missing-keys", "secret pgo/missing-keys does not exist"},
		{"half-keys", "secret pgo/half-keys has no aws-s3-key-secret"},
	} {
		_, err := PlanKeys(context.Background(), fx.clients(), fx.request(nil), repo.S3, c.secret, true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.secret, err, c.want)
		}
	}
	if m := fx.mutations(); len(m) != 0 {
		t.Fatalf("changes: %v", m)
	}

	plan, err := PlanKeys(context.Background(), fx.clients(), fx.request(nil), repo.S3, "new-keys", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Repos, []int{2}) || plan.Next.S3.CredentialsSecret != "new-keys" || plan.Stored.S3.CredentialsSecret != "old-keys" {
		t.Errorf("plan %+v", plan)
	}
	probe := plan.Probe.Spec.Containers[0]
	refs := map[string]string{}
	for _, env := range probe.Env {
		if env.ValueFrom != nil && env.ValueFrom.SecretKeyRef != nil {
			refs[env.Name] = env.ValueFrom.SecretKeyRef.Name
		}
	}
	if refs["PGBACKREST_REPO2_S3_KEY"] != "new-keys" || refs["PGBACKREST_REPO2_S3_KEY_SECRET"] != "new-keys" {
		t.Errorf("probe env %v", refs)
	}
	for _, v := range plan.Probe.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Errorf("the probe mounts PVC %s", v.PersistentVolumeClaim.ClaimName)
		}
	}
	if args := probe.Command; args[len(args)-1] != "2" {
		t.Errorf("probe command ends %v", args[len(args)-3:])
	}

	// The probe pod fails: the keys are refused, the settings stay.
	fx.f.Clientset.PrependReactor("create", "pods", func(a k8sAction) (bool, runtime.Object, error) {
		p := a.(createAction).GetObject().(*corev1.Pod)
		p.Status.Phase = corev1.PodFailed
		return false, nil, nil
	})
	_, err = Keys(context.Background(), fx.clients(), fx.request(nil), plan)
	if err == nil || !strings.Contains(err.Error(), "the new keys were refused") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("failed probe: %v", err)
	}
	cm, _ := fx.f.Clientset.CoreV1().ConfigMaps("pgo").Get(context.Background(), cluster.SettingsConfigMapName("hippo"), metav1.GetOptions{})
	stored, _ := cluster.SpecFromConfigMap(cm)
	if stored.S3.CredentialsSecret != "old-keys" {
		t.Errorf("the settings changed to %s", stored.S3.CredentialsSecret)
	}
	if _, err := fx.f.Clientset.CoreV1().Pods("pgo").Get(context.Background(), jobs.KeysProbePodName("hippo"), metav1.GetOptions{}); err == nil {
		t.Error("the probe pod was left behind")
	}
}

// --new-ca: every state the Secret goes through is a PKI that verifies, and
// each side trusts the other throughout: first both CAs with the old
// leaves, then the new leaves under both CAs, then the new CA alone; the
// CA ConfigMap follows; the servers present the new certificates.
func TestNewCA(t *testing.T) {
	var states []cluster.PKI
	fx, e, req := switchFixture(t, &states)
	plan, err := PlanNewCA(context.Background(), fx.clients(), req, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if m := fx.mutations(); len(m) != 0 {
		t.Fatalf("planning changed %v", m)
	}
	if _, err := NewCA(context.Background(), fx.clients(), req, plan, 0); err != nil {
		t.Fatalf("%v\n%s", err, req.Progress)
	}
	if len(states) != 3 {
		t.Fatalf("%d Secret writes, want 3", len(states))
	}
	for i, p := range states {
		if err := p.Verify("hippo", "pgo", issued.Add(25*time.Hour)); err != nil {
			t.Errorf("state %d does not verify: %v", i+1, err)
		}
	}
	count := func(p cluster.PKI) int { return bytes.Count(p.CACert, []byte("BEGIN CERTIFICATE")) }
	if count(states[0]) != 2 || !bytes.Equal(states[0].DBCert, plan.Old.DBCert) || !bytes.Equal(states[0].CAKey, plan.Old.CAKey) {
		t.Error("state 1 is not both CAs with the old leaves and the old key")
	}
	if count(states[1]) != 2 || !bytes.Equal(states[1].DBCert, plan.New.DBCert) || !bytes.Equal(states[1].CAKey, plan.New.CAKey) {
		t.Error("state 2 is not both CAs with the new leaves and the new key")
	}
	if count(states[2]) != 1 || !bytes.Equal(states[2].CACert, plan.New.CACert) {
		t.Error("state 3 is not the new CA alone")
	}
	// The old leaves verify under state 2's bundle, the new ones under state 1's: no side
	// meets a certificate it does not trust.
	if err := (cluster.PKI{CACert: states[0].CACert, CAKey: plan.Old.CAKey, DBCert: plan.New.DBCert, DBKey: plan.New.DBKey,
		RepoCert: plan.Old.RepoCert, RepoKey: plan.Old.RepoKey}).Verify("hippo", "pgo", issued.Add(25*time.Hour)); err != nil {
		t.Errorf("a new leaf beside an old one under the bundle: %v", err)
	}
	cm, _ := fx.f.Clientset.CoreV1().ConfigMaps("pgo").Get(context.Background(), cluster.CAConfigMapName("hippo"), metav1.GetOptions{})
	if cm.Data[cluster.KeyCACert] != string(plan.New.CACert) {
		t.Error("the CA ConfigMap does not hold the new CA alone")
	}
	if len(e.callsMatching("kill -HUP")) != 6 {
		t.Errorf("SIGHUPs: %v, want 2 servers x 3 steps", e.callsMatching("kill -HUP"))
	}
	// A switch interrupted after its first step (both CAs trusted) is finished by another:
	// the three CAs are trusted, then the newest alone.
	rc := fx.secret(t, cluster.RepoConfigSecretName("hippo"))
	rc.Data = withPKI(rc.Data, states[1])
	if _, err := fx.f.Clientset.CoreV1().Secrets("pgo").Update(context.Background(), rc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	states = nil
	e = newPodExec(t, fx)
	req = fx.request(e.exec)
	plan, err = PlanNewCA(context.Background(), fx.clients(), req, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCA(context.Background(), fx.clients(), req, plan, 0); err != nil {
		t.Fatalf("from a bundle: %v\n%s", err, req.Progress)
	}
	if len(states) != 3 || count(states[0]) != 3 || count(states[2]) != 1 {
		t.Errorf("from a bundle: %d writes, CAs %d then %d", len(states), count(states[0]), count(states[len(states)-1]))
	}
	for i, p := range states {
		if err := p.Verify("hippo", "pgo", issued.Add(25*time.Hour)); err != nil {
			t.Errorf("from a bundle, state %d does not verify: %v", i+1, err)
		}
	}
}

// switchFixture is the fixture of a switch to a new CA: hippo, its pods'
// exec and a request; states gets the PKI of each write of a Secret.
func switchFixture(t *testing.T, states *[]cluster.PKI) (*fixture, *podExec, Request) {
	fx := newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"})
	recordPKIWrites(t, fx, states)
	e := newPodExec(t, fx)
	return fx, e, fx.request(e.exec)
}

// recordPKIWrites appends to states the PKI of each patch of a Secret.
func recordPKIWrites(t *testing.T, fx *fixture, states *[]cluster.PKI) {
	fx.f.Clientset.PrependReactor("patch", "secrets", func(a k8sAction) (bool, runtime.Object, error) {
		var s corev1.Secret
		if err := json.Unmarshal(a.(patchAction).GetPatch(), &s); err != nil {
			t.Fatal(err)
		}
		p, err := cluster.PKIFromSecret(&s)
		if err != nil {
			t.Errorf("a Secret state without its keys: %v", err)
		}
		*states = append(*states, p)
		return false, nil, nil
	})
}

// cipher-pass is refused with what to do instead.
func TestCipherPassRefusal(t *testing.T) {
	err := CipherPassRefusal("hippo", "pgo")
	for _, want := range []string{"cannot be rotated, and nothing was changed", "--restore-from=hippo", "--pgbackrest-repo-cipher-secret", "retention window"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}

type (
	k8sAction    = k8stesting.Action
	createAction = k8stesting.CreateAction
	patchAction  = k8stesting.PatchAction
)
