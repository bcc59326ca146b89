package rotate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// PasswordPlan is a rotation of the superuser's and the replication
// role's passwords, planned before anything changes.
type PasswordPlan struct {
	Spec cluster.Spec
	// Secret is the postgres Secret as it will be written; old is as it
	// was, written back if PostgreSQL does not take the new passwords.
	Secret, old *corev1.Secret
	Pods        []string
	// Hold is what the rotation suspends and waits for first.
	Hold Hold
}

// PasswordResult is what kubectl pgo rotate password -o yaml prints
// (never a password).
type PasswordResult struct {
	Cluster   string   `json:"cluster"`
	Namespace string   `json:"namespace"`
	Roles     []string `json:"roles"`
	Secret    string   `json:"secret"`
	// Pods are the instances whose replication password file was
	// rewritten.
	Pods []string `json:"pods"`
}

// PlanPassword reads the postgres Secret and makes new passwords. A
// standby cluster is refused: its database is in recovery and takes no
// ALTER ROLE.
func PlanPassword(ctx context.Context, c *apply.Clients, req Request, checkRunning bool) (*PasswordPlan, error) {
	spec := req.Spec
	if err := spec.RefuseStandby("rotating the passwords"); err != nil {
		return nil, err
	}
	hold, err := Check(ctx, c, req, "passwords", checkRunning)
	if err != nil {
		return nil, err
	}
	secret, err := c.Client.CoreV1().Secrets(spec.Namespace).Get(ctx, cluster.PostgresSecretName(spec.Name), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("cannot read the passwords of cluster %q: %w", spec.Name, apply.APIError(c, err))
	}
	if err := cluster.CheckOwnership(spec.Name, "Secret "+spec.Namespace+"/"+secret.Name, secret.Labels); err != nil {
		return nil, err
	}
	out := secret.DeepCopy()
	out.ManagedFields = nil
	if out.Data == nil {
		out.Data = map[string][]byte{}
	}
	for _, key := range []string{cluster.KeyPassword, cluster.KeyReplicationPassword} {
		p, err := cluster.NewPassword()
		if err != nil {
			return nil, err
		}
		out.Data[key] = []byte(p)
	}
	return &PasswordPlan{Spec: spec, Secret: out, old: secret, Pods: databasePods(spec), Hold: hold}, nil
}

// Steps says what Password does, in order.
func (p *PasswordPlan) Steps() []string {
	return append(p.Hold.steps(),
		fmt.Sprintf("write new passwords of %s and %s into Secret %s", cluster.Superuser, cluster.ReplicationUser, p.Secret.Name),
		fmt.Sprintf("wait until pods %s mount them", strings.Join(p.Pods, ", ")),
		fmt.Sprintf("ALTER ROLE %s and %s in the primary %s, from the files it mounts (the passwords never leave the cluster), in one transaction",
			cluster.Superuser, cluster.ReplicationUser, p.Spec.PrimaryPod()),
		"rewrite each instance's replication password file, so that a replica that reconnects uses the new password; streaming connections stay",
		"connect to the primary's Service over TLS with the new superuser password",
	)
}

// Password rotates the passwords in this order: the Secret, then (once the
// primary mounts it) PostgreSQL, then the replicas' password files.
// Connections already open stay; a connection made between the first two
// steps with the Secret's new password fails, which is why the plan's Hold
// keeps every Job that connects out meanwhile. If PostgreSQL does not take
// the new passwords, the Secret is written back.
func Password(ctx context.Context, c *apply.Clients, req Request, plan *PasswordPlan) (*PasswordResult, error) {
	return withHold(ctx, c, req, plan.Hold, "passwords", func() (*PasswordResult, error) { return rotatePassword(ctx, c, req, plan) })
}

