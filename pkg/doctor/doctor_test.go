package doctor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/exec"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/internal/testpki"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// healthyFacts are the facts of a healthy cluster, parsed from the same
// captures as TestDoctorHealthy.
func healthyFacts(t *testing.T) Facts {
	t.Helper()
	spec := cluster.Spec{Name: "hippo", Namespace: "demo"}
	spec.Default()
	pg, rc := fakecluster.Secrets(t, "hippo", "demo", fakecluster.HealthyNow.Add(-24*time.Hour))
	stanzas, err := repo.ParseInfo([]byte(fakecluster.RepoTestdata(t, "info-one-full.json")))
	if err != nil {
		t.Fatal(err)
	}
	a, err := repo.ParseArchiverStatus(fakecluster.RepoTestdata(t, "archiver-ok.json"))
	if err != nil {
		t.Fatal(err)
	}
	check := repo.ParseCheck(fakecluster.RepoTestdata(t, "check-ok.txt"), 0)
	running := func(name, container string) *corev1.Pod { return fakecluster.RunningPod("demo", name, nil, container) }
	return Facts{
		spec: spec, now: fakecluster.HealthyNow,
		postgresSecret: pg, repoSecret: rc,
		dbPod: running("hippo-0", "database"), repoPod: running("hippo-backrest-shared-repo-x", "pgbackrest"),
		pingRepo: &execResult{}, pingDB: &execResult{}, postgresTLS: &execResult{out: "on|0"},
		stanza:   &stanzas[0],
		archiver: &a, check: &check,
		df: &execResult{out: fakecluster.DFHalf}, du: &execResult{out: "5242880 /backrestrepo/x"},
		loaded: []loadedFact{
			{where: "the files of hippo-0", secret: "repo", key: cluster.KeyDBCert, value: string(rc.Data[cluster.KeyDBCert])},
			{where: "PostgreSQL in hippo-0", secret: "repo", key: cluster.KeyDBCert, served: true, value: string(rc.Data[cluster.KeyDBCert])},
			{where: "the pgBackRest server in hippo-backrest-shared-repo-x", secret: "repo", key: cluster.KeyRepoCert, served: true, value: string(rc.Data[cluster.KeyRepoCert])},
			{where: "the files of hippo-0", secret: "postgres", key: cluster.KeyPassword, digest: true, value: sha256Hex(pg.Data[cluster.KeyPassword])},
		},
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestDiagnose(t *testing.T) {
	exitErr := func(code int) error { return &kube.ExecError{Code: code, Err: exec.CodeExitError{Code: code}} }
	at := func(d time.Duration) *time.Time { v := fakecluster.HealthyNow.Add(d); return &v }
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, f *Facts)
		maxAge time.Duration
		// want are the checks that do not pass, with a piece of their
		// detail; every other check must pass.
		want map[string]string
	}{
		{name: "healthy", change: func(*testing.T, *Facts) {}},
		{name: "clear text taken", change: func(_ *testing.T, f *Facts) { f.postgresTLS = &execResult{out: "on|2"} },
			want: map[string]string{"postgres TLS:warning": "clear text from the network (ssl on, 2 rules of pg_hba.conf without TLS)"}},
		{name: "TLS unknown", change: func(_ *testing.T, f *Facts) { f.postgresTLS = &execResult{out: "psql: error", err: exitErr(2)} },
			want: map[string]string{"postgres TLS:warning": "unknown: psql: error"}},
		{name: "secrets missing", change: func(_ *testing.T, f *Facts) { f.postgresSecret, f.repoSecret = nil, nil },
			want: map[string]string{"secrets:failed": "hippo-postgres-secret is missing; Secret hippo-backrest-repo-config is missing", "certificates:failed": "no Secret"}},
		{name: "a key missing", change: func(_ *testing.T, f *Facts) { delete(f.repoSecret.Data, cluster.KeyRepoKey) },
			want: map[string]string{"secrets:failed": "repo.key", "certificates:failed": "repo.key"}},
		{name: "certificates expire in 10 days", change: func(t *testing.T, f *Facts) {
			_, f.repoSecret = fakecluster.Secrets(t, "hippo", "demo", fakecluster.HealthyNow.Add(10*24*time.Hour-cluster.CertValidity))
			f.loaded = nil
		}, want: map[string]string{"certificates:warning": "(10 days left)"}},
		{name: "leaf certificates expire in 10 days, the CA later", change: func(t *testing.T, f *Facts) {
			pki, err := cluster.PKIFromSecret(f.repoSecret)
			if err != nil {
				t.Fatal(err)
			}
			if err := pki.ReissueLeaves("hippo", "demo", fakecluster.HealthyNow.Add(10*24*time.Hour-cluster.CertValidity)); err != nil {
				t.Fatal(err)
			}
			f.repoSecret.Data[cluster.KeyDBCert], f.repoSecret.Data[cluster.KeyDBKey] = pki.DBCert, pki.DBKey
			f.repoSecret.Data[cluster.KeyRepoCert], f.repoSecret.Data[cluster.KeyRepoKey] = pki.RepoCert, pki.RepoKey
			f.loaded = nil
		}, want: map[string]string{"certificates:warning": "(10 days left)", "certificates:fix": "kubectl pgo rotate certs hippo -n demo"}},
		{name: "a switch to a new CA that did not finish", change: func(t *testing.T, f *Facts) {
			ca, _, err := cluster.NewCA("hippo", fakecluster.HealthyNow)
			if err != nil {
				t.Fatal(err)
			}
			f.repoSecret.Data[cluster.KeyCACert] = append(append([]byte{}, f.repoSecret.Data[cluster.KeyCACert]...), ca...)
		}, want: map[string]string{"certificates:warning": "trusts 2 CAs: a switch to a new CA did not finish", "certificates:fix": "--new-ca"}},
		{name: "a CA of the user's PKI with its root", change: func(t *testing.T, f *Facts) {
			useOwnCA(t, f, 400*24*time.Hour)
		}},
		{name: "a CA of the user's PKI that expires in 20 days", change: func(t *testing.T, f *Facts) {
			useOwnCA(t, f, 20*24*time.Hour)
		}, want: map[string]string{"certificates:warning": "the first to expire is the CA certificate", "certificates:fix": "kubectl pgo rotate certs hippo -n demo --new-ca (with --ca-cert and --ca-key"}},
		{name: "a server not reloaded", change: func(t *testing.T, f *Facts) {
			_, other := fakecluster.Secrets(t, "hippo", "demo", fakecluster.HealthyNow)
			f.loaded[2].value = string(other.Data[cluster.KeyRepoCert])
		}, want: map[string]string{"loaded secrets:warning": "the pgBackRest server in hippo-backrest-shared-repo-x: certificate ",
			"loaded secrets:fix": "kubectl pgo rotate certs hippo -n demo --reload-only"}},
		{name: "a password file not synced", change: func(_ *testing.T, f *Facts) { f.loaded[3].value = sha256Hex([]byte("old")) },
			want: map[string]string{"loaded secrets:warning": "the files of hippo-0: password differs from Secret hippo-postgres-secret",
				"loaded secrets:fix": "restart the pod"}},
		{name: "loaded unknown", change: func(_ *testing.T, f *Facts) {
			for i := range f.loaded {
				f.loaded[i].err = errors.New("exec failed")
			}
		}, want: map[string]string{"loaded secrets:warning": "unknown: the files of hippo-0 (db.crt): exec failed"}},
		{name: "certificates expired", change: func(t *testing.T, f *Facts) {
			_, f.repoSecret = fakecluster.Secrets(t, "hippo", "demo", fakecluster.HealthyNow.Add(-cluster.CertValidity-time.Hour))
			f.loaded = nil
		}, want: map[string]string{"certificates:failed": "expired"}},
		{name: "certificates of another cluster", change: func(t *testing.T, f *Facts) {
			_, f.repoSecret = fakecluster.Secrets(t, "other", "demo", fakecluster.HealthyNow)
			f.loaded = nil
		}, want: map[string]string{"certificates:failed": `"other-db", not "hippo-db"`}},
		{name: "repository host unreachable", change: func(_ *testing.T, f *Facts) {
			f.pingRepo = &execResult{out: "ERROR: [049]: unable to get address for 'hippo-backrest-shared-repo'", err: exitErr(49)}
		}, want: map[string]string{"repo1 host reachable:failed": "the database cannot reach hippo-backrest-shared-repo:8432: ERROR: [049]"}},
		{name: "repository host pod down", change: func(_ *testing.T, f *Facts) {
			f.repoPod, f.repoPodErr, f.pingDB, f.stanza, f.df, f.du = nil, errors.New("no pod"), nil, nil, nil, nil
		}, want: map[string]string{
			"repository host pod:failed": "not running: no pod", "repo1 host reachable:failed": "could not be asked",
			"repo1 stanza:failed": "could not run", "repo1 last backup:failed": "unknown", "repo1 PVC usage:failed": "unknown",
		}},
		{name: "stanza missing", change: func(t *testing.T, f *Facts) {
			s, _ := repo.ParseInfo([]byte(fakecluster.RepoTestdata(t, "info-missing-stanza.json")))
			f.stanza = &s[0]
		}, want: map[string]string{"repo1 stanza:failed": "missing stanza path", "repo1 last backup:failed": "no backup in repo1"}},
		{name: "no backup yet", change: func(t *testing.T, f *Facts) {
			s, _ := repo.ParseInfo([]byte(fakecluster.RepoTestdata(t, "info-no-backups.json")))
			f.stanza = &s[0]
		}, want: map[string]string{"repo1 last backup:failed": "no backup in repo1"}},
		{name: "last backup too old", maxAge: 10 * time.Minute, change: func(*testing.T, *Facts) {},
			want: map[string]string{"repo1 last backup:failed": "20261126-071946F (full) finished 21m52s ago, at 2026-11-26T07:19:49Z, more than --max-backup-age=10m0s"}},
		{name: "repository nearly full", change: func(_ *testing.T, f *Facts) {
			f.df = &execResult{out: "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/x 100 85 15 85% /r\n"}
		}, want: map[string]string{"repo1 PVC usage:warning": "filesystem 85% used"}},
		{name: "repository full", change: func(_ *testing.T, f *Facts) { f.df = &execResult{out: fakecluster.DFFull} },
			want: map[string]string{"repo1 PVC usage:failed": "filesystem 100% used, 0B free"}},
		{name: "repository larger than its PVC", change: func(_ *testing.T, f *Facts) { f.du = &execResult{out: "2147483648 /r"} },
			want: map[string]string{"repo1 PVC usage:failed": "repository 2.0GiB of the 2Gi PVC hippo-pgbr-repo (100%)"}},
		{name: "df fails", change: func(_ *testing.T, f *Facts) { f.df = &execResult{out: "df: no such file", err: exitErr(1)} },
			want: map[string]string{"repo1 PVC usage:failed": "df failed"}},
		{name: "WAL dropped after the newest backup", change: func(_ *testing.T, f *Facts) {
			f.walGaps = []repo.WALGap{{Repo: 1, Archive: "15-1", First: "000000010000000000000004", Last: "000000010000000000000007", Segments: 4, Before: "000000010000000000000003"}}
		}, want: map[string]string{"repo1 WAL continuity:failed": "WAL was dropped (the archive-push queue was full) or lost: repo1 is missing WAL 000000010000000000000004 to 000000010000000000000007 (4 segments) after 000000010000000000000003; no point after it can be recovered"}},
		{name: "WAL dropped before a backup", change: func(_ *testing.T, f *Facts) {
			f.walGaps = []repo.WALGap{{Repo: 1, Archive: "15-1", First: "000000010000000000000004", Last: "000000010000000000000004", Segments: 1, Before: "000000010000000000000003", ClosedBy: "20261126-071946F"}}
		}, want: map[string]string{"repo1 WAL continuity:warning": "repo1 is missing WAL 000000010000000000000004 after 000000010000000000000003 (backup 20261126-071946F started after it)"}},
		{name: "the archive cannot be listed", change: func(_ *testing.T, f *Facts) {
			f.walGapsErr = errors.New("cannot list the WAL archive: timeout")
		}, want: map[string]string{"repo1 WAL continuity:failed": "unknown: cannot list the WAL archive: timeout"}},
		{name: "archiving fails", change: func(t *testing.T, f *Facts) {
			a, _ := repo.ParseArchiverStatus(fakecluster.RepoTestdata(t, "archiver-failing.json"))
			f.archiver = &a
		}, want: map[string]string{"WAL archiving:failed": "the last attempt failed: 000000010000000000000011"}},
		{name: "archiving stuck", change: func(_ *testing.T, f *Facts) {
			f.archiver.ReadyCount, f.archiver.LastArchivedTime = 3, at(-time.Hour)
		}, want: map[string]string{"WAL archiving:failed": "3 segments wait and none was archived for more than 10m0s"}},
		{name: "nothing archived for an hour", change: func(_ *testing.T, f *Facts) {
			f.archiver.ReadyCount, f.archiver.LastArchivedTime, f.archiver.StatsReset = 1, nil, at(-time.Hour)
		}, want: map[string]string{"WAL archiving:failed": "1 segments wait and none was archived for more than 10m0s"}},
		{name: "a new database's first segment waits", change: func(_ *testing.T, f *Facts) {
			f.archiver.ReadyCount, f.archiver.LastArchivedTime, f.archiver.StatsReset = 1, nil, at(-15*time.Second)
		}}, // every check ok
		{name: "archive_mode off", change: func(_ *testing.T, f *Facts) { f.archiver.ArchiveMode = "off" },
			want: map[string]string{"WAL archiving:failed": "archive_mode is off"}},
		{name: "backlog", change: func(_ *testing.T, f *Facts) { f.archiver.ReadyCount = 5 },
			want: map[string]string{"WAL backlog:warning": "5 segments wait"}},
		{name: "large backlog", change: func(_ *testing.T, f *Facts) { f.archiver.ReadyCount = 65 },
			want: map[string]string{"WAL backlog:failed": "65 segments wait"}},
		{name: "check fails", change: func(t *testing.T, f *Facts) {
			c := repo.ParseCheck(fakecluster.RepoTestdata(t, "check-repo-down.txt"), 82)
			f.check = &c
		}, want: map[string]string{"pgbackrest check:failed": "failed with exit code 82"}},
		{name: "database pod down", change: func(_ *testing.T, f *Facts) {
			f.dbPod, f.dbPodErr, f.pingRepo, f.archiver, f.check = nil, errors.New("no pod"), nil, nil, nil
		}, want: map[string]string{
			"database pod:failed": "no pod", "repo1 host reachable:failed": "the database could not be asked",
			"WAL archiving:failed": "unknown: no pod", "WAL backlog:failed": "unknown: no pod",
			"repo1 WAL continuity:failed": "unknown: no pod",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := healthyFacts(t)
			tc.change(t, &f)
			maxAge := tc.maxAge
			if maxAge == 0 {
				maxAge = DefaultMaxBackupAge
			}
			checks := Diagnose(f, maxAge)
			seen := map[string]bool{}
			for _, c := range checks {
				key := c.Name + ":" + string(c.Status)
				if c.Status == OK {
					if _, bad := tc.want[c.Name+":failed"]; bad {
						t.Errorf("%s passed: %s", c.Name, c.Detail)
					}
					if _, bad := tc.want[c.Name+":warning"]; bad {
						t.Errorf("%s passed: %s", c.Name, c.Detail)
					}
					continue
				}
				if fix, ok := tc.want[c.Name+":fix"]; ok {
					if !strings.Contains(c.Fix, fix) {
						t.Errorf("%s fix = %q, want it to contain %q", c.Name, c.Fix, fix)
					}
					seen[c.Name+":fix"] = true
				}
				want, expected := tc.want[key]
				switch {
				case !expected:
					t.Errorf("%s %s: %s", c.Name, c.Status, c.Detail)
				case !strings.Contains(c.Detail, want):
					t.Errorf("%s detail = %q, want it to contain %q", c.Name, c.Detail, want)
				case c.Fix == "":
					t.Errorf("%s %s without a fix", c.Name, c.Status)
				}
				seen[key] = true
			}
			for key := range tc.want {
				if !seen[key] {
					t.Errorf("no check %s", key)
				}
			}
		})
	}
}

