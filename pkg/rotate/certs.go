package rotate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// CertsPlan is a rotation of the leaf certificates, planned (read and
// checked) before anything changes.
type CertsPlan struct {
	Spec cluster.Spec
	// Secret is the repository Secret as it will be written: the new
	// certificates and keys, everything else as it was.
	Secret *corev1.Secret
	// Old and New are the certificates before and after; the CA stays.
	Old, New cluster.PKI
	// DatabasePods and RepoPods are the pods whose servers switch.
	DatabasePods, RepoPods []string
	// Bundle is the old and the new CA, trusted together during a switch
	// to a new CA (PlanNewCA); nil otherwise.
	Bundle []byte
	// OwnCA is the CA of the user's PKI a switch goes to; nil for a CA
	// kubectl-pgo generates, and outside a switch.
	OwnCA *cluster.OwnCA
	// Hold is what the rotation suspends and waits for first.
	Hold Hold
}

// CertsResult is what kubectl pgo rotate certs -o yaml prints.
type CertsResult struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// The serial numbers of the new certificates, and when they expire.
	DatabaseSerial   string    `json:"databaseSerial"`
	RepositorySerial string    `json:"repositorySerial"`
	NotAfter         time.Time `json:"notAfter"`
	// Reloaded are the servers that serve the new certificates.
	Reloaded []string `json:"reloaded"`
	// ArchivedWAL is the segment pgbackrest check archived at the end.
	ArchivedWAL string `json:"archivedWAL,omitempty"`
}

// PlanCerts reads the repository Secret and signs new database and
// repository certificates from its CA. checkRunning also runs Check (a
// client dry run reads no Jobs nor pods).
func PlanCerts(ctx context.Context, c *apply.Clients, req Request, checkRunning bool) (*CertsPlan, error) {
	spec := req.Spec
	hold, err := Check(ctx, c, req, "certificates", checkRunning)
	if err != nil {
		return nil, err
	}
	secret, err := c.Client.CoreV1().Secrets(spec.Namespace).Get(ctx, cluster.RepoConfigSecretName(spec.Name), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("cannot read the certificates of cluster %q: %w", spec.Name, apply.APIError(c, err))
	}
	if err := cluster.CheckOwnership(spec.Name, "Secret "+spec.Namespace+"/"+secret.Name, secret.Labels); err != nil {
		return nil, err
	}
	old, err := cluster.PKIFromSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w; nothing was changed", spec.Namespace, secret.Name, err)
	}
	if err := cluster.CheckCACert("the CA of Secret "+secret.Name, old.CACert); err != nil {
		return nil, fmt.Errorf("%w; nothing was changed", err)
	}
	next := old
	if err := next.ReissueLeaves(spec.Name, spec.Namespace, req.now()); err != nil {
		return nil, fmt.Errorf("cannot sign new certificates with the CA of Secret %s/%s: %w; nothing was changed", spec.Namespace, secret.Name, err)
	}
	if err := next.Verify(spec.Name, spec.Namespace, req.now()); err != nil {
		return nil, fmt.Errorf("the new certificates do not verify: %w; nothing was changed", err)
	}
	out := secret.DeepCopy()
	out.Data[cluster.KeyDBCert], out.Data[cluster.KeyDBKey] = next.DBCert, next.DBKey
	out.Data[cluster.KeyRepoCert], out.Data[cluster.KeyRepoKey] = next.RepoCert, next.RepoKey
	out.ManagedFields = nil
	plan := &CertsPlan{Spec: spec, Secret: out, Old: old, New: next, DatabasePods: databasePods(spec), Hold: hold}
	if spec.HasLocalRepo() {
		pods, err := c.Client.CoreV1().Pods(spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.RepoSelector(spec.Name).String()})
		if err != nil {
			return nil, fmt.Errorf("cannot list the repository host's pods: %w", apply.APIError(c, err))
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				plan.RepoPods = append(plan.RepoPods, p.Name)
			}
		}
	}
	return plan, nil
}

// Steps says what Certs (or NewCA, with a Bundle) does, in order, for
// the prompt and a dry run.
func (p *CertsPlan) Steps(grace time.Duration) []string {
	if p.Bundle != nil {
		return p.newCASteps(grace)
	}
	return append(p.Hold.steps(), p.leafSteps()...)
}

// ReloadSteps says what Reload does, in order.
func (p *CertsPlan) ReloadSteps() []string {
	return append(p.Hold.steps(), p.leafSteps()[1:]...)
}

