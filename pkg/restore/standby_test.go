package restore

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
)

// A standby of a source in another namespace: the Job restores in standby mode and runs no
// recovery; the Secret the standby keeps has a pgbackrest.conf that finds the source's files
// where the database container mounts them and reaches the source's repository host across
// namespaces, carries the cluster's labels, and is not removed with the temporary objects.
func TestFromStandby(t *testing.T) {
	fx, r := fromFixture(t)
	r.SourceNamespace = "pgo"
	r.Standby = true
	if err := r.parse("dr", "other"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.prepare(ctx, fx, false, cluster.Spec{PostgresVersion: fakecluster.FixtureVersion}, cluster.Material{}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	fx.AddBootstrapped(t, "dr", "other", r.AdjustObjects)
	if err := r.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	c := fx.Factory.Clientset
	job, err := c.BatchV1().Jobs("other").Get(ctx, "dr-restore", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	command := strings.Join(job.Spec.Template.Spec.Containers[0].Command, " ")
	if !strings.Contains(command, "restore --delta --set=20261126-072526F --type=standby --target-timeline=latest") || strings.Contains(command, "archive_mode=off") {
		t.Errorf("the standby's restore Job: want --type=standby --target-timeline=latest and no recovery in the Job:\n%s", command)
	}
	secret, err := c.CoreV1().Secrets("other").Get(ctx, cluster.StandbySourceSecretName("dr"), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the standby's Secret: %v", err)
	}
	conf := string(secret.Data[cluster.StandbyKeyConfig])
	for _, want := range []string{"repo1-host=old-backrest-shared-repo.pgo.svc", "repo1-host-ca-file=/etc/pgbackrest-source/ca.crt",
		"repo1-host-cert-file=/etc/pgbackrest-source/db.crt", "pg1-path=/pgdata/dr"} {
		if !strings.Contains(conf, want) {
			t.Errorf("the standby's pgbackrest.conf lacks %q:\n%s", want, conf)
		}
	}
	if string(secret.Data[jobs.SourceKeyCert]) != "old db.crt" || secret.Labels[cluster.LabelCluster] != "dr" {
		t.Errorf("the standby's Secret: data keys %v, labels %v", keys(secret), secret.Labels)
	}
	if _, err := c.CoreV1().Secrets("other").Get(ctx, "dr-restore-source", metav1.GetOptions{}); err == nil {
		t.Error("the temporary Secret dr-restore-source is left")
	}
}

// A source that is itself a standby is refused before anything is created: its repository has
// no backup of its own.
func TestFromStandbyOfAStandby(t *testing.T) {
	fx, r := fromFixture(t)
	ctx := context.Background()
	fx.EditSpec(t, "pgo", "old", func(s *cluster.Spec) { s.Standby = &cluster.StandbySpec{Source: "first", SourceNamespace: "prod"} })
	if err := r.parse("dr", "pgo"); err != nil {
		t.Fatal(err)
	}
	fx.Factory.Clientset.ClearActions()
	err := r.prepare(ctx, fx, false, cluster.Spec{PostgresVersion: fakecluster.FixtureVersion}, cluster.Material{})
	if err == nil || !strings.Contains(err.Error(), `cluster "old" is itself a standby of cluster "first"`) || !strings.Contains(err.Error(), "--restore-from-namespace=prod") {
		t.Fatalf("error = %v", err)
	}
	if m := fx.Mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}
}

func keys(s *corev1.Secret) []string {
	var out []string
	for k := range s.Data {
		out = append(out, k)
	}
	return out
}

// A standby that streams from its source (--standby-host) keeps the source's replication
// password and CA in its Secret, read from the source's Secrets; without them, or for a source
// that cannot be seen, it is refused before anything is created.
func TestFromStandbyStreams(t *testing.T) {
	fx, r := fromFixture(t)
	r.Standby = true
	ctx := context.Background()
	secrets := fx.Factory.Clientset.CoreV1().Secrets("pgo")
	if err := r.parse("dr", "pgo"); err != nil {
		t.Fatal(err)
	}
	target := cluster.Spec{Name: "dr", Namespace: "pgo", PostgresVersion: fakecluster.FixtureVersion, Standby: &cluster.StandbySpec{Source: "old", Host: "old.pgo.svc:5432"}}
	fx.Factory.Clientset.ClearActions()
	if err := r.prepare(ctx, fx, false, target, cluster.Material{}); err == nil || !strings.Contains(err.Error(), "--standby-host: the replication password of cluster \"old\"") {
		t.Fatalf("no replication password: err = %v", err)
	}
	if m := fx.Mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}

	pg, err := secrets.Get(ctx, cluster.PostgresSecretName("old"), metav1.GetOptions{})
	if err != nil {
		pg = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: cluster.PostgresSecretName("old"), Namespace: "pgo"}, Data: map[string][]byte{}}
		if pg, err = secrets.Create(ctx, pg, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pg.Data[cluster.KeyReplicationPassword] = []byte("old-replication")
	if _, err := secrets.Update(ctx, pg, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A CA that is not a CA (here the source's server certificate) is
	// refused before anything is made.
	// The fixture's material is not PEM: the source gets a real CA.
	pki, err := cluster.NewPKI("old", "pgo", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := secrets.Get(ctx, cluster.RepoConfigSecretName("old"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc.Data[cluster.KeyCACert] = pki.CACert
	if _, err := secrets.Update(ctx, rc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	notCA := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "old-stream", Namespace: "pgo"},
		Data: map[string][]byte{cluster.StandbyKeyReplicationPassword: []byte("x"), cluster.KeyCACert: pki.DBCert}}
	if _, err := secrets.Create(ctx, notCA, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := newFromTest(fx)
	bad.Standby, bad.StreamSecret = true, "old-stream"
	if err := bad.parse("dr", "pgo"); err != nil {
		t.Fatal(err)
	}
	fx.Factory.Clientset.ClearActions()
	if err := bad.prepare(ctx, fx, false, target, cluster.Material{}); err == nil ||
		!strings.Contains(err.Error(), "--standby-host: the ca.crt of Secret pgo/old-stream holds no CA certificate") || !strings.Contains(err.Error(), "nothing was created") {
		t.Errorf("a stream Secret whose ca.crt is not a CA: err = %v", err)
	}
	if m := fx.Mutations(); len(m) != 0 {
		t.Errorf("changes despite the refusal: %v", m)
	}
	r2 := newFromTest(fx)
	r2.Standby = true
	if err := r2.parse("dr", "pgo"); err != nil {
		t.Fatal(err)
	}
	if err := r2.prepare(ctx, fx, false, target, cluster.Material{}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	data, err := r2.standbySourceData()
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := secrets.Get(ctx, cluster.RepoConfigSecretName("old"), metav1.GetOptions{})
	if string(data[cluster.StandbyKeyReplicationPassword]) != "old-replication" || string(data[cluster.StandbyKeyPostgresCA]) != string(ca.Data[cluster.KeyCACert]) {
		t.Errorf("the standby's Secret: replication password %q, CA %d bytes", data[cluster.StandbyKeyReplicationPassword], len(data[cluster.StandbyKeyPostgresCA]))
	}
}
