package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// objectStores is what the GCS and Azure tests create clusters with: the
// run's emulators, a bucket and a container of the test's own, and in the
// namespace the Secrets gcs-key (gcs-key.json, the emulator's service key,
// and ca.crt) and azure-key (azure-key, the account's shared key, and
// ca.crt).
type objectStores struct {
	env               *framework.Env
	ns                string
	gcs               *framework.GCSServer
	azure             *framework.AzureServer
	bucket, container string
}

func objectStoreSetup(t *testing.T, gcs, azure bool) *objectStores {
	t.Helper()
	s := &objectStores{env: framework.Setup(t)}
	s.ns = s.env.Namespace(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "kpgo-" + hex.EncodeToString(b)
	if gcs {
		s.gcs, s.bucket = s.env.GCS(t), name
		s.gcs.CreateBucket(t, name)
		s.gcs.Secret(t, s.env, s.ns, "gcs-key", map[string][]byte{"gcs-key.json": s.gcs.ServiceKey})
		s.gcs.Secret(t, s.env, s.ns, "gcs-token", map[string][]byte{"gcs-token": []byte(s.gcs.Token)})
	}
	if azure {
		s.azure, s.container = s.env.Azure(t), name
		s.azure.CreateContainer(t, name)
		s.azure.Secret(t, s.env, s.ns, "azure-key", map[string][]byte{"azure-key": []byte(s.azure.Key)})
		s.azure.Secret(t, s.env, s.ns, "azure-sas", map[string][]byte{"azure-key": []byte(s.azure.AccountSAS())})
	}
	return s
}

// flags are the create cluster flags of storage type storageType on the
// test's bucket and container. fake-gcs-server gives no upload id for a
// resumable upload (docs/object-stores.md): every file goes in one
// request, below a chunk size larger than a WAL segment.
func (s *objectStores) flags(storageType string) []string {
	args := []string{"--pgbackrest-storage-type=" + storageType}
	if strings.Contains(storageType, "gcs") {
		args = append(args, "--pgbackrest-gcs-bucket="+s.bucket, "--pgbackrest-gcs-endpoint="+s.gcs.Endpoint,
			"--pgbackrest-gcs-key-secret=gcs-key", "--pgbackrest-gcs-ca-secret=gcs-key", "--pgbackrest-gcs-upload-chunk-size=32Mi")
	}
	if strings.Contains(storageType, "azure") {
		args = append(args, "--pgbackrest-azure-account="+s.azure.Account, "--pgbackrest-azure-container="+s.container,
			"--pgbackrest-azure-endpoint="+s.azure.Endpoint, "--pgbackrest-azure-uri-style=path",
			"--pgbackrest-azure-key-secret=azure-key", "--pgbackrest-azure-ca-secret=azure-key")
	}
	return args
}

// create creates cluster name with storageType and waits for it.
func (s *objectStores) create(t *testing.T, name, storageType string, extra ...string) *restoreCluster {
	t.Helper()
	c := &restoreCluster{env: s.env, ns: s.ns, name: name}
	args := append([]string{"create", "cluster", name, "-n", s.ns, "--wait", "--timeout=8m"}, s.flags(storageType)...)
	start := time.Now()
	if res := s.env.PGO(t, append(args, extra...)...); res.ExitCode != 0 {
		t.Fatalf("create cluster %s (%s %v) failed:\n%s", name, storageType, extra, res)
	}
	t.Logf("create cluster %s (%s %v) took %s", name, storageType, extra, time.Since(start).Round(time.Second))
	return c
}

// objects lists what the bucket or the container holds under prefix.
func (s *objectStores) objects(t *testing.T, prefix string) []string {
	if s.gcs != nil {
		return s.gcs.Objects(t, s.bucket, prefix)
	}
	return s.azure.Objects(t, s.container, prefix)
}

// objectStoreLifecycle is the scenario on one storage type: create,
// write, a full backup (to each repository in backupTo, or the default
// one), write, note T, write, a point-in-time restore in place to T (from
// restoreFrom when given), checked by the whole table's count and md5;
// then delete with --keep-backups, and create cluster --restore-from of it
// into a new cluster (with restoreOpts), checked the same way.
func (s *objectStores) lifecycle(t *testing.T, old *restoreCluster, storageType string, backupTo []string, restoreFrom, restoreOpts string) {
	t.Helper()
	env, ns := s.env, s.ns
	old.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
	if len(backupTo) == 0 {
		old.backup(t)
	}
	for _, st := range backupTo {
		if res := env.PGO(t, "backup", old.name, "-n", ns, "--type=full", "--pgbackrest-storage-type="+st, "--wait"); res.ExitCode != 0 {
			t.Fatalf("backup to %s failed:\n%s", st, res)
		}
	}
	old.sql(t, "UPDATE chain SET v = md5(v) WHERE id % 4 = 0; INSERT INTO chain SELECT g, 'second' FROM generate_series(5001, 5500) g")
	old.switchAndArchive(t)
	target, atTarget := old.targetBetweenSum(t, "UPDATE chain SET v = 'before-target' WHERE id % 5 = 0",
		"DELETE FROM chain WHERE id % 7 = 0; UPDATE chain SET v = 'after-target' WHERE id % 3 = 0", chainChecksumSQL)
	t.Logf("%s: at T=%s the table is %s; after T %s", old.name, target, atTarget, old.one(t, chainChecksumSQL))

	args := []string{"--pitr-target=" + target}
	if restoreFrom != "" {
		args = append(args, "--pgbackrest-storage-type="+restoreFrom)
	}
	_, took := old.restore(t, args...)
	if got := old.one(t, chainChecksumSQL); got != atTarget {
		t.Fatalf("after the point-in-time restore (%v) the table is %s, want %s (its state at T)", args, got, atTarget)
	}
	t.Logf("PITR %v of %s: %s, pgBackRest restore %s", args, old.name, atTarget, took)

	// Written after the restore, on its new timeline, and archived.
	old.sql(t, "INSERT INTO chain SELECT g, 'after-restore' FROM generate_series(6001, 6100) g")
	old.switchAndArchive(t)
	final := old.one(t, chainChecksumSQL)
	if res := env.PGO(t, "verify", old.name, "-n", ns); res.ExitCode != 0 {
		t.Errorf("verify %s:\n%s", old.name, res)
	}
	if res := env.PGO(t, "delete", "cluster", old.name, "-n", ns, "--keep-backups", "--yes", "--wait"); res.ExitCode != 0 {
		t.Fatalf("delete cluster --keep-backups:\n%s", res)
	}
	extra := []string{"--restore-from=" + old.name}
	if restoreOpts != "" {
		extra = append(extra, "--restore-opts="+restoreOpts)
	}
	restored := s.create(t, old.name+"-new", storageType, extra...)
	if got := restored.one(t, chainChecksumSQL); got != final {
		t.Errorf("%s restored from the deleted %s (%v): the table is %s, want %s", restored.name, old.name, extra, got, final)
	} else {
		t.Logf("%s restored from the deleted %s (%v): %s", restored.name, old.name, extra, got)
	}
}

// ownBackupsOnly checks that each cluster of a shared bucket or container
// lists only its own one full backup, and that its repository is under its
// own path.
func (s *objectStores) ownBackupsOnly(t *testing.T, clusters ...*restoreCluster) {
	t.Helper()
	for _, c := range clusters {
		res := s.env.PGO(t, "show", "backup", c.name, "-n", s.ns, "-o", "json")
		if res.ExitCode != 0 {
			t.Fatalf("show backup %s:\n%s", c.name, res)
		}
		if n := strings.Count(res.Stdout, `"label": "`); n != 1 {
			t.Errorf("show backup %s lists %d backups, want 1 (its own):\n%s", c.name, n, res.Stdout)
		}
		prefix := "backrestrepo/" + c.name + "-backrest-shared-repo/"
		objects := s.objects(t, prefix)
		for _, want := range []string{"backup/db/backup.info", "archive/db/archive.info"} {
			if !slices.Contains(objects, prefix+want) {
				t.Errorf("the store lacks %s%s; it has %d objects: %v", prefix, want, len(objects), first(objects, 20))
			}
		}
	}
}

// A cluster whose only repository is in GCS (fake-gcs-server over TLS, a
// service key whose tokens the test's endpoint issues), and a second one in
// the same bucket with a bearer token: each sees only its own backups;
// then the scenario with checksums.
func TestGCSOnly(t *testing.T) {
	t.Parallel()
	s := objectStoreSetup(t, true, false)
	hippo := s.create(t, "ghippo", "gcs")
	zebra := s.create(t, "gzebra", "gcs", "--pgbackrest-gcs-key-type=token", "--pgbackrest-gcs-key-secret=gcs-token")
	if conf := hippo.podFile(t, "/etc/pgbackrest/pgbackrest.conf"); !strings.Contains(conf, "repo1-gcs-key=/etc/pgbackrest/gcs/key.json") ||
		!strings.Contains(conf, "archive-async=y") {
		t.Errorf("the database's pgbackrest.conf lacks the mounted service key or asynchronous archiving:\n%s", conf)
	}
	zebra.backup(t)
	hippo.backup(t)
	s.ownBackupsOnly(t, hippo, zebra)
	if s.gcs.TokensIssued() == 0 {
		t.Errorf("the token endpoint issued no token: pgBackRest did not use the service key")
	}
	s.lifecycle(t, hippo, "gcs", nil, "", "")
}

// The same on Azure Blob (Azurite over TLS, the account's shared key; the
// second cluster with an account SAS token).
func TestAzureOnly(t *testing.T) {
	t.Parallel()
	s := objectStoreSetup(t, false, true)
	hippo := s.create(t, "ahippo", "azure")
	zebra := s.create(t, "azebra", "azure", "--pgbackrest-azure-key-type=sas", "--pgbackrest-azure-key-secret=azure-sas")
	zebra.backup(t)
	hippo.backup(t)
	s.ownBackupsOnly(t, hippo, zebra)
	s.lifecycle(t, hippo, "azure", nil, "", "")
}

// Three repositories, local,gcs,azure: a full backup in each; the
// point-in-time restore reads GCS (repo2), and the new cluster is restored
// from Azure (repo3) after the old one is deleted with --keep-backups.
func TestLocalGCSAzure(t *testing.T) {
	t.Parallel()
	s := objectStoreSetup(t, true, true)
	c := s.create(t, "lga", "local,gcs,azure")
	s.lifecycle(t, c, "local,gcs,azure", []string{"local", "gcs", "azure"}, "gcs", "--repo=3")
}

// Bad GCS and Azure settings are refused before anything is created, each
// with what is wrong; an endpoint whose certificate the image does not
// trust stops create --wait with pgBackRest's reason and how to remove the
// cluster.
func TestObjectStoreRefusals(t *testing.T) {
	t.Parallel()
	s := objectStoreSetup(t, true, true)
	env, ns := s.env, s.ns
	s.gcs.Secret(t, env, ns, "gcs-notjson", map[string][]byte{"gcs-key.json": []byte("private_key: not json at all")})
	s.gcs.Secret(t, env, ns, "gcs-nokey", map[string][]byte{"key.json": s.gcs.ServiceKey})
	withSecret := func(flags []string, flag, secret string) []string {
		out := slices.Clone(flags)
		for i, f := range out {
			if strings.HasPrefix(f, flag+"=") {
				out[i] = flag + "=" + secret
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown type", []string{"--pgbackrest-storage-type=ftp"}, `storage type "ftp" is not known`},
		{"s3 twice", []string{"--pgbackrest-storage-type=s3,s3"}, "storage type s3 is given twice"},
		{"five repositories", []string{"--pgbackrest-storage-type=local,s3,gcs,azure,gcs"}, "has 5 repositories: a cluster has at most 4"},
		{"no bucket", []string{"--pgbackrest-storage-type=gcs", "--pgbackrest-gcs-key-secret=gcs-key"}, "storage type gcs needs a bucket"},
		{"no container nor account", []string{"--pgbackrest-storage-type=azure", "--pgbackrest-azure-key-secret=azure-key"}, "storage type azure needs an account"},
		{"Secret without the key", withSecret(s.flags("gcs"), "--pgbackrest-gcs-key-secret", "gcs-nokey"), "Secret " + ns + "/gcs-nokey has no key gcs-key.json"},
		{"key not JSON", withSecret(s.flags("local,gcs"), "--pgbackrest-gcs-key-secret", "gcs-notjson"), "the key gcs-key.json of Secret " + ns + "/gcs-notjson is not JSON"},
		{"Azure Secret missing", withSecret(s.flags("azure"), "--pgbackrest-azure-key-secret", "nosuch"), "Secret " + ns + "/nosuch does not exist"},
	} {
		res := env.PGO(t, append([]string{"create", "cluster", "bad", "-n", ns}, tc.args...)...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
			t.Errorf("%s: exit %d, want a refusal saying %q:\n%s", tc.name, res.ExitCode, tc.want, res)
		}
	}
	if res := env.PGO(t, "show", "cluster", "bad", "-n", ns); res.ExitCode == 0 {
		t.Errorf("a refused create left cluster bad:\n%s", res)
	}

	// The image's CAs do not trust the emulator's test CA.
	start := time.Now()
	res := env.PGO(t, append([]string{"create", "cluster", "untrusted", "-n", ns, "--wait", "--timeout=5m"},
		withSecret(s.flags("azure"), "--pgbackrest-azure-ca-secret", "")...)...)
	t.Logf("create with an untrusted certificate: exit %d after %s:\n%s", res.ExitCode, time.Since(start).Round(time.Second), res.Stderr)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "certificate") || !strings.Contains(res.Stderr, "kubectl pgo delete cluster untrusted") {
		t.Errorf("create --wait with an untrusted certificate: want a failure naming the certificate and how to remove the cluster:\n%s", res)
	}
}

// The other flows on GCS and Azure: a cluster gcs,azure (repo1 GCS, repo2
// Azure, no repository host), encrypted: full, diff and incr backups
// chosen by --repo and --pgbackrest-storage-type, show backup, delete
// backup, a schedule's run and retention, restore-drill, doctor, a restore
// in place from Azure checked by checksum, and delete cluster warning that
// the generated passphrase of backups left in both stores would be lost.
func TestObjectStoreFlows(t *testing.T) {
	t.Parallel()
	s := objectStoreSetup(t, true, true)
	env, ns := s.env, s.ns
	c := s.create(t, "flows", "gcs,azure", "--pgbackrest-repo-cipher=aes-256-cbc")
	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 3000) g")
	backup := func(args ...string) {
		t.Helper()
		if res := env.PGO(t, append([]string{"backup", c.name, "-n", ns, "--wait"}, args...)...); res.ExitCode != 0 {
			t.Fatalf("backup %v:\n%s", args, res)
		}
	}
	// A repository that could not be read (pgBackRest's status 99: in one run the cluster's DNS
	// once failed to resolve the emulator's name) is read again, twice at most, and named.
	backups := func() []repo.BackupSummary {
		t.Helper()
		for attempt := 1; ; attempt++ {
			res := env.PGO(t, "show", "backup", c.name, "-n", ns, "-o", "json")
			var got cmd.ClusterBackups
			if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil || res.ExitCode != 0 || got.Repository == nil {
				t.Fatalf("show backup -o json (%v):\n%s", err, res)
			}
			unread := slices.ContainsFunc(got.Repository.Repos, func(r repo.RepoSummary) bool { return r.Code == 99 })
			if !unread {
				return got.Repository.Backups
			}
			if attempt == 3 {
				t.Fatalf("show backup: a repository could not be read:\n%s", res.Stdout)
			}
			t.Logf("show backup: a repository could not be read, again in 10 s: %+v", got.Repository.Repos)
			time.Sleep(10 * time.Second)
		}
	}
	kinds := func(repoIndex int) string {
		var out []string
		for _, b := range backups() {
			if b.Repo == repoIndex {
				out = append(out, b.Type)
			}
		}
		return strings.Join(out, ",")
	}
	backup("--type=full")
	c.sql(t, "UPDATE chain SET v = 'diff' WHERE id % 10 = 0")
	backup("--type=diff")
	backup("--type=full", "--pgbackrest-storage-type=azure")
	c.sql(t, "UPDATE chain SET v = 'incr' WHERE id % 10 = 1")
	backup("--type=incr", "--repo=2")
	if g, a := kinds(1), kinds(2); g != "full,diff" || a != "full,incr" {
		t.Errorf("backups: repo1 (gcs) %q, repo2 (azure) %q; want full,diff and full,incr", g, a)
	}

	// delete backup finds the incremental backup in repo2.
	var incr string
	for _, b := range backups() {
		if b.Type == "incr" {
			incr = b.Label
		}
	}
	if res := env.PGO(t, "delete", "backup", c.name, "-n", ns, "--target="+incr, "--yes"); res.ExitCode != 0 {
		t.Errorf("delete backup %s:\n%s", incr, res)
	} else if a := kinds(2); a != "full" {
		t.Errorf("after delete backup %s, repo2 has %q, want full", incr, a)
	}

	// A schedule's run takes a full backup into repo1; one more full backup there, and retention
	// (2 full backups) expires the first with its differential.
	if res := env.PGO(t, "create", "schedule", c.name, "-n", ns, "--schedule=0 1 * * *", "--pgbackrest-backup-type=full"); res.ExitCode != 0 {
		t.Fatalf("create schedule:\n%s", res)
	}
	if job := scRun(t, env, ns, c.name+"-pgbackrest-full", "now"); !scWaitJob(t, env, ns, job, 5*time.Minute) {
		t.Errorf("the schedule's Job %s failed", job)
	}
	backup("--type=full", "--repo=1")
	if g := kinds(1); g != "full,full" {
		t.Errorf("after three full backups with retention 2, repo1 (gcs) has %q, want full,full", g)
	}

	res := env.PGO(t, "restore-drill", c.name, "-n", ns, "-o", "json")
	var drill cmd.DrillReport
	if err := json.Unmarshal([]byte(res.Stdout), &drill); err != nil || res.ExitCode != 0 || !drill.Passed || !drill.Removed {
		t.Errorf("restore-drill (%v):\n%s", err, res)
	}
	if r, res := doctorReport(t, env, ns, c.name); !r.Healthy {
		// Once more, for a repository that could not be read for a moment (see backups).
		t.Logf("doctor of a healthy gcs,azure cluster, first:\n%s", res)
		time.Sleep(10 * time.Second)
		if r, res := doctorReport(t, env, ns, c.name); !r.Healthy {
			t.Errorf("doctor of a healthy gcs,azure cluster:\n%s", res)
		}
	}

	c.sql(t, "UPDATE chain SET v = 'latest' WHERE id % 10 = 2")
	c.switchAndArchive(t)
	want := c.one(t, chainChecksumSQL)
	c.restore(t, "--pgbackrest-storage-type=azure")
	if got := c.one(t, chainChecksumSQL); got != want {
		t.Errorf("after the restore from repo2 (azure) to the latest point the table is %s, want %s", got, want)
	} else {
		t.Logf("restore from azure to the latest point: %s", got)
	}

	res = env.PGO(t, "delete", "cluster", c.name, "-n", ns, "--yes")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr+res.Stdout, "GCS bucket "+s.bucket) || !strings.Contains(res.Stderr+res.Stdout, "Azure container "+s.container) {
		t.Errorf("delete cluster of an encrypted gcs,azure cluster: want a refusal naming both stores:\n%s", res)
	}
}