// leafSteps are the steps of a rotation of the leaf certificates: write
// them, then load them.
func (p *CertsPlan) leafSteps() []string {
	return []string{
		fmt.Sprintf("write new database and repository certificates (serials %s and %s), signed by the cluster's CA, into Secret %s",
			cluster.CertificateSerial(p.New.DBCert), cluster.CertificateSerial(p.New.RepoCert), p.Secret.Name),
		fmt.Sprintf("wait until pods %s mount them", strings.Join(append(append([]string{}, p.DatabasePods...), p.RepoPods...), ", ")),
		"reload PostgreSQL in each database pod (pg_reload_conf(): no restart, connections stay) and check that it serves the new certificate",
		"send SIGHUP to each pgBackRest server (database pods first, then the repository host): it reloads its certificates and serves the next connections with them; archive-push never fails, as the old and the new certificates are signed by the same CA",
		"run pgbackrest check: a WAL segment archived with the new certificates",
	}
}

// Certs writes the plan's Secret, waits until every pod mounts the new
// files, reloads PostgreSQL and the pgBackRest servers, checks what each
// serves, and ends with pgbackrest check.
func Certs(ctx context.Context, c *apply.Clients, req Request, plan *CertsPlan) (*CertsResult, error) {
	return withHold(ctx, c, req, plan.Hold, "certificates", func() (*CertsResult, error) { return rotateCerts(ctx, c, req, plan) })
}

func rotateCerts(ctx context.Context, c *apply.Clients, req Request, plan *CertsPlan) (*CertsResult, error) {
	spec, ns, w := plan.Spec, plan.Spec.Namespace, req.Progress
	start := time.Now()
	deadline := start.Add(req.Timeout)
	if _, err := writeFirst(ctx, c, plan.Secret, "the new certificates"); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "new certificates written into Secret %s (database %s, repository %s)\n", plan.Secret.Name,
		cluster.CertificateSerial(plan.New.DBCert), cluster.CertificateSerial(plan.New.RepoCert))
	after := fmt.Sprintf("\nThe new certificates are in Secret %s/%s; the pods that have not switched yet still hold the old ones, which stay valid until they expire (same CA). Run kubectl pgo rotate certs %s -n %s --reload-only to finish",
		ns, plan.Secret.Name, spec.Name, ns)
	mark(ctx, c, ns, append(append([]string{}, plan.DatabasePods...), plan.RepoPods...), "certs", req.now())

	result := newCertsResult(spec, plan.New)
	if err := reload(ctx, req, plan.New, plan.DatabasePods, plan.RepoPods, deadline, result); err != nil {
		return result, fmt.Errorf("%w%s", err, after)
	}
	return result, finish(ctx, req, result, deadline, "the new certificates", fmt.Sprintf("certificates of cluster %s rotated (%s)", spec.Name, time.Since(start).Round(time.Second)))
}

// newCertsResult is the result of a rotation to the certificates of p.
func newCertsResult(spec cluster.Spec, p cluster.PKI) *CertsResult {
	result := &CertsResult{Cluster: spec.Name, Namespace: spec.Namespace,
		DatabaseSerial: cluster.CertificateSerial(p.DBCert), RepositorySerial: cluster.CertificateSerial(p.RepoCert)}
	if exp, err := p.Expiries(); err == nil {
		for _, e := range exp {
			if e.What == "database" {
				result.NotAfter = e.NotAfter
			}
		}
	}
	return result
}

// finish runs pgbackrest check, records the segment it archived with
// what, and prints done.
func finish(ctx context.Context, req Request, result *CertsResult, deadline time.Time, with, done string) error {
	archived, err := pgbackrestCheck(ctx, req.Exec, req.Spec, deadline)
	if err != nil {
		return err
	}
	result.ArchivedWAL = archived
	fmt.Fprintf(req.Progress, "pgbackrest check: WAL segment %s archived with %s\n", archived, with)
	fmt.Fprintln(req.Progress, done)
	return nil
}

// Reload is the end of a rotation of certificates that was interrupted,
// or of certificates written otherwise: the pods are made to load what
// the repository Secret holds (kubectl pgo rotate certs --reload-only).
func Reload(ctx context.Context, c *apply.Clients, req Request, plan *CertsPlan) (*CertsResult, error) {
	return withHold(ctx, c, req, plan.Hold, "certificates", func() (*CertsResult, error) { return reloadCerts(ctx, c, req, plan) })
}

func reloadCerts(ctx context.Context, c *apply.Clients, req Request, plan *CertsPlan) (*CertsResult, error) {
	spec := plan.Spec
	deadline := time.Now().Add(req.Timeout)
	mark(ctx, c, spec.Namespace, append(append([]string{}, plan.DatabasePods...), plan.RepoPods...), "certs", req.now())
	result := &CertsResult{Cluster: spec.Name, Namespace: spec.Namespace,
		DatabaseSerial: cluster.CertificateSerial(plan.Old.DBCert), RepositorySerial: cluster.CertificateSerial(plan.Old.RepoCert)}
	if err := reload(ctx, req, plan.Old, plan.DatabasePods, plan.RepoPods, deadline, result); err != nil {
		return result, err
	}
	archived, err := pgbackrestCheck(ctx, req.Exec, spec, deadline)
	result.ArchivedWAL = archived
	return result, err
}

