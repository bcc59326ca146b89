package rotate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
)

// DefaultCAGrace is how long --new-ca waits, once every pod trusts both
// CAs, before anything the new CA signs is used: the applications that
// mount the CA ConfigMap get the bundle within the kubelet's sync.
const DefaultCAGrace = 2 * time.Minute

// PlanNewCA is PlanCerts for a new CA: the new CA and the leaves it signs
// (New), and the bundle of the old and the new CA that every side trusts
// during the switch. After an interrupted switch the old ca.crt holds more
// than one CA: all of them stay trusted until the new one alone is. The
// new CA is own, a CA of the user's PKI checked by cluster.CheckOwnCA (its
// issuers stay beside it in ca.crt), or else one PlanNewCA generates.
func PlanNewCA(ctx context.Context, c *apply.Clients, req Request, own *cluster.OwnCA, checkRunning bool) (*CertsPlan, error) {
	if checkRunning {
		if err := apply.CheckPermissions(ctx, c, req.Spec.Namespace, fmt.Sprintf("switch cluster %q to a new CA", req.Spec.Name),
			[]apply.Permission{{Verb: "patch", Resource: "configmaps"}}); err != nil {
			return nil, fmt.Errorf("%w; nothing was changed", err)
		}
	}
	plan, err := PlanCerts(ctx, c, req, checkRunning)
	if err != nil {
		return nil, err
	}
	next := cluster.PKI{}
	if own != nil {
		if cluster.SameCertificate(own.CertPEM, plan.Old.CACert) {
			return nil, fmt.Errorf("cluster %q already uses the CA %s: to sign new certificates from it, run kubectl pgo rotate certs %s -n %s without --new-ca (or with --reload-only to make the pods load what Secret %s holds); nothing was changed",
				req.Spec.Name, own.Describe(), req.Spec.Name, req.Spec.Namespace, plan.Secret.Name)
		}
		next.CACert, next.CAKey = own.CertPEM, own.KeyPEM
	} else if next.CACert, next.CAKey, err = cluster.NewCA(req.Spec.Name, req.now()); err != nil {
		return nil, err
	}
	if err := next.ReissueLeaves(req.Spec.Name, req.Spec.Namespace, req.now()); err != nil {
		return nil, err
	}
	plan.New = next
	plan.Bundle = cluster.JoinCAs(plan.Old.CACert, next.CACert)
	if err := (cluster.PKI{CACert: plan.Bundle, CAKey: next.CAKey, DBCert: next.DBCert, DBKey: next.DBKey, RepoCert: plan.Old.RepoCert, RepoKey: plan.Old.RepoKey}).
		Verify(req.Spec.Name, req.Spec.Namespace, req.now()); err != nil {
		return nil, fmt.Errorf("the certificates of the new CA do not verify beside the old ones: %w; nothing was changed", err)
	}
	plan.Secret.Data = withPKI(plan.Secret.Data, next)
	plan.OwnCA = own
	return plan, nil
}

// withPKI is data with the six keys of p.
func withPKI(data map[string][]byte, p cluster.PKI) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range data {
		out[k] = v
	}
	out[cluster.KeyCACert], out[cluster.KeyCAKey] = p.CACert, p.CAKey
	out[cluster.KeyDBCert], out[cluster.KeyDBKey] = p.DBCert, p.DBKey
	out[cluster.KeyRepoCert], out[cluster.KeyRepoKey] = p.RepoCert, p.RepoKey
	return out
}

// newCASteps are the steps of a switch to a new CA.
func (p *CertsPlan) newCASteps(grace time.Duration) []string {
	return append(p.Hold.steps(),
		fmt.Sprintf("trust both CAs: the old CA and %s in the ca.crt of Secret %s and of ConfigMap %s; wait until every pod mounts both, reload PostgreSQL and send SIGHUP to each pgBackRest server",
			p.newCAName(), p.Secret.Name, cluster.CAConfigMapName(p.Spec.Name)),
		fmt.Sprintf("wait %s, so that applications that mount ConfigMap %s get both CAs", grace, cluster.CAConfigMapName(p.Spec.Name)),
		fmt.Sprintf("sign new database and repository certificates (serials %s and %s) with the new CA, which signs from then on; the pods load them as rotate certs does, each checked by the certificate it presents",
			cluster.CertificateSerial(p.New.DBCert), cluster.CertificateSerial(p.New.RepoCert)),
		"drop the old CA: the new one alone in ca.crt; the pods mount it and the pgBackRest servers reload",
		"run pgbackrest check: a WAL segment archived with the new CA",
	)
}

