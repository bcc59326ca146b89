package inspect

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// What the pods have loaded of the cluster's Secrets, as against what the
// Secrets hold: kubectl pgo rotate waits on it, doctor reports it. A
// Secret's new data reaches a running pod's mounted files within the
// kubelet's sync (about a minute); PostgreSQL and pgBackRest's servers
// read their certificates only when they start or reload.

// MountedFile is the content of a file that a container mounts, e.g. a
// key of the repository Secret (cluster.TLSFile).
func MountedFile(ctx context.Context, exec Exec, ns, pod, container, path string) (string, error) {
	stdout, stderr, err := exec(ctx, ns, pod, container, []string{"cat", path})
	if err != nil {
		return "", fmt.Errorf("cannot read %s in pod %s: %w %s", path, pod, err, strings.TrimSpace(stderr))
	}
	return stdout, nil
}

// MountedDigest is the sha256 of a mounted file, in hex: what a password
// file is compared by, so that the password never leaves the pod.
func MountedDigest(ctx context.Context, exec Exec, ns, pod, container, path string) (string, error) {
	stdout, stderr, err := exec(ctx, ns, pod, container, []string{"sha256sum", path})
	if err != nil {
		return "", fmt.Errorf("cannot read %s in pod %s: %w %s", path, pod, err, strings.TrimSpace(stderr))
	}
	digest, _, _ := strings.Cut(strings.TrimSpace(stdout), " ")
	return digest, nil
}

// servedCertScript prints the certificate a TLS server presents on the
// pod's own address, PEM encoded: openssl s_client, which the image has
// (ca-certificates depends on it); starttls "postgres" for PostgreSQL.
func servedCertScript(args string) []string {
	return []string{"bash", "-c", "openssl s_client " + args + " </dev/null 2>/dev/null | openssl x509"}
}

// ServedCertificate is the certificate that PostgreSQL presents in the
// pod's database container: the one it loaded at start or at its last
// reload, which may differ from the mounted file.
func ServedCertificate(ctx context.Context, exec Exec, ns, pod string) (string, error) {
	args := "-connect 127.0.0.1:" + strconv.Itoa(cluster.PostgresPort) + " -starttls postgres"
	stdout, stderr, err := exec(ctx, ns, pod, cluster.ContainerDatabase, servedCertScript(args))
	if err != nil {
		return "", fmt.Errorf("cannot read the certificate PostgreSQL presents in pod %s: %w %s", pod, err, strings.TrimSpace(stderr))
	}
	return stdout, nil
}

// ServedPGBackRestCertificate is the certificate that the pgBackRest
// server of the pod presents, read from container (any container of the
// pod shares its network) with the client certificate certKey/keyKey of
// the repository Secret that the container mounts (the server asks for
// one).
func ServedPGBackRestCertificate(ctx context.Context, exec Exec, ns, pod, container, certKey, keyKey string) (string, error) {
	args := fmt.Sprintf("-connect 127.0.0.1:%d -cert %s -key %s", repo.ServerPort, cluster.TLSFile(certKey), cluster.TLSFile(keyKey))
	stdout, stderr, err := exec(ctx, ns, pod, container, servedCertScript(args))
	if err != nil {
		return "", fmt.Errorf("cannot read the certificate the pgBackRest server presents in pod %s: %w %s", pod, err, strings.TrimSpace(stderr))
	}
	return stdout, nil
}

// reloadServerScript sends SIGHUP to every pgBackRest server process whose
// parent is not one, and fails when there is none.
const reloadServerScript = `set -u
n=0
for p in $(pgrep -f '^pgbackrest server'); do
  pp=$(ps -o ppid= -p "$p" | tr -d ' ')
  case "$(ps -o args= -p "$pp" 2>/dev/null)" in "pgbackrest server"*) continue ;; esac
  kill -HUP "$p" && n=$((n + 1))
done
echo "reloaded $n"
[ "$n" -gt 0 ]`

// ReloadPGBackRestServer sends SIGHUP to the pgBackRest server of the
// pod's pgbackrest container: the server process whose parent is no
// pgBackRest server (its children serve one connection each, and exit on
// SIGHUP). pgBackRest's server reloads its configuration and TLS files on
// SIGHUP and serves the next connections with them; the connections it
// serves go on.
func ReloadPGBackRestServer(ctx context.Context, exec Exec, ns, pod string) error {
	stdout, stderr, err := exec(ctx, ns, pod, cluster.ContainerPGBackRest, []string{"bash", "-c", reloadServerScript})
	if err != nil {
		return fmt.Errorf("%w %s", kube.ExplainExec("send SIGHUP to the pgBackRest server", ns, pod, err), strings.TrimSpace(stdout+" "+stderr))
	}
	return nil
}
