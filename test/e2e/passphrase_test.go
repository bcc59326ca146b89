package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// An encrypted S3-only cluster whose passphrase is the user's own Secret outlives its cluster:
// a restore drill checks its backup with the whole table's checksum; the cluster is deleted for
// good (the Secret stays); a restore from the bucket without the passphrase, or with a wrong one,
// is refused before anything is made; with it, the bucket restores into a new cluster twice
// (the latest point, and a point in time), each with the exact checksum. A standby made while
// the cluster ran follows it with the same passphrase, and is promoted once it is gone.
func TestPassphraseOutlivesCluster(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	pass := newPassphrase(t)
	putPassphrase(t, env, ns, "own-passphrase", pass)
	putPassphrase(t, env, ns, "short-passphrase", "tooshort")
	putPassphrase(t, env, ns, "wrong-passphrase", newPassphrase(t))
	create := func(name string, extra ...string) framework.Result {
		args := append([]string{"create", "cluster", name, "-n", ns, "--pgbackrest-storage-type=s3", "--wait", "--timeout=10m"}, s3.Flags(bucket, "s3-keys", "s3-ca")...)
		return env.PGOWithin(t, 12*time.Minute, append(args, extra...)...)
	}

	// The passphrase Secret is checked before anything is applied.
	for _, bad := range []struct{ secret, want string }{
		{"absent-passphrase", "Secret " + ns + "/absent-passphrase does not exist"},
		{"short-passphrase", "has 8 characters: use at least 20"},
	} {
		res := create("refused", "--pgbackrest-repo-cipher-secret="+bad.secret)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, bad.want) || !strings.Contains(res.Stderr, "nothing was changed") {
			t.Errorf("--pgbackrest-repo-cipher-secret=%s: want a refusal with %q:\n%s", bad.secret, bad.want, res)
		}
		assertNoCluster(t, env, ns, "refused")
	}

	src := &restoreCluster{env: env, ns: ns, name: "own"}
	if res := create(src.name, "--pgbackrest-repo-cipher-secret=own-passphrase"); res.ExitCode != 0 {
		t.Fatalf("create cluster own --pgbackrest-repo-cipher-secret:\n%s", res)
	}
	repoSecret, err := env.Client.CoreV1().Secrets(ns).Get(context.Background(), cluster.RepoConfigSecretName(src.name), metav1.GetOptions{})
	if err != nil || len(repoSecret.Data[cluster.KeyCipherPass]) > 0 {
		t.Errorf("the repository Secret of own holds a passphrase of its own (err %v)", err)
	}
	src.sql(t, `CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 3000) g`)
	src.backup(t)
	backedUp := src.one(t, chainChecksumSQL)
	src.sql(t, `UPDATE chain SET v = 'before the target' WHERE id % 5 = 0; DELETE FROM chain WHERE id % 17 = 0`)
	mid := src.one(t, chainChecksumSQL)
	target := src.one(t, "SELECT now()")
	time.Sleep(1100 * time.Millisecond)
	src.sql(t, `UPDATE chain SET v = 'after the target' WHERE id % 3 = 0; INSERT INTO chain SELECT g, 'late' FROM generate_series(3001, 3400) g`)
	src.switchAndArchive(t)
	latest := src.one(t, chainChecksumSQL)
	t.Logf("own: backup %s, at %s %s, latest %s", backedUp, target, mid, latest)

	res := env.PGO(t, "show", "cluster", src.name, "-n", ns)
	if want := "Repository passphrase: in your Secret " + ns + "/own-passphrase, key cipher-pass, which delete cluster never deletes"; !strings.Contains(res.Stdout, want) {
		t.Errorf("show cluster lacks %q:\n%s", want, res)
	}
	res = env.PGO(t, "doctor", src.name, "-n", ns, "--no-check", "-o", "json")
	if !strings.Contains(res.Stdout, `"name": "passphrase"`) || !strings.Contains(res.Stdout, "own-passphrase") {
		t.Errorf("doctor does not say where the passphrase lives:\n%s", res)
	}
	// The drill reads the repository with the user's passphrase.
	res = env.PGOWithin(t, 12*time.Minute, "restore-drill", src.name, "-n", ns, "--check-sql="+chainChecksumSQL, "-o", "json", "--timeout=10m")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, `"passed": true`) || !strings.Contains(res.Stdout, latest) {
		t.Errorf("restore-drill own: want the checksum %s of the latest point:\n%s", latest, res)
	}

	// A standby reads own's repository with the passphrase of own's Secret, named by its settings.
	dr := &restoreCluster{env: env, ns: ns, name: "own-dr"}
	if res := create(dr.name, "--restore-from=own", "--standby"); res.ExitCode != 0 {
		t.Fatalf("create cluster own-dr --standby:\n%s", res)
	}
	waitChecksum(t, dr, latest, 2*time.Minute)

	// Deleted for good: no --keep-backups, nothing to refuse, the user's Secret stays.
	if res := env.PGO(t, "delete", "cluster", src.name, "-n", ns, "--yes"); res.ExitCode != 0 {
		t.Fatalf("delete cluster own:\n%s", res)
	}
	assertNoCluster(t, env, ns, src.name)
	if s, err := env.Client.CoreV1().Secrets(ns).Get(context.Background(), "own-passphrase", metav1.GetOptions{}); err != nil || string(s.Data[cluster.KeyCipherPass]) != pass {
		t.Fatalf("the passphrase Secret did not outlive the cluster (err %v)", err)
	}

	// From the bucket: refused without the passphrase and with a wrong one, nothing made.
	for _, bad := range []struct{ flag, want string }{
		{"", "is encrypted: give its passphrase with --restore-from-cipher-secret"},
		{"--restore-from-cipher-secret=wrong-passphrase", "does not decrypt the repository of cluster \"own\""},
	} {
		args := []string{"--restore-from=own"}
		if bad.flag != "" {
			args = append(args, bad.flag)
		}
		res := create("refused", args...)
		t.Logf("restore-from %v refused (exit %d): %s", args, res.ExitCode, strings.TrimSpace(res.Stderr))
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, bad.want) || !strings.Contains(res.Stderr, "nothing was created") {
			t.Errorf("restore-from %v: want a refusal with %q:\n%s", args, bad.want, res)
		}
		assertNoCluster(t, env, ns, "refused")
	}
	for _, r := range []struct {
		name, want string
		extra      []string
	}{
		{"back", latest, nil},
		{"back-pitr", mid, []string{"--pitr-target=" + target}},
	} {
		args := append([]string{"--restore-from=own", "--restore-from-cipher-secret=own-passphrase", "--pgbackrest-repo-cipher-secret=own-passphrase"}, r.extra...)
		if res := create(r.name, args...); res.ExitCode != 0 {
			t.Fatalf("create cluster %s %v:\n%s", r.name, args, res)
		}
		c := &restoreCluster{env: env, ns: ns, name: r.name}
		if got := c.one(t, chainChecksumSQL); got != r.want {
			t.Errorf("%s: checksum %s, want %s", r.name, got, r.want)
		}
		// Its own repository takes the new timeline's WAL, encrypted with the same passphrase.
		c.switchAndArchive(t)
	}
	if res := env.PGOWithin(t, 10*time.Minute, "promote", dr.name, "-n", ns, "--yes", "--wait"); res.ExitCode != 0 {
		t.Fatalf("promote own-dr:\n%s", res)
	}
	if got := dr.one(t, chainChecksumSQL); got != latest {
		t.Errorf("own-dr after the promotion: checksum %s, want %s", got, latest)
	}
}