// newCAName says which CA the switch is to, for its steps.
func (p *CertsPlan) newCAName() string {
	if p.OwnCA == nil {
		return fmt.Sprintf("a new one (serial %s)", cluster.CertificateSerial(p.New.CACert))
	}
	name := "the given CA " + p.OwnCA.Describe()
	switch n := bytes.Count(p.OwnCA.CertPEM, []byte("BEGIN CERTIFICATE")) - 1; {
	case n == 1:
		name += " with its root"
	case n > 1:
		name += fmt.Sprintf(" with its %d issuers up to the root", n)
	}
	return name
}

// NewCA switches the cluster to the plan's new CA in three steps, each
// loaded by every pod before the next: both CAs trusted; the new
// certificates, signed by the new CA; the old CA dropped. Every side
// trusts the other's certificate at every moment, so archive-push never
// fails.
func NewCA(ctx context.Context, c *apply.Clients, req Request, plan *CertsPlan, grace time.Duration) (*CertsResult, error) {
	return withHold(ctx, c, req, plan.Hold, "CA and certificates", func() (*CertsResult, error) { return rotateCA(ctx, c, req, plan, grace) })
}

func rotateCA(ctx context.Context, c *apply.Clients, req Request, plan *CertsPlan, grace time.Duration) (*CertsResult, error) {
	spec, ns, w := plan.Spec, plan.Spec.Namespace, req.Progress
	start := time.Now()
	deadline := start.Add(req.Timeout + grace)
	pods := append(append([]string{}, plan.DatabasePods...), plan.RepoPods...)
	secret := plan.Secret.DeepCopy()
	secret.Data = withPKI(secret.Data, plan.Old)
	after := fmt.Sprintf("\nSecret %s/%s and ConfigMap %s keep what was written, which every pod trusts: run kubectl pgo rotate certs %s -n %s --new-ca again to finish (or --reload-only to load what they hold)",
		ns, secret.Name, cluster.CAConfigMapName(spec.Name), spec.Name, ns)
	write := func(p cluster.PKI, what string) error {
		secret.Data = withPKI(secret.Data, p)
		s, err := writeSecret(ctx, c, secret)
		if apierrors.IsConflict(err) {
			return fmt.Errorf("secret %s/%s changed since it was read: %w", ns, secret.Name, err)
		}
		if err != nil {
			return fmt.Errorf("cannot write %s into Secret %s/%s: %w", what, ns, secret.Name, apply.APIError(c, err))
		}
		secret = s
		if err := writeCAConfigMap(ctx, c, spec, p.CACert); err != nil {
			return err
		}
		mark(ctx, c, ns, pods, "certs", req.now())
		fmt.Fprintf(w, "%s written into Secret %s and ConfigMap %s\n", what, secret.Name, cluster.CAConfigMapName(spec.Name))
		return nil
	}
	result := newCertsResult(spec, plan.New)

	// 1. Both CAs trusted; the old one still signs.
	both := plan.Old
	both.CACert = plan.Bundle
	if err := write(both, "the old and the new CA"); err != nil {
		return nil, err
	}
	if err := trustCA(ctx, req, plan.Bundle, plan.DatabasePods, plan.RepoPods, deadline); err != nil {
		return result, fmt.Errorf("%w%s", err, after)
	}
	fmt.Fprintf(w, "every pod trusts both CAs; waiting %s for the applications that mount ConfigMap %s\n", grace, cluster.CAConfigMapName(spec.Name))
	select {
	case <-ctx.Done():
		return result, ctx.Err()
	case <-time.After(grace):
	}

	// 2. The new certificates, signed by the new CA.
	signed := plan.New
	signed.CACert = plan.Bundle
	if err := write(signed, "the certificates signed by the new CA"); err != nil {
		return result, fmt.Errorf("%w%s", err, after)
	}
	if err := reload(ctx, req, signed, plan.DatabasePods, plan.RepoPods, deadline, result); err != nil {
		return result, fmt.Errorf("%w%s", err, after)
	}

	// 3. The old CA dropped.
	if err := write(plan.New, "the new CA alone"); err != nil {
		return result, fmt.Errorf("%w%s", err, after)
	}
	if err := trustCA(ctx, req, plan.New.CACert, plan.DatabasePods, plan.RepoPods, deadline); err != nil {
		return result, fmt.Errorf("%w%s", err, after)
	}
	return result, finish(ctx, req, result, deadline, "the new CA", fmt.Sprintf("cluster %s switched to a new CA (%s)", spec.Name, time.Since(start).Round(time.Second)))
}

