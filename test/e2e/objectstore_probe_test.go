package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// The image's pgBackRest (2.45) against the emulators of the tests, over TLS with the test CA,
// from a pod of the cluster, before any cluster uses them: what works, and what does not. Each
// case of the pod's script prints "CASE <name> rc=<exit code>" and what it checked; the tests
// read the log. See docs/object-stores.md.

// probeImage is the image of the probe pods: PostgreSQL 15's, whose pgBackRest 2.45 still has
// the repo-put command the round trips write with (2.60, in the default major's image, answers
// "invalid command 'repo-put'"). The clusters of the other object-store tests run the default.
var probeImage = cluster.ImageFor(15)

// probeScript is the shell script of a probe pod: conf is the pgbackrest.conf of repo1 (without
// its key, which comes from the environment or a mounted file), cases the pgbackrest calls.
func probeScript(conf string, cases string) []string {
	return []string{"sh", "-c", `set -u
cat > /tmp/pgbackrest.conf <<CONF
[global]
log-level-console=warn
log-level-file=off
repo1-path=/backrestrepo/probe-` + "$(hostname)" + `
` + conf + `
CONF
pgb() { pgbackrest --config=/tmp/pgbackrest.conf "$@"; }
# 5 MB of random data: more than one upload chunk (pgBackRest's default is 4 MiB on GCS).
head -c 5000000 /dev/urandom > /tmp/big
want=$(md5sum < /tmp/big | cut -d' ' -f1)
roundtrip() { # NAME, then pgbackrest options
	name=$1; shift
	echo small | pgb "$@" repo-put "$name/small" && pgb "$@" repo-put "$name/big" < /tmp/big &&
		got=$(pgb "$@" repo-get "$name/big" | md5sum | cut -d' ' -f1) && [ "$got" = "$want" ] &&
		[ "$(pgb "$@" repo-get "$name/small")" = small ] && pgb "$@" repo-ls --recurse "$name" | tr '\n' ' ' && echo &&
		pgb "$@" repo-rm "$name/small" && [ "$(pgb "$@" repo-ls "$name" | tr -d '\n')" = big ]
	echo "CASE $name rc=$? md5=$want"
}
` + cases + `
echo PROBE DONE
sleep 3600`}
}

// probeCases runs the probe pod and returns each case's exit code, and the log.
func probeCases(t *testing.T, env *framework.Env, ns string, command []string, mutate func(*corev1.Pod)) (map[string]string, string) {
	t.Helper()
	env.Pod(t, ns, "probe", nil, command, mutate)
	deadline := time.Now().Add(4 * time.Minute)
	var log string
	for time.Now().Before(deadline) {
		if log = podLog(env, ns, "probe"); strings.Contains(log, "PROBE DONE") {
			break
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("probe pod log:\n%s", log)
	if !strings.Contains(log, "PROBE DONE") {
		t.Fatalf("the probe pod did not finish in 4m")
	}
	rc := map[string]string{}
	for _, m := range regexp.MustCompile(`CASE (\S+) rc=(\d+)`).FindAllStringSubmatch(log, -1) {
		rc[m[1]] = m[2]
	}
	return rc, log
}

// secretEnv is an environment variable from a key of a Secret.
func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

// mountSecret mounts a Secret at dir in the probe pod's container.
func mountSecret(pod *corev1.Pod, secret, dir string) {
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "keys", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}})
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "keys", MountPath: dir, ReadOnly: true})
}