// The guarded delete: an S3-only cluster with a generated passphrase is not deleted while the
// passphrase would go with it (refused with and without --yes, nothing changed, the Secret and
// the command that saves it named); the saved copy lets the delete go ahead and restores the
// backups into a new cluster with the exact checksum; --discard-passphrase --yes deletes a
// cluster whose passphrase has no copy.
func TestGuardedDelete(t *testing.T) {
	t.Parallel()
	env, s3, ns, bucket := s3Setup(t)
	gen := &restoreCluster{env: env, ns: ns, name: "gen"}
	create := func(name string, extra ...string) framework.Result {
		args := append([]string{"create", "cluster", name, "-n", ns, "--pgbackrest-storage-type=s3", "--pgbackrest-repo-cipher=aes-256-cbc", "--wait", "--timeout=10m"},
			s3.Flags(bucket, "s3-keys", "s3-ca")...)
		return env.PGOWithin(t, 12*time.Minute, append(args, extra...)...)
	}
	if res := create(gen.name); res.ExitCode != 0 {
		t.Fatalf("create cluster gen:\n%s", res)
	}
	gen.sql(t, `CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 2500) g`)
	gen.backup(t)
	gen.sql(t, `UPDATE chain SET v = 'after the backup' WHERE id % 4 = 0`)
	gen.switchAndArchive(t)

	save := cluster.SaveCipherPassCommand(gen.name, ns)
	res := env.PGO(t, "show", "cluster", gen.name, "-n", ns)
	if !strings.Contains(res.Stdout, "generated, only in Secret "+ns+"/gen-backrest-repo-config") || !strings.Contains(res.Stderr, save) {
		t.Errorf("show cluster does not warn that the passphrase goes with the cluster:\n%s", res)
	}
	snap := newSnapshotter(t, env, ns)
	for _, args := range [][]string{{"--yes"}, {"--discard-passphrase"}, {"--no-prompt"}} {
		gen.refusedUnchanged(t, snap, append([]string{"delete", "cluster", gen.name, "-n", ns}, args...),
			`refusing to delete cluster "gen"`, "Secret "+ns+"/gen-backrest-repo-config (key cipher-pass)", save, "--discard-passphrase --yes", "Nothing was deleted")
	}

	// The command the refusal printed saves a copy; then the delete goes ahead.
	if res := env.Run(t, "sh", "-c", save); res.ExitCode != 0 {
		t.Fatalf("the command that saves the passphrase:\n%s", res)
	}
	// The repository Secret loses its passphrase (say, deleted to get new certificates, as doctor
	// advises after saving it): create cluster takes it back from the copy, never makes a new one.
	ctx := context.Background()
	saved, err := env.Client.CoreV1().Secrets(ns).Get(ctx, "gen-cipher-pass", metav1.GetOptions{})
	if err != nil || len(saved.Data[cluster.KeyCipherPass]) == 0 {
		t.Fatalf("the saved copy: %v", err)
	}
	if res := env.Run(t, "kubectl", "-n", ns, "patch", "secret", "gen-backrest-repo-config", "--type=json", `-p=[{"op":"remove","path":"/data/cipher-pass"}]`); res.ExitCode != 0 {
		t.Fatalf("removing the passphrase from the repository Secret:\n%s", res)
	}
	if res := create(gen.name); res.ExitCode != 0 {
		t.Fatalf("create cluster gen again, its passphrase only in the copy:\n%s", res)
	}
	if s, err := env.Client.CoreV1().Secrets(ns).Get(ctx, "gen-backrest-repo-config", metav1.GetOptions{}); err != nil ||
		string(s.Data[cluster.KeyCipherPass]) != string(saved.Data[cluster.KeyCipherPass]) {
		t.Fatalf("the repository Secret did not get the saved passphrase back (err %v)", err)
	}
	gen.sql(t, `INSERT INTO chain SELECT g, 'after the passphrase came back' FROM generate_series(2501, 2600) g`)
	gen.switchAndArchive(t)
	want := gen.one(t, chainChecksumSQL)

	res = env.PGO(t, "show", "cluster", gen.name, "-n", ns)
	if !strings.Contains(res.Stdout, "copies in "+ns+"/gen-cipher-pass") || strings.Contains(res.Stderr, "Warning: passphrase") {
		t.Errorf("show cluster does not find the copy:\n%s", res)
	}
	if res := env.PGO(t, "delete", "cluster", gen.name, "-n", ns, "--yes"); res.ExitCode != 0 {
		t.Fatalf("delete cluster gen with a saved passphrase:\n%s", res)
	}
	assertNoCluster(t, env, ns, gen.name)

	back := &restoreCluster{env: env, ns: ns, name: "gen-back"}
	if res := create(back.name, "--restore-from=gen", "--restore-from-cipher-secret=gen-cipher-pass"); res.ExitCode != 0 {
		t.Fatalf("create cluster gen-back --restore-from=gen with the saved passphrase:\n%s", res)
	}
	if got := back.one(t, chainChecksumSQL); got != want {
		t.Errorf("gen-back: checksum %s, want %s", got, want)
	}
	// gen-back's own generated passphrase has no copy: deleted only when told to discard it.
	if res := env.PGO(t, "delete", "cluster", back.name, "-n", ns, "--yes"); res.ExitCode == 0 {
		t.Fatalf("delete cluster gen-back without --discard-passphrase succeeded:\n%s", res)
	}
	res = env.PGO(t, "delete", "cluster", back.name, "-n", ns, "--discard-passphrase", "--yes")
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "Warning: --discard-passphrase") {
		t.Fatalf("delete cluster gen-back --discard-passphrase --yes:\n%s", res)
	}
	assertNoCluster(t, env, ns, back.name)
	if _, err := env.Client.CoreV1().Secrets(ns).Get(ctx, "gen-cipher-pass", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Errorf("the saved copy of gen's passphrase was deleted")
	}
}

// newPassphrase is 48 random hexadecimal characters.
func newPassphrase(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// putPassphrase creates a Secret of the user's with the passphrase under cipher-pass.
func putPassphrase(t *testing.T, env *framework.Env, ns, name, pass string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string][]byte{cluster.KeyCipherPass: []byte(pass)}}
	if _, err := env.Client.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