func rotatePassword(ctx context.Context, c *apply.Clients, req Request, plan *PasswordPlan) (*PasswordResult, error) {
	spec, ns, w, exec := plan.Spec, plan.Spec.Namespace, req.Progress, req.Exec
	start := time.Now()
	deadline := start.Add(req.Timeout)
	written, err := writeFirst(ctx, c, plan.Secret, "the new passwords")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "new passwords written into Secret %s\n", plan.Secret.Name)
	mark(ctx, c, ns, plan.Pods, "password", req.now())
	undo := func(cause error) error {
		back := plan.old.DeepCopy()
		back.ManagedFields = nil
		back.ResourceVersion = written.ResourceVersion
		if _, err := writeSecret(context.WithoutCancel(ctx), c, back); err != nil {
			return fmt.Errorf("%w\nand the old passwords could not be written back into Secret %s/%s: %v; the Secret holds passwords that PostgreSQL may not have: run kubectl pgo rotate password %s -n %s again",
				cause, ns, plan.Secret.Name, err, spec.Name, ns)
		}
		mark(ctx, c, ns, plan.Pods, "password", req.now())
		return fmt.Errorf("%w\nThe old passwords were written back into Secret %s/%s; PostgreSQL still has them", cause, ns, plan.Secret.Name)
	}

	files := map[string]string{
		cluster.PasswordFile:            digest(plan.Secret.Data[cluster.KeyPassword]),
		cluster.ReplicationPasswordFile: digest(plan.Secret.Data[cluster.KeyReplicationPassword]),
	}
	if err := waitMounted(ctx, req, plan.Pods, files, deadline); err != nil {
		return nil, undo(err)
	}
	fmt.Fprintf(w, "every database pod mounts the new passwords\n")

	primary := spec.PrimaryPod()
	alter := fmt.Sprintf(`psql -XAtq -1 -v ON_ERROR_STOP=1 -d postgres -v superuser=%s -v replication=%s -v password="$(cat %s)" -v replication_password="$(cat %s)" <<'SQL'
ALTER ROLE :"superuser" PASSWORD :'password';
ALTER ROLE :"replication" PASSWORD :'replication_password';
SQL`, cluster.Superuser, cluster.ReplicationUser, cluster.PasswordFile, cluster.ReplicationPasswordFile)
	if _, stderr, err := exec(ctx, ns, primary, cluster.ContainerDatabase, []string{"bash", "-c", alter}); err != nil {
		return nil, undo(fmt.Errorf("%w %s", kube.ExplainExec("change the passwords in PostgreSQL", ns, primary, err), strings.TrimSpace(stderr)))
	}
	fmt.Fprintf(w, "PostgreSQL in pod %s has the new passwords of %s and %s\n", primary, cluster.Superuser, cluster.ReplicationUser)

	result := &PasswordResult{Cluster: spec.Name, Namespace: ns, Roles: []string{cluster.Superuser, cluster.ReplicationUser}, Secret: plan.Secret.Name}
	// The same libpq password file start-postgres.sh writes at start.
	passfile := fmt.Sprintf(`umask 077 && printf '*:*:*:%%s:%%s\n' %s "$(cat %s)" > %s.new && mv %s.new %s`,
		cluster.ReplicationUser, cluster.ReplicationPasswordFile, cluster.ReplicationPassFile, cluster.ReplicationPassFile, cluster.ReplicationPassFile)
	for _, pod := range plan.Pods {
		if _, stderr, err := exec(ctx, ns, pod, cluster.ContainerDatabase, []string{"bash", "-c", passfile}); err != nil {
			return result, fmt.Errorf("the passwords were changed, but the replication password file of pod %s could not be rewritten: %w %s; it is rewritten when the pod restarts (kubectl delete pod -n %s %s)",
				pod, err, strings.TrimSpace(stderr), ns, pod)
		}
		result.Pods = append(result.Pods, pod)
	}
	fmt.Fprintf(w, "replication password file rewritten in %s\n", strings.Join(result.Pods, ", "))

	login := fmt.Sprintf(`PGPASSWORD="$(cat %s)" psql -XAtq "host=%s port=%d user=%s dbname=postgres sslmode=verify-full sslrootcert=%s" -c 'SELECT 1'`,
		cluster.PasswordFile, cluster.ServiceName(spec.Name), cluster.PostgresPort, cluster.Superuser, cluster.TLSFile(cluster.KeyCACert))
	if _, stderr, err := exec(ctx, ns, primary, cluster.ContainerDatabase, []string{"bash", "-c", login}); err != nil {
		return result, fmt.Errorf("the passwords were changed, but a login over TLS to Service %s with the new one failed: %w %s", cluster.ServiceName(spec.Name), err, strings.TrimSpace(stderr))
	}
	fmt.Fprintf(w, "login as %s to Service %s over TLS with the new password: ok\n", cluster.Superuser, cluster.ServiceName(spec.Name))
	fmt.Fprintf(w, "passwords of cluster %s rotated (%s)\n", spec.Name, time.Since(start).Round(time.Second))
	return result, nil
}

// digest is the sha256 of a password in hex, as sha256sum prints it.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// waitMounted waits until every pod's database container mounts files
// with the given digests.
func waitMounted(ctx context.Context, req Request, pods []string, files map[string]string, deadline time.Time) error {
	for _, pod := range pods {
		for path, want := range files {
			err := waitUntil(ctx, req, deadline, fmt.Sprintf("pod %s does not mount the new %s", pod, path), func(ctx context.Context) (bool, error) {
				got, err := inspect.MountedDigest(ctx, req.Exec, req.Spec.Namespace, pod, cluster.ContainerDatabase, path)
				return err == nil && got == want, err
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