// TestGCSEmulatorPgBackRest: pgBackRest 2.45 reads and writes fake-gcs-server over TLS with a
// bearer token (repo-gcs-key-type=token) and with a service-account key whose token_uri is the
// harness's token endpoint (service), once the upload chunk is larger than the file: the
// emulator does not answer a resumable upload with the x-guploader-uploadid header pgBackRest
// reads, so a file larger than a chunk fails with "upload id missing". A key that is not JSON
// fails before any request.
func TestGCSEmulatorPgBackRest(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	gcs := env.GCS(t)
	ns := env.Namespace(t)
	bucket := "probe-" + ns[len(ns)-6:]
	gcs.CreateBucket(t, bucket)
	gcs.Secret(t, env, ns, "gcs-keys", map[string][]byte{"token": []byte(gcs.Token), "key.json": gcs.ServiceKey, "bad.json": []byte("{not json")})
	tokensBefore := gcs.TokensIssued()
	conf := "repo1-type=gcs\nrepo1-gcs-bucket=" + bucket + "\nrepo1-gcs-endpoint=" + gcs.Endpoint + "\nrepo1-storage-ca-file=/keys/ca.crt"
	cases := `
PGBACKREST_REPO1_GCS_KEY=$GCS_TOKEN roundtrip token-chunked --repo1-gcs-key-type=token
PGBACKREST_REPO1_GCS_KEY=$GCS_TOKEN roundtrip token --repo1-gcs-key-type=token --repo1-storage-upload-chunk-size=32MiB
PGBACKREST_REPO1_GCS_KEY=/keys/key.json roundtrip service --repo1-gcs-key-type=service --repo1-storage-upload-chunk-size=32MiB
PGBACKREST_REPO1_GCS_KEY=/keys/bad.json pgb --repo1-gcs-key-type=service repo-ls 2>&1; echo "CASE bad-json rc=$?"
`
	rc, log := probeCases(t, env, ns, probeScript(conf, cases), func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = probeImage
		p.Spec.Containers[0].Env = []corev1.EnvVar{secretEnv("GCS_TOKEN", "gcs-keys", "token")}
		mountSecret(p, "gcs-keys", "/keys")
	})
	for name, want := range map[string]string{"token": "0", "service": "0"} {
		if rc[name] != want {
			t.Errorf("case %s: rc=%q, want %s", name, rc[name], want)
		}
	}
	if rc["bad-json"] == "0" || rc["bad-json"] == "" {
		t.Errorf("a service key that is not JSON: rc=%q, want a failure", rc["bad-json"])
	}
	// The emulator's limit, recorded rather than required: a fixed emulator makes this pass.
	if rc["token-chunked"] != "0" && !strings.Contains(log, "upload id missing") {
		t.Errorf("a chunked upload failed for another reason than the emulator's missing upload id")
	}
	t.Logf("chunked upload (5 MB in 4 MiB chunks): rc=%s", rc["token-chunked"])
	if n := gcs.TokensIssued() - tokensBefore; n == 0 {
		t.Errorf("the service key got no token from the token endpoint")
	}
	// What pgBackRest wrote is in the bucket, under the repository path.
	if objs := gcs.Objects(t, bucket, "backrestrepo/"); !containsSuffix(objs, "/service/big") || !containsSuffix(objs, "/token/big") {
		t.Errorf("bucket %s holds %v, want .../token/big and .../service/big", bucket, objs)
	}
}

// TestAzureEmulatorPgBackRest: pgBackRest 2.45 reads and writes Azurite over TLS with a shared
// key and with an account SAS token, and path-style URIs (a 5 MB file is several blocks); a wrong key is refused with 403.
func TestAzureEmulatorPgBackRest(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	az := env.Azure(t)
	ns := env.Namespace(t)
	container := "probe-" + ns[len(ns)-6:]
	az.CreateContainer(t, container)
	az.Secret(t, env, ns, "azure-keys", map[string][]byte{"azure-key": []byte(az.Key), "azure-sas-token": []byte(az.AccountSAS())})
	conf := "repo1-type=azure\nrepo1-azure-account=" + az.Account + "\nrepo1-azure-container=" + container +
		"\nrepo1-azure-endpoint=" + az.Endpoint + "\nrepo1-azure-uri-style=path\nrepo1-storage-ca-file=/keys/ca.crt"
	cases := `
PGBACKREST_REPO1_AZURE_KEY=$AZURE_KEY roundtrip shared
PGBACKREST_REPO1_AZURE_KEY=$AZURE_SAS roundtrip sas --repo1-azure-key-type=sas
PGBACKREST_REPO1_AZURE_KEY=$(head -c 32 /dev/urandom | base64) pgb repo-ls > /tmp/wrong 2>&1; echo "CASE wrong-key rc=$?"; head -1 /tmp/wrong
`
	rc, log := probeCases(t, env, ns, probeScript(conf, cases), func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = probeImage
		p.Spec.Containers[0].Env = []corev1.EnvVar{secretEnv("AZURE_KEY", "azure-keys", "azure-key"), secretEnv("AZURE_SAS", "azure-keys", "azure-sas-token")}
		mountSecret(p, "azure-keys", "/keys")
	})
	for _, name := range []string{"shared", "sas"} {
		if rc[name] != "0" {
			t.Errorf("case %s: rc=%q, want 0", name, rc[name])
		}
	}
	if rc["wrong-key"] == "0" || !strings.Contains(log, "HTTP request failed with 403") {
		t.Errorf("a wrong shared key: want pgBackRest's 403 in the log")
	}
	if objs := az.Objects(t, container, "backrestrepo/"); !containsSuffix(objs, "/shared/big") || !containsSuffix(objs, "/sas/big") {
		t.Errorf("container %s holds %v, want .../shared/big and .../sas/big", container, objs)
	}
}

func containsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}
