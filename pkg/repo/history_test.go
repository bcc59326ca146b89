package repo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePGBackRest is a pgbackrest that answers info, repo-ls and repo-get
// from an archive with two history files in repo1 and none in repo2, and
// logs its arguments.
const fakePGBackRest = `#!/bin/sh
echo "$*" >> "$LOG"
for last; do :; done
case "$*" in
  *" info"*) printf '%s' '[{"name":"db","backup":[],"archive":[{"id":"15-1","max":"000000030000000000000007","database":{"id":1,"repo-key":1}},{"id":"15-1","max":"000000010000000000000004","database":{"id":1,"repo-key":2}}],"status":{"code":0,"message":"ok"}}]' ;;
  *"--repo=1 --output=text"*"repo-ls archive/db") printf '15-1\n' ;;
  *"--repo=2 --output=text"*"repo-ls archive/db") printf '15-1\n' ;;
  *"--repo=1 --output=json"*"repo-ls archive/db/15-1") echo '{"00000002.history":{"type":"file","size":40,"time":1796378400},"00000003.history":{"type":"file","size":80,"time":1796380200}}' ;;
  *"--repo=2 --output=json"*"repo-ls archive/db/15-1") echo '{}' ;;
  *"repo-get archive/db/15-1/00000002.history") printf '1\t0/5000100\tbefore 2026-12-04 10:30:00+00\n' ;;
  *"repo-get archive/db/15-1/00000003.history") printf '1\t0/5000100\tbefore 2026-12-04 10:30:00+00\n2\t0/7000000\tno recovery target specified\n' ;;
  *) echo "unexpected: $*" >&2; exit 99 ;;
esac
`

func runFake(t *testing.T, script string, cmd []string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pgbackrest"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "log")
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "LOG="+log)
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	calls, _ := os.ReadFile(log)
	return string(out), string(calls)
}

func TestInfoCommandReadsHistory(t *testing.T) {
	out, calls := runFake(t, fakePGBackRest, InfoCommand([]string{"--stanza=db", "--log-level-console=off", "--reset-repo1-host"}, 0, nil))
	res, err := ParseInfoOutput(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Stanzas) != 1 || !res.HistoryRead {
		t.Fatalf("parsed %+v", res)
	}
	// Every call keeps the stanza and the reset, and names one repository.
	for _, line := range strings.Split(strings.TrimSpace(calls), "\n")[1:] {
		if !strings.HasPrefix(line, "--stanza=db --log-level-console=off --reset-repo1-host --repo=") || strings.Contains(line, " info") {
			t.Errorf("call %q", line)
		}
	}
	byRepo, err := res.TimelinesOf(res.Stanzas[0])
	if err != nil {
		t.Fatal(err)
	}
	ts := byRepo[1]
	if ts.Latest() != 3 || ts[3].Parent != 2 || ts[2].ForkLSN.String() != "0/5000100" || !ts[3].Began.Equal(time.Unix(1796380200, 0)) {
		t.Errorf("repo1 timelines = %+v", ts)
	}
	if len(byRepo[2]) != 1 {
		t.Errorf("repo2 timelines = %+v", byRepo[2])
	}
}

// A history file that cannot be read is an error, never timeline 1 alone.
func TestInfoCommandHistoryFailure(t *testing.T) {
	broken := strings.Replace(fakePGBackRest, `printf '1\t0/5000100\tbefore 2026-12-04 10:30:00+00\n' ;;`, `echo "ERROR: [039]: access denied" >&2; exit 39 ;;`, 1)
	out, _ := runFake(t, broken, InfoCommand([]string{"--stanza=db"}, 1, []int{1}))
	if _, err := ParseInfoOutput(out); err == nil || !strings.Contains(err.Error(), "cannot read the timeline history of the archive: 1 repo-get 15-1/00000002.history") {
		t.Errorf("error = %v\n%s", err, out)
	}
}

// Output without the history part (a stub of info alone) reads as info.
func TestParseInfoOutputWithoutHistory(t *testing.T) {
	res, err := ParseInfoOutput(`[{"name":"db"}]`)
	if err != nil || res.HistoryRead || len(res.Stanzas) != 1 {
		t.Errorf("%+v, %v", res, err)
	}
}
