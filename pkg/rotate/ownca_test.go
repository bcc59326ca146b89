package rotate

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/internal/testpki"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// ownCA is an intermediate CA of kind and its root, checked for hippo as
// the command checks --ca-cert and --ca-key.
func ownCA(t *testing.T, kind string, validity time.Duration) *cluster.OwnCA {
	t.Helper()
	_, ca, chain := testpki.Intermediate(t, kind, issued, validity)
	own, err := cluster.CheckOwnCA(cluster.OwnCAFile{Name: "ca.pem", Data: chain}, cluster.OwnCAFile{Name: "ca.key", Data: ca.KeyPEM(t, testpki.PKCS8)},
		"hippo", "pgo", issued.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return own
}

// --new-ca with a CA of the user's PKI takes the same three steps: the
// old CA beside the given one and its root, the leaves the given CA
// signs (until it expires), then the given CA and its root alone, in the
// Secret and the CA ConfigMap.
func TestNewOwnCA(t *testing.T) {
	var states []cluster.PKI
	fx, e, req := switchFixture(t, &states)
	own := ownCA(t, testpki.RSA2048, 400*24*time.Hour)
	plan, err := PlanNewCA(context.Background(), fx.clients(), req, own, true)
	if err != nil {
		t.Fatal(err)
	}
	if m := fx.mutations(); len(m) != 0 {
		t.Fatalf("planning changed %v", m)
	}
	steps := strings.Join(plan.Steps(time.Minute), "\n")
	if want := "the old CA and the given CA " + own.Describe() + " with its root"; !strings.Contains(steps, want) {
		t.Errorf("steps lack %q:\n%s", want, steps)
	}
	if _, err := NewCA(context.Background(), fx.clients(), req, plan, 0); err != nil {
		t.Fatalf("%v\n%s", err, req.Progress)
	}
	count := func(p cluster.PKI) int { return bytes.Count(p.CACert, []byte("BEGIN CERTIFICATE")) }
	if len(states) != 3 || count(states[0]) != 3 || count(states[1]) != 3 || !bytes.Equal(states[2].CACert, own.CertPEM) {
		t.Fatalf("%d Secret writes; CAs %v", len(states), states)
	}
	if !bytes.Equal(states[2].CAKey, own.KeyPEM) {
		t.Error("the Secret does not hold the given CA's key")
	}
	for i, p := range states {
		if err := p.Verify("hippo", "pgo", issued.Add(25*time.Hour)); err != nil {
			t.Errorf("state %d does not verify: %v", i+1, err)
		}
	}
	for _, leafPEM := range [][]byte{states[2].DBCert, states[2].RepoCert} {
		leaf := parseCert(t, leafPEM)
		if err := leaf.CheckSignatureFrom(own.Cert); err != nil {
			t.Errorf("%s is not signed by the given CA: %v", leaf.Subject.CommonName, err)
		}
		if !leaf.NotAfter.Equal(own.Cert.NotAfter) {
			t.Errorf("%s expires on %s, after the CA's %s", leaf.Subject.CommonName, leaf.NotAfter, own.Cert.NotAfter)
		}
	}
	if n, err := states[2].OtherCAs(); err != nil || n != 0 {
		t.Errorf("the switch left %d other CAs (%v)", n, err)
	}
	cm, _ := fx.f.Clientset.CoreV1().ConfigMaps("pgo").Get(context.Background(), cluster.CAConfigMapName("hippo"), metav1.GetOptions{})
	if cm.Data[cluster.KeyCACert] != string(own.CertPEM) {
		t.Error("the CA ConfigMap does not hold the given CA and its root")
	}

	// The same CA again is refused, with nothing changed; another CA of
	// the same root adds the root once.
	before := len(fx.mutations())
	if _, err := PlanNewCA(context.Background(), fx.clients(), fx.request(e.exec), own, true); err == nil ||
		!strings.Contains(err.Error(), "already uses the CA") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("the same CA again: %v", err)
	}
	if m := fx.mutations(); len(m) != before {
		t.Errorf("a refusal changed %v", m[before:])
	}
}

// A CA that expires within CertValidity signs leaves that expire with it,
// whatever its key type: ECDSA P-384 and Ed25519.
func TestNewOwnCAKeyTypes(t *testing.T) {
	for _, kind := range []string{testpki.P384, testpki.Ed25519} {
		fx := newFixture(t, cluster.Spec{Name: "hippo", Namespace: "pgo"})
		own := ownCA(t, kind, 90*24*time.Hour)
		plan, err := PlanNewCA(context.Background(), fx.clients(), fx.request(newPodExec(t, fx).exec), own, false)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		leaf := parseCert(t, plan.New.DBCert)
		if err := leaf.CheckSignatureFrom(own.Cert); err != nil || !leaf.NotAfter.Equal(own.Cert.NotAfter) {
			t.Errorf("%s: signature %v, expires %s, CA %s", kind, err, leaf.NotAfter, own.Cert.NotAfter)
		}
		if m := fx.mutations(); len(m) != 0 {
			t.Errorf("%s: a plan changed %v", kind, m)
		}
	}
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("not PEM: %q", data)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
