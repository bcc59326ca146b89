// Package scripts tests the local-cluster scripts' refusals: they must stop with a message that
// names what is missing, before changing anything on the machine.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// minimalPath builds a PATH holding only the given tools, so a script sees the others as missing.
func minimalPath(t *testing.T, tools ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is needed to run this test: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestClusterScriptsRefuseNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to another user")
	}
	for _, script := range []string{"up.sh", "down.sh", "install-deps.sh"} {
		t.Run(script, func(t *testing.T) {
			cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
				"bash", filepath.Join(repoRoot(t), "hack/cluster", script))
			cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "KPGO_STATE=" + t.TempDir()}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("%s succeeded as a non-root user:\n%s", script, out)
			}
			if !strings.Contains(string(out), "must run as root") {
				t.Errorf("%s: the message does not say root is needed:\n%s", script, out)
			}
		})
	}
}

func TestUpNamesMissingPackages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("up.sh checks for root before its packages")
	}
	path := minimalPath(t, "bash", "id", "dirname", "date", "printf")
	state := t.TempDir()
	cmd := exec.Command(filepath.Join(path, "bash"), filepath.Join(repoRoot(t), "hack/cluster/up.sh"))
	cmd.Env = []string{"PATH=" + path, "HOME=/tmp", "KPGO_STATE=" + state}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("up.sh succeeded with no packages:\n%s", out)
	}
	for _, want := range []string{"etcd (apt-get install etcd-server)", "containerd (apt-get install containerd)",
		"runc (apt-get install runc)", "iptables (apt-get install iptables)", "install-deps.sh"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the message does not name %q:\n%s", want, out)
		}
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("up.sh left %d entries in its state directory before failing", len(entries))
	}
}