// reload waits until each pod mounts the certificates of pki, then
// reloads PostgreSQL and the pgBackRest servers, each until it serves its
// new certificate.
func reload(ctx context.Context, req Request, pki cluster.PKI, dbPods, repoPods []string, deadline time.Time, result *CertsResult) error {
	ns, w, exec := req.Spec.Namespace, req.Progress, req.Exec
	wait := func(what string, done func(ctx context.Context) (bool, error)) error {
		return waitUntil(ctx, req, deadline, what, done)
	}
	mounted := func(pod, container, key string, want []byte) error {
		return wait(fmt.Sprintf("pod %s does not mount the new %s", pod, key), func(ctx context.Context) (bool, error) {
			got, err := inspect.MountedFile(ctx, exec, ns, pod, container, cluster.TLSFile(key))
			return err == nil && cluster.SameCertificate([]byte(got), want), err
		})
	}
	for _, pod := range dbPods {
		if err := mounted(pod, cluster.ContainerDatabase, cluster.KeyDBCert, pki.DBCert); err != nil {
			return err
		}
	}
	for _, pod := range repoPods {
		if err := mounted(pod, cluster.ContainerPGBackRest, cluster.KeyRepoCert, pki.RepoCert); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "every pod mounts the new certificates\n")

	for _, pod := range dbPods {
		if _, stderr, err := exec(ctx, ns, pod, cluster.ContainerDatabase, inspect.PSQLCommand("postgres", "SELECT pg_reload_conf()")); err != nil {
			return fmt.Errorf("%w %s", kube.ExplainExec("reload PostgreSQL", ns, pod, err), strings.TrimSpace(stderr))
		}
		err := wait(fmt.Sprintf("PostgreSQL in pod %s does not serve the new certificate after pg_reload_conf()", pod), func(ctx context.Context) (bool, error) {
			got, err := inspect.ServedCertificate(ctx, exec, ns, pod)
			return err == nil && cluster.SameCertificate([]byte(got), pki.DBCert), err
		})
		if err != nil {
			return err
		}
		result.Reloaded = append(result.Reloaded, "postgres "+pod)
		fmt.Fprintf(w, "PostgreSQL in pod %s reloaded: it serves certificate %s\n", pod, cluster.CertificateSerial(pki.DBCert))
	}
	type server struct {
		pod, container, certKey, keyKey string
		want                            []byte
	}
	var servers []server
	for _, pod := range dbPods {
		servers = append(servers, server{pod, cluster.ContainerDatabase, cluster.KeyDBCert, cluster.KeyDBKey, pki.DBCert})
	}
	for _, pod := range repoPods {
		servers = append(servers, server{pod, cluster.ContainerPGBackRest, cluster.KeyRepoCert, cluster.KeyRepoKey, pki.RepoCert})
	}
	for _, s := range servers {
		if err := inspect.ReloadPGBackRestServer(ctx, exec, ns, s.pod); err != nil {
			return err
		}
		// The server reloads once its accept returns: the first
		// connection after the signal may still get the old certificate.
		err := wait(fmt.Sprintf("the pgBackRest server in pod %s does not serve the new certificate after SIGHUP", s.pod), func(ctx context.Context) (bool, error) {
			got, err := inspect.ServedPGBackRestCertificate(ctx, exec, ns, s.pod, s.container, s.certKey, s.keyKey)
			return err == nil && cluster.SameCertificate([]byte(got), s.want), err
		})
		if err != nil {
			return err
		}
		result.Reloaded = append(result.Reloaded, "pgbackrest "+s.pod)
		fmt.Fprintf(w, "pgBackRest server in pod %s reloaded: it serves certificate %s\n", s.pod, cluster.CertificateSerial(s.want))
	}
	return nil
}

// pgbackrestCheck runs pgbackrest check in the primary's database
// container, as doctor does: a WAL segment is switched and archived.
func pgbackrestCheck(ctx context.Context, exec apply.ExecFunc, spec cluster.Spec, deadline time.Time) (string, error) {
	if spec.Standby != nil {
		return "", nil // a standby archives nothing until it is promoted
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	stdout, stderr, err := exec(ctx, spec.Namespace, spec.PrimaryPod(), cluster.ContainerDatabase, repo.CheckCommand())
	code := 0
	var execErr *kube.ExecError
	switch {
	case errors.As(err, &execErr):
		code = execErr.ExitCode()
	case err != nil:
		return "", kube.ExplainExec("run pgbackrest check", spec.Namespace, spec.PrimaryPod(), err)
	}
	r := repo.ParseCheck(stdout+"\n"+stderr, code)
	if !r.OK {
		lines := repo.ErrorLines(stdout + "\n" + stderr)
		return "", fmt.Errorf("pgbackrest check failed after the rotation (exit %d): %s; see kubectl pgo doctor %s -n %s",
			code, strings.Join(lines, "; "), spec.Name, spec.Namespace)
	}
	return r.ArchivedWAL, nil
}