// writeCAConfigMap puts ca into the cluster's CA ConfigMap; a cluster
// without one (made before it existed) is passed over: update cluster
// makes it, from the Secret.
func writeCAConfigMap(ctx context.Context, c *apply.Clients, spec cluster.Spec, ca []byte) error {
	cms := c.Client.CoreV1().ConfigMaps(spec.Namespace)
	if _, err := cms.Get(ctx, cluster.CAConfigMapName(spec.Name), metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("cannot read ConfigMap %s: %w", cluster.CAConfigMapName(spec.Name), apply.APIError(c, err))
	}
	patch, err := json.Marshal(map[string]any{"data": map[string]string{cluster.KeyCACert: string(ca)}})
	if err != nil {
		return err
	}
	if _, err := cms.Patch(ctx, cluster.CAConfigMapName(spec.Name), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("cannot write ConfigMap %s: %w", cluster.CAConfigMapName(spec.Name), apply.APIError(c, err))
	}
	return nil
}

// trustCA waits until every pod mounts ca as its ca.crt, reloads
// PostgreSQL (its replicas' connections read the file anew) and sends
// SIGHUP to each pgBackRest server, then connects to it twice: the server
// reloads once the connection it was accepting is served, so the second
// one is served with the new CA file.
func trustCA(ctx context.Context, req Request, ca []byte, dbPods, repoPods []string, deadline time.Time) error {
	ns, exec := req.Spec.Namespace, req.Exec
	type side struct {
		pod, container, certKey, keyKey string
	}
	var sides []side
	for _, p := range dbPods {
		sides = append(sides, side{p, cluster.ContainerDatabase, cluster.KeyDBCert, cluster.KeyDBKey})
	}
	for _, p := range repoPods {
		sides = append(sides, side{p, cluster.ContainerPGBackRest, cluster.KeyRepoCert, cluster.KeyRepoKey})
	}
	for _, s := range sides {
		err := waitUntil(ctx, req, deadline, fmt.Sprintf("pod %s does not mount the new ca.crt", s.pod), func(ctx context.Context) (bool, error) {
			got, err := inspect.MountedFile(ctx, exec, ns, s.pod, s.container, cluster.TLSFile(cluster.KeyCACert))
			return err == nil && bytes.Equal(bytes.TrimSpace([]byte(got)), bytes.TrimSpace(ca)), err
		})
		if err != nil {
			return err
		}
	}
	for _, p := range dbPods {
		if _, stderr, err := exec(ctx, ns, p, cluster.ContainerDatabase, inspect.PSQLCommand("postgres", "SELECT pg_reload_conf()")); err != nil {
			return fmt.Errorf("reload PostgreSQL in pod %s: %w %s", p, err, strings.TrimSpace(stderr))
		}
	}
	for _, s := range sides {
		if err := inspect.ReloadPGBackRestServer(ctx, exec, ns, s.pod); err != nil {
			return err
		}
		for i := 0; i < 2; i++ {
			if _, err := inspect.ServedPGBackRestCertificate(ctx, exec, ns, s.pod, s.container, s.certKey, s.keyKey); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(req.Progress, "every pod mounts the new ca.crt (%d certificates); PostgreSQL and the pgBackRest servers reloaded\n",
		bytes.Count(ca, []byte("-----BEGIN CERTIFICATE-----")))
	return nil
}
