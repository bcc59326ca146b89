package fakecluster

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// repoTestdata is pkg/repo/testdata, found from this file's place.
func repoTestdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "pkg", "repo", "testdata")
}

// RepoTestdata is the file name of pkg/repo/testdata: what pgbackrest
// or psql printed in a real cluster.
func RepoTestdata(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoTestdata(), filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// HealthyNow is a minute after the last archived segment of
// archiver-ok.json, and 20 minutes after the backup of info-one-full.json.
var HealthyNow = time.Date(2026, 11, 26, 7, 41, 41, 0, time.UTC)

// What df prints for the repository volume, half used and full.
const (
	DFHalf = "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/vda 1000 500 500 50% /backrestrepo\n"
	DFFull = "Filesystem 1-blocks Used Available Capacity Mounted on\ntmpfs 33554432 33554432 0 100% /backrestrepo\n"
)

// HealthyAnswer is what command prints in a healthy cluster hippo, for
// every command doctor runs (pgbackrest server-ping, info and check, psql,
// df and du); ok is false for any other command.
func HealthyAnswer(t testing.TB, command []string) (stdout string, ok bool) {
	t.Helper()
	line := strings.Join(command, " ")
	switch {
	case strings.Contains(line, "server-ping"):
		return "", true
	case command[0] == "psql" && strings.Contains(line, "pg_hba_file_rules"):
		return "on|0\n", true
	case command[0] == "psql":
		return RepoTestdata(t, "archiver-ok.json"), true
	case command[0] == "sh" && slices.Contains(command, repo.ArchiverQuery):
		return RepoTestdata(t, "archiver-ok.json") + "\n" + repo.ArchiverSeparator + "\n" + RepoTestdata(t, "info-wal-complete.txt"), true
	case strings.HasSuffix(line, " info"):
		return RepoTestdata(t, "info-one-full.json"), true
	case strings.Contains(line, " check"):
		return RepoTestdata(t, "check-ok.txt"), true
	case command[0] == "df":
		return DFHalf, true
	case command[0] == "du":
		return "5242880\t/backrestrepo/hippo-backrest-shared-repo\n", true
	}
	return "", false
}

// What pgbackrest info and psql print for a healthy cluster that has
// archived WAL but made no backup yet, and info when the repository host's
// certificate is of an unknown CA.
const (
	InfoWALNoBackups = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000004","min":"000000010000000000000001"}],` +
		`"backup":[],"cipher":"none","db":[{"id":1,"repo-key":1,"system-id":7712375608805392399,"version":"15"}],"name":"db",` +
		`"repo":[{"cipher":"none","key":1,"status":{"code":2,"message":"no valid backups"}}],"status":{"code":2,"lock":{"backup":{"held":false}},"message":"no valid backups"}}]`
	InfoUnknownCA = `[{"archive":[],"backup":[],"cipher":"none","db":[],"name":"db",` +
		`"repo":[{"cipher":"none","key":1,"status":{"code":99,"message":"[ServiceError] TLS error [1:167773208] tlsv1 alert unknown ca"}}],` +
		`"status":{"code":99,"lock":{"backup":{"held":false}},"message":"other"}}]`
	ArchiverOK = `{"archived_count":3,"failed_count":0,"last_archived_wal":"000000010000000000000003","last_archived_time":"2026-11-26T07:16:51.48394+00:00",` +
		`"last_failed_wal":null,"last_failed_time":null,"system_identifier":"7712375608805392399"}`
)
