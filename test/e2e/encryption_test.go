package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// An encrypted repository: the passphrase only in the repository Secret, show backup reports
// the cipher, the files on the repository PVC are not plain text, pgbackrest info with a wrong
// passphrase fails, and a backup restores with its rows.
func TestEncryptedRepository(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := &restoreCluster{env: env, ns: ns, name: "hippo"}
	if res := env.PGO(t, "create", "cluster", c.name, "-n", ns, "--pgbackrest-repo-cipher=aes-256-cbc", "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	ctx := context.Background()
	secret, err := env.Client.CoreV1().Secrets(ns).Get(ctx, "hippo-backrest-repo-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pass := string(secret.Data["cipher-pass"])
	if len(pass) < 32 {
		t.Fatalf("the repository Secret has no passphrase of at least 32 characters (%d)", len(pass))
	}
	cms, err := env.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		for k, v := range cm.Data {
			if strings.Contains(v, pass) {
				t.Errorf("ConfigMap %s key %s holds the passphrase", cm.Name, k)
			}
		}
	}

	c.sql(t, "CREATE TABLE t (v text); INSERT INTO t VALUES ('in-backup')")
	c.backup(t)
	res := env.PGO(t, "show", "backup", c.name, "-n", ns, "-o", "json")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"cipher": "aes-256-cbc"`) {
		t.Errorf("show backup does not report the cipher:\n%s", res)
	}

	pod := repoHostPod(t, env, ns, c.name)
	run := func(command ...string) (string, string, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return kube.ExecCapture(ctx, env.Config, env.Client, ns, pod.Name, "pgbackrest", command)
	}
	// backup.info is encrypted: not the ini text pgBackRest writes without a cipher.
	head, _, err := run("head", "-c", "64", "/backrestrepo/hippo-backrest-shared-repo/backup/db/backup.info")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(head, "[backrest]") || strings.Contains(head, "backrest-format") {
		t.Errorf("backup.info is plain text: %q", head)
	}
	// pgbackrest info exits 0 on most errors: its status says whether it could read.
	out, _, err := run("env", "PGBACKREST_REPO1_CIPHER_PASS=not-the-passphrase", "pgbackrest", "--stanza=db", "--output=json", "info")
	if err == nil {
		stanzas, perr := repo.ParseInfo([]byte(out))
		if st, ok := repo.Find(stanzas, repo.StanzaName); perr == nil && ok && st.Err() == nil {
			t.Errorf("pgbackrest info with a wrong passphrase reads the repository: %s", out)
		}
	}
	t.Logf("pgbackrest info with a wrong passphrase: %v %s", err, out)

	c.sql(t, "INSERT INTO t VALUES ('after-backup')")
	c.switchAndArchive(t)
	c.restore(t, "--backup-opts=--type=immediate")
	if got, want := c.rows(t, "t"), []string{"in-backup"}; !slices.Equal(got, want) {
		t.Errorf("after restoring the encrypted backup the rows are %q, want %q", got, want)
	}
}
