package e2e

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// TestRotateObjectStoreKeys is kubectl pgo rotate keys on GCS and Azure, on one cluster
// local,gcs,azure (repo1 local, repo2 GCS, repo3 Azure) with rows written all along: wrong keys
// and a missing Secret are refused with nothing changed; the GCS service key, then the Azure
// shared key, are switched to new Secrets, each followed by pgbackrest check and backups with
// the new keys; no WAL is missing in any repository; a PITR from Azure to a point between the
// rotations, a restore from GCS to the end of the archive, and a PITR from GCS to the same point
// again each return the recorded whole-table checksum.
//
// What the emulators let it prove. Azurite checks every request's shared key signature and
// takes two keys per account (framework.AzureServer.Key2): a wrong key is refused with 403, and
// the second key is a real new key; but the old key stays valid for the run's other tests, so
// that the cluster no longer uses it is shown by its pods, which read only the new Secret.
// fake-gcs-server checks no credentials at all (it never reads the Authorization header): a
// wrong bearer token (key type token) would be accepted, and the test cannot refuse one. With
// service keys (key type service, used here) the test's own token endpoint is Google's OAuth
// server: it gives a token only for a JWT signed by a key it knows and has not revoked. So a
// wrong service key is refused (no token, before any request to the bucket), and once the old
// key is revoked after the rotation, backups and archiving go on with the new one and no JWT
// of the old key comes in.
func TestRotateObjectStoreKeys(t *testing.T) {
	t.Parallel()
	s := objectStoreSetup(t, true, true)
	env, ns, ctx := s.env, s.ns, context.Background()
	email := "rk-" + ns + "@kpgo-e2e.iam.gserviceaccount.com"
	gcsKey := func(known bool) []byte {
		t.Helper()
		newKey := s.gcs.NewServiceKey
		if !known {
			newKey = s.gcs.UnknownServiceKey
		}
		key, err := newKey(email)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	gcs1, gcs2 := gcsKey(true), gcsKey(true)
	s.gcs.Secret(t, env, ns, "rk-gcs-1", map[string][]byte{cluster.KeyGCSServiceKey: gcs1})
	s.gcs.Secret(t, env, ns, "rk-gcs-2", map[string][]byte{cluster.KeyGCSServiceKey: gcs2})
	s.gcs.Secret(t, env, ns, "rk-gcs-wrong", map[string][]byte{cluster.KeyGCSServiceKey: gcsKey(false)})
	s.azure.Secret(t, env, ns, "rk-azure-1", map[string][]byte{cluster.KeyAzureKey: []byte(s.azure.Key)})
	s.azure.Secret(t, env, ns, "rk-azure-2", map[string][]byte{cluster.KeyAzureKey: []byte(s.azure.Key2)})
	s.azure.Secret(t, env, ns, "rk-azure-wrong", map[string][]byte{cluster.KeyAzureKey: []byte(framework.RandomAzureKey())})

	start := time.Now()
	c := s.create(t, "rk", "local,gcs,azure", "--pgbackrest-gcs-key-secret=rk-gcs-1", "--pgbackrest-azure-key-secret=rk-azure-1")
	t.Logf("create cluster local,gcs,azure took %s", time.Since(start).Round(time.Second))
	c.sql(t, "CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); INSERT INTO chain SELECT g, md5(g::text) FROM generate_series(1, 2000) g")
	backup := func(what string, args ...string) {
		t.Helper()
		start := time.Now()
		if res := env.PGO(t, append([]string{"backup", c.name, "-n", ns, "--wait"}, args...)...); res.ExitCode != 0 {
			t.Fatalf("backup %v (%s):\n%s", args, what, res)
		}
		t.Logf("backup %v (%s) took %s", args, what, time.Since(start).Round(time.Second))
	}
	for _, st := range []string{"local", "gcs", "azure"} {
		backup("first", "--type=full", "--pgbackrest-storage-type="+st)
	}

	// What the cluster reads: the key Secrets its settings name, and those its pods mount or
	// take their environment from.
	keySecrets := func() (gcs, azure string) {
		spec := storedSpec(t, env, ns, c.name)
		return spec.GCS.CredentialsSecret, spec.Azure.CredentialsSecret
	}
	podsRead := func(want, old string) {
		t.Helper()
		for _, p := range []*corev1.Pod{podNamed(t, env, ns, cluster.PodName(c.name)), repoHostPod(t, env, ns, c.name)} {
			read := podSecretNames(p)
			if !read[want] || read[old] {
				t.Errorf("pod %s reads the Secrets %v: want %s and not %s", p.Name, slices.Sorted(maps.Keys(read)), want, old)
			}
		}
	}
	dbUID := func() string { return string(podNamed(t, env, ns, cluster.PodName(c.name)).UID) }
	rotate := func(flag, secret string) framework.Result {
		t.Helper()
		return env.PGO(t, "rotate", "keys", c.name, "-n", ns, flag+"="+secret, "--yes", "--timeout=8m")
	}

	w := startRotationWriter(c, 100001)
	defer func() { _, _ = w.finish() }()

	// Refused, nothing changed: wrong keys (the probe cannot read the repository with them) and
	// a Secret that does not exist.
	uid := dbUID()
	for _, tc := range []struct {
		flag, secret string
		want         []string
	}{
		{"--azure-key-secret", "rk-azure-wrong", []string{"the new keys were refused: repo3: cannot read", "nothing was changed"}},
		{"--gcs-key-secret", "rk-gcs-wrong", []string{"the new keys were refused: repo2: cannot read", "nothing was changed"}},
		{"--azure-key-secret", "nosuch", []string{"Secret " + ns + "/nosuch does not exist", "nothing was changed"}},
	} {
		start := time.Now()
		res := rotate(tc.flag, tc.secret)
		if res.ExitCode != 1 {
			t.Errorf("rotate keys %s=%s: exit %d, want 1:\n%s", tc.flag, tc.secret, res.ExitCode, res)
		}
		for _, want := range tc.want {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("rotate keys %s=%s: stderr lacks %q:\n%s", tc.flag, tc.secret, want, res)
			}
		}
		t.Logf("rotate keys %s=%s refused in %s:\n%s", tc.flag, tc.secret, time.Since(start).Round(time.Second), res.Stderr)
	}
	if g, a := keySecrets(); g != "rk-gcs-1" || a != "rk-azure-1" {
		t.Errorf("after the refusals the settings name the Secrets %s and %s, want rk-gcs-1 and rk-azure-1", g, a)
	}
	if dbUID() != uid {
		t.Errorf("a refused rotation restarted the database pod")
	}
	if _, err := env.Client.CoreV1().Pods(ns).Get(ctx, jobs.KeysProbePodName(c.name), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the probe pod is left after a refusal (%v)", err)
	}

	// The GCS service key: rk-gcs-2, proven first; then the old key is revoked, and backups to
	// both object stores go on with the new keys.
	rotated := func(store, flag, secret string) {
		t.Helper()
		start := time.Now()
		res := rotate(flag, secret)
		if res.ExitCode != 0 {
			t.Fatalf("rotate keys %s=%s:\n%s", flag, secret, res)
		}
		if !strings.Contains(res.Stdout+res.Stderr, "pgbackrest check: WAL segment") {
			t.Errorf("rotate keys %s=%s says nothing of pgbackrest check:\n%s", flag, secret, res)
		}
		t.Logf("rotate keys %s=%s (%s) took %s:\n%s", flag, secret, store, time.Since(start).Round(time.Second), res.Stdout+res.Stderr)
	}
	rotated("gcs", "--gcs-key-secret", "rk-gcs-2")
	if g, a := keySecrets(); g != "rk-gcs-2" || a != "rk-azure-1" {
		t.Errorf("after the GCS rotation the settings name the Secrets %s and %s, want rk-gcs-2 and rk-azure-1", g, a)
	}
	podsRead("rk-gcs-2", "rk-gcs-1")
	issued2, _ := s.gcs.ServiceKeyUse(t, gcs2)
	if issued2 == 0 {
		t.Errorf("the rotation's probe and pgbackrest check were given no token for the new service key")
	}
	s.gcs.RevokeServiceKey(t, gcs1)
	backup("after the GCS rotation, the old key revoked", "--type=incr", "--pgbackrest-storage-type=gcs")
	backup("after the GCS rotation", "--type=incr", "--pgbackrest-storage-type=azure")
	between := w.point(t, "between")

	// The Azure shared key: rk-azure-2 holds the account's second key.
	rotated("azure", "--azure-key-secret", "rk-azure-2")
	if g, a := keySecrets(); g != "rk-gcs-2" || a != "rk-azure-2" {
		t.Errorf("after the Azure rotation the settings name the Secrets %s and %s, want rk-gcs-2 and rk-azure-2", g, a)
	}
	podsRead("rk-azure-2", "rk-azure-1")
	backup("after the Azure rotation", "--type=incr", "--repo=3")
	backup("after the Azure rotation", "--type=incr", "--repo=2")
	last := w.point(t, "after-azure")
	ok, bad := w.finish()
	t.Logf("writer: %d rows inserted, %d failed attempts (retried)", ok, bad)

	issued1, refused1 := s.gcs.ServiceKeyUse(t, gcs1)
	newIssued2, _ := s.gcs.ServiceKeyUse(t, gcs2)
	t.Logf("GCS token endpoint: old key %d tokens, %d JWTs refused since its revocation; new key %d tokens", issued1, refused1, newIssued2)
	if refused1 != 0 {
		t.Errorf("%d JWTs of the revoked GCS key came in after the rotation: a pod still uses it", refused1)
	}
	if newIssued2 <= issued2 {
		t.Errorf("no token for the new GCS key after the rotation (%d, then %d): the backups did not use it", issued2, newIssued2)
	}

	// No WAL missing from any repository, and the last segment archived is in each.
	c.noWALMissing(t)
	lastWAL := c.one(t, "SELECT last_archived_wal FROM pg_stat_archiver")
	prefix := "backrestrepo/" + c.name + "-backrest-shared-repo/archive/db/"
	for store, files := range map[string][]string{"gcs": s.gcs.Objects(t, s.bucket, prefix), "azure": s.azure.Objects(t, s.container, prefix)} {
		n, gaps := segmentGaps(files, 1, 0)
		if len(gaps) > 0 {
			t.Errorf("WAL segments missing from the %s archive: %v", store, gaps)
		}
		if !slices.ContainsFunc(files, func(f string) bool { return strings.Contains(f, "/"+lastWAL+"-") }) {
			t.Errorf("the %s archive lacks the last archived segment %s (%d segments)", store, lastWAL, n)
		}
		t.Logf("WAL archive of timeline 1 in %s: %d segments, none missing, up to %s", store, n, lastWAL)
	}
	t.Logf("points: %s %s | %s %s", between.name, between.sum, last.name, last.sum)

	// A PITR from Azure (read with its new key) to the point between the rotations.
	start = time.Now()
	c.restore(t, "--pitr-target="+between.target, "--pgbackrest-storage-type=azure")
	if got := c.one(t, chainChecksumSQL); got != between.sum {
		t.Fatalf("after the PITR from azure to %s (%s) the table is %s, want %s", between.name, between.target, got, between.sum)
	}
	t.Logf("PITR from azure to %s: count|md5 %s, as recorded (%s)", between.name, between.sum, time.Since(start).Round(time.Second))

	// A restore from GCS (its new key) to the end of the archive, on the new timeline.
	c.sql(t, "INSERT INTO chain SELECT g, 'after the PITR' FROM generate_series(300001, 300500) g")
	c.switchAndArchive(t)
	latest := c.one(t, chainChecksumSQL)
	start = time.Now()
	c.restore(t, "--pgbackrest-storage-type=gcs")
	if got := c.one(t, chainChecksumSQL); got != latest {
		t.Fatalf("after the restore from gcs to the end the table is %s, want %s", got, latest)
	}
	t.Logf("restore from gcs to the end: count|md5 %s, as before it (%s)", latest, time.Since(start).Round(time.Second))

	// A PITR to the same point again, from GCS by its index, across the two new timelines.
	start = time.Now()
	c.restore(t, "--pitr-target="+between.target, "--repo=2")
	if got := c.one(t, chainChecksumSQL); got != between.sum {
		t.Fatalf("after the second PITR (repo2, gcs) to %s the table is %s, want %s", between.name, got, between.sum)
	}
	t.Logf("PITR from repo2 (gcs) to %s again: count|md5 %s, as recorded (%s)", between.name, between.sum, time.Since(start).Round(time.Second))
}

// podSecretNames are the Secrets a pod reads: in its containers' environment and its
// volumes, projected or not.
func podSecretNames(p *corev1.Pod) map[string]bool {
	out := map[string]bool{}
	for _, ctr := range append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...) {
		for _, e := range ctr.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				out[e.ValueFrom.SecretKeyRef.Name] = true
			}
		}
		for _, e := range ctr.EnvFrom {
			if e.SecretRef != nil {
				out[e.SecretRef.Name] = true
			}
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.Secret != nil {
			out[v.Secret.SecretName] = true
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					out[src.Secret.Name] = true
				}
			}
		}
	}
	return out
}
