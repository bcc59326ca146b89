package jobs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// fakePGBackRest answers what the probe asks, as FAKE_MODE says: full (a
// backup to annotate), reader (keys that read but cannot write), empty (no
// backup: an object is put, read and removed), noput (no backup, and a
// pgBackRest without repo-put), noread (keys refused).
const fakePGBackRest = `#!/bin/bash
case "$FAKE_MODE $*" in
"noread "*repo-get*) echo "ERROR: [049]: S3 request failed: 403 Forbidden" >&2; exit 49 ;;
*"repo-get backup/db/backup.info")
  printf '[backrest]\nbackrest-format=5\n\n[backup:current]\n'
  case "$FAKE_MODE" in empty|noput) ;; *) printf '20261205-100000F={"backup-type":"full"}\n20261205-100000F_20261205-110000I={"backup-type":"incr"}\n' ;; esac
  printf '\n[db]\ndb-id=1\n' ;;
"reader "*annotate) echo "ERROR: [049]: S3 request failed: 403 AccessDenied" >&2; exit 49 ;;
"full "*annotate) echo "$*" > "$FAKE_DIR/annotate" ;;
"noput "*repo-put*) echo "ERROR: [048]: invalid command 'repo-put'" >&2; exit 48 ;;
*repo-put*) cat > "$FAKE_DIR/object" ;;
*repo-rm*) rm "$FAKE_DIR/object" ;;
*repo-get*) cat "$FAKE_DIR/object" ;;
*) echo "unexpected: $*" >&2; exit 99 ;;
esac
`

// The probe's script, run with a fake pgbackrest: it annotates the newest
// backup (an incremental one too), puts, reads and removes an object in a
// repository without a backup, and prints the failure of keys that cannot
// read or write.
func TestKeysProbeScript(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageLocal, cluster.StorageS3},
		S3: &cluster.S3Spec{Bucket: "bucket", Endpoint: "s3.example:9000", Region: "us-east-1", CredentialsSecret: "new-keys", URIStyle: "path", VerifyTLS: true}}
	spec.Default()
	deploy, err := cluster.RepoHostDeployment(spec)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := KeysProbe{Cluster: "hippo", Namespace: "pgo", RepoHost: deploy, Repos: []int{2}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	command := pod.Spec.Containers[0].Command
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pgbackrest"), []byte(fakePGBackRest), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(mode string) (string, error) {
		c := exec.Command(command[0], command[1:]...)
		c.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "FAKE_MODE="+mode, "FAKE_DIR="+dir)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	out, err := run("full")
	annotate, _ := os.ReadFile(filepath.Join(dir, "annotate"))
	if err != nil || !strings.Contains(out, ProbeOK) || !strings.Contains(string(annotate), "--repo=2") ||
		!strings.Contains(string(annotate), "--set=20261205-100000F_20261205-110000I") || !strings.Contains(string(annotate), "--annotation=kubectl-pgo-keys-checked=") {
		t.Errorf("full: %v\n%s\nannotate: %s", err, out, annotate)
	}
	if out, err := run("empty"); err != nil || !strings.Contains(out, ProbeOK) || !strings.Contains(out, "wrote, read and removed") {
		t.Errorf("empty: %v\n%s", err, out)
	}
	// FAKE_MODE noput has no backup either: the empty backup.info above.
	if out, err := run("noput"); err == nil || !strings.Contains(out, ProbeFailed+" repo2 has no backup to annotate") ||
		!strings.Contains(out, "take a backup into repo2 first") {
		t.Errorf("noput: %v\n%s", err, out)
	}
	if out, err := run("reader"); err == nil || !strings.Contains(out, ProbeFailed+" repo2: cannot write (annotate backup 20261205-100000F_20261205-110000I)") {
		t.Errorf("reader: %v\n%s", err, out)
	}
	if out, err := run("noread"); err == nil || !strings.Contains(out, ProbeFailed+" repo2: cannot read backup/db/backup.info") {
		t.Errorf("noread: %v\n%s", err, out)
	}
}
