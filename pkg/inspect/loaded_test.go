package inspect

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCommands writes executables into a directory for PATH: each a
// shell script.
func fakeCommands(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The reload script signals the server process whose parent is tini (or
// start-repo.sh's bash), never the children that serve one connection each
// (SIGHUP ends those), and fails when no server runs. pgrep and ps are
// fakes, kill a function: no process of the machine is touched.
func TestReloadServerScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	run := func(pgrep string) (string, error) {
		dir := fakeCommands(t, map[string]string{
			"pgrep": pgrep,
			// 10 is the server (under tini, pid 1), 11 and 12 its children.
			"ps": `case "$*" in
"-o ppid= -p 10") echo " 1" ;; "-o ppid= -p 11"|"-o ppid= -p 12") echo " 10" ;;
"-o args= -p 1") echo "tini -- pgbackrest server" ;; "-o args= -p 10") echo "pgbackrest server" ;;
*) exit 1 ;; esac`,
		})
		cmd := exec.Command("bash", "-c", `kill() { echo "kill $*"; }`+"\n"+reloadServerScript)
		cmd.Env = append(os.Environ(), "PATH="+dir+":/usr/bin:/bin")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(`printf '10\n11\n12\n'`)
	if err != nil || strings.TrimSpace(out) != "kill -HUP 10\nreloaded 1" {
		t.Errorf("with a server and two children: %v\n%s", err, out)
	}
	out, err = run(`exit 1`)
	if err == nil || !strings.Contains(out, "reloaded 0") {
		t.Errorf("without a server: %v\n%s", err, out)
	}
}