func TestParseDF(t *testing.T) {
	for _, tc := range []struct {
		out     string
		want    DiskUsage
		percent int64
		err     bool
	}{
		{out: fakecluster.DFHalf, want: DiskUsage{1000, 500, 500}, percent: 50},
		{out: fakecluster.DFFull, want: DiskUsage{33554432, 33554432, 0}, percent: 100},
		// df's Use% rounds up.
		{out: "h\n/dev/x 1000 1 999 1% /r", want: DiskUsage{1000, 1, 999}, percent: 1},
		{out: "", err: true},
		{out: "h\n/dev/x a b c d /r", err: true},
	} {
		got, err := ParseDF(tc.out)
		if (err != nil) != tc.err || got != tc.want || (err == nil && got.Percent() != tc.percent) {
			t.Errorf("ParseDF(%q) = %+v (%d%%), %v", tc.out, got, got.Percent(), err)
		}
	}
	if n, err := ParseDU("123\t/x\n"); n != 123 || err != nil {
		t.Errorf("ParseDU = %d, %v", n, err)
	}
	if _, err := ParseDU(""); err == nil {
		t.Error("ParseDU of nothing did not fail")
	}
}

// Each repository gets its own checks; the host and volume checks only
// apply to the local one.
func TestDiagnoseTwoRepositories(t *testing.T) {
	f := healthyFacts(t)
	f.spec.StorageType = []cluster.StorageType{cluster.StorageLocal, cluster.StorageS3}
	stanzas, err := repo.ParseInfo([]byte(fakecluster.RepoTestdata(t, "info-two-repos-incr.json")))
	if err != nil {
		t.Fatal(err)
	}
	f.stanza = &stanzas[0]
	f.now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var got []string
	for _, c := range Diagnose(f, DefaultMaxBackupAge) {
		if c.Repo > 0 {
			got = append(got, fmt.Sprintf("%s (repo %d): %s: %s", c.Name, c.Repo, c.Status, c.Detail))
		}
	}
	want := []string{
		"repo1 host reachable (repo 1): ok: pgbackrest server-ping: the database reaches hippo-backrest-shared-repo:8432, the repository host reaches hippo:8432",
		"repo1 stanza (repo 1): ok: stanza db exists (ok)",
		// The newer incremental has errors (a checksum failed): the full
		// backup is the last good one.
		"repo1 last backup (repo 1): ok: 20261126-070213F (full) finished 1h57m44s ago, at 2026-11-26T07:02:16Z",
		"repo1 WAL continuity (repo 1): ok: no WAL missing from the archive",
		"repo1 PVC usage (repo 1): ok: repository 5.0MiB of the 2Gi PVC hippo-pgbr-repo (1%); filesystem 50% used, 500B free",
		"repo2 stanza (repo 2): ok: stanza db exists (no valid backups)",
		"repo2 last backup (repo 2): failed: no backup in repo2",
		"repo2 WAL continuity (repo 2): ok: no WAL missing from the archive",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("repository checks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// useOwnCA puts into f's repository Secret an intermediate CA and its
// root, valid for validity, and the leaves it signs (which expire with
// it), as rotate certs --new-ca --ca-cert leaves them; the pods load them.
func useOwnCA(t *testing.T, f *Facts, validity time.Duration) {
	t.Helper()
	_, ca, chain := testpki.Intermediate(t, testpki.RSA2048, fakecluster.HealthyNow, validity)
	pki := cluster.PKI{CACert: chain, CAKey: ca.KeyPEM(t, testpki.PKCS8)}
	if err := pki.ReissueLeaves("hippo", "demo", fakecluster.HealthyNow); err != nil {
		t.Fatal(err)
	}
	f.repoSecret.Data[cluster.KeyCACert], f.repoSecret.Data[cluster.KeyCAKey] = pki.CACert, pki.CAKey
	f.repoSecret.Data[cluster.KeyDBCert], f.repoSecret.Data[cluster.KeyDBKey] = pki.DBCert, pki.DBKey
	f.repoSecret.Data[cluster.KeyRepoCert], f.repoSecret.Data[cluster.KeyRepoKey] = pki.RepoCert, pki.RepoKey
	f.loaded = nil
}