// A standby of a cluster whose only repository is Azure, with a GCS
// repository of its own: it follows the source's writes, and is promoted
// with every row archived; and once the source is deleted for good (its
// settings gone), a new cluster in the same container restores it from
// there. Each by checksum.
func TestObjectStoreStandbyAndGone(t *testing.T) {
	t.Parallel()
	s := objectStoreSetup(t, true, true)
	env, ns := s.env, s.ns
	src := s.create(t, "ssrc", "azure")
	src.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 4000) g")
	src.backup(t)
	dr := s.create(t, "sdr", "gcs", "--restore-from=ssrc", "--standby")

	src.sql(t, "DELETE FROM chain WHERE id % 11 = 0; INSERT INTO chain SELECT g, 'followed' FROM generate_series(4001, 4500) g")
	src.switchAndArchive(t)
	waitChecksum(t, dr, src.one(t, chainChecksumSQL), 3*time.Minute)

	src.sql(t, "UPDATE chain SET v = 'last' WHERE id % 7 = 0")
	src.switchAndArchive(t)
	want := src.one(t, chainChecksumSQL)
	if res := env.PGO(t, "delete", "cluster", src.name, "-n", ns, "--yes", "--wait"); res.ExitCode != 0 {
		t.Fatalf("delete cluster %s:\n%s", src.name, res)
	}
	if res := env.PGOWithin(t, 10*time.Minute, "promote", dr.name, "-n", ns, "--yes", "--wait"); res.ExitCode != 0 {
		t.Fatalf("promote %s:\n%s", dr.name, res)
	}
	if got := dr.one(t, chainChecksumSQL); got != want {
		t.Errorf("the promoted standby has %s, want %s (every row the source archived)", got, want)
	} else {
		t.Logf("the promoted standby (GCS) of the Azure source: %s", got)
	}

	gone := s.create(t, "sgone", "azure", "--restore-from=ssrc")
	if got := gone.one(t, chainChecksumSQL); got != want {
		t.Errorf("%s restored from the container of the deleted %s: %s, want %s", gone.name, src.name, got, want)
	} else {
		t.Logf("%s restored from the container of the deleted %s: %s", gone.name, src.name, got)
	}
}
