package inspect

import (
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

func TestParseArchiver(t *testing.T) {
	var a ArchiveInfo
	failing := `{"archived_count":2,"failed_count":5,"last_archived_wal":"000000010000000000000002","last_archived_time":"2026-11-26T07:00:00+00:00",` +
		`"last_failed_wal":"000000010000000000000003","last_failed_time":"2026-11-26T09:30:00+02:00"}`
	if err := parseArchiver(failing+"\n", &a); err != nil {
		t.Fatal(err)
	}
	if !a.Failing || a.LastFailedTime.Hour() != 7 || a.LastFailedTime.Location() != time.UTC {
		t.Errorf("failing archiver: %+v", a)
	}
	a = ArchiveInfo{}
	if err := parseArchiver(`{"archived_count":0,"failed_count":0,"last_archived_wal":null,"last_archived_time":null,"last_failed_wal":null,"last_failed_time":null}`, &a); err != nil {
		t.Fatal(err)
	}
	if a.Failing || a.LastArchivedTime != nil || a.LastArchivedWAL != "" {
		t.Errorf("fresh archiver: %+v", a)
	}
	if err := parseArchiver("psql: error", &a); err == nil {
		t.Error("no error for output that is not JSON")
	}
}

func TestQueryStanzaStates(t *testing.T) {
	pod := fakecluster.RunningPod("pg", "repo", fakecluster.PodLabels("hippo", cluster.ComponentRepo), "pgbackrest")
	for _, tc := range []struct {
		name, out  string
		err        error
		wantStatus string
		wantErr    bool
	}{
		{name: "no backups", out: fakecluster.InfoWALNoBackups, wantStatus: "no backups"},
		{name: "refused", out: fakecluster.InfoUnknownCA, wantStatus: "error"},
		{name: "missing", out: `[{"archive":[],"backup":[],"cipher":"none","db":[],"name":"db","repo":[{"cipher":"none","key":1,"status":{"code":1,"message":"missing stanza path"}}],"status":{"code":1,"lock":{"backup":{"held":false}},"message":"missing stanza path"}}]`, wantStatus: "missing"},
		{name: "command failed", err: &kube.ExecError{Code: 1}, wantStatus: StatusUnknown},
		{name: "exec refused", err: errors.New("forbidden"), wantStatus: StatusUnknown, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec := func(context.Context, string, string, string, []string) (string, string, error) {
				return tc.out, "", tc.err
			}
			s, err := QueryStanza(context.Background(), exec, pod)
			if s.Status != tc.wantStatus || (err != nil) != tc.wantErr {
				t.Errorf("status %q, err %v; want %q, error %v", s.Status, err, tc.wantStatus, tc.wantErr)
			}
		})
	}
	if s, err := QueryStanza(context.Background(), nil, nil); err != nil || s.Error == "" {
		t.Errorf("no pod: %+v %v", s, err)
	}
}

// statusCommand run by a real sh, with psql and pgbackrest stubbed on the
// PATH: each command's output, exit status and stderr are told apart.
func TestStatusCommandInShell(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		psql, pgbackrest     string // the stubs' scripts
		wantArchiver         string // ArchiveInfo.Error prefix, "" for none
		wantStanza           string // StanzaInfo.Status
		wantStanzaErrContain string
	}{
		{name: "both answer", psql: "echo '" + fakecluster.ArchiverOK + "'", pgbackrest: "echo '" + fakecluster.InfoWALNoBackups + "'", wantStanza: "no backups"},
		{name: "pgbackrest fails", psql: "echo '" + fakecluster.ArchiverOK + "'", pgbackrest: "echo 'ERROR: [039]: HTTP request failed' >&2; exit 39",
			wantStanza: StatusUnknown, wantStanzaErrContain: "HTTP request failed"},
		{name: "psql fails", psql: "echo 'psql: error: connection refused' >&2; exit 2", pgbackrest: "echo '" + fakecluster.InfoWALNoBackups + "'",
			wantArchiver: "psql in pod hippo-0", wantStanza: "no backups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			for name, script := range map[string]string{"psql": tc.psql, "pgbackrest": tc.pgbackrest} {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			exec := func(ctx context.Context, ns, pod, container string, command []string) (string, string, error) {
				cmd := osexec.CommandContext(ctx, command[0], command[1:]...)
				cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
				var stdout, stderr strings.Builder
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				return stdout.String(), stderr.String(), err
			}
			a, s, err := QueryArchiverAndStanza(context.Background(), exec, fakecluster.RunningPod("default", "hippo-0", fakecluster.PodLabels("hippo", cluster.ComponentDatabase), databaseContainer))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(a.Error, tc.wantArchiver) || (tc.wantArchiver == "") != (a.Error == "") {
				t.Errorf("archiver error %q, want prefix %q", a.Error, tc.wantArchiver)
			}
			if tc.wantArchiver == "" && a.SystemID != 7712375608805392399 {
				t.Errorf("archiver not parsed: %+v", a)
			}
			if s.Status != tc.wantStanza || !strings.Contains(s.Error, tc.wantStanzaErrContain) {
				t.Errorf("stanza %+v, want status %q and an error with %q", s, tc.wantStanza, tc.wantStanzaErrContain)
			}
			if tc.wantStanzaErrContain != "" && strings.Contains(s.Error, "connection refused") {
				t.Errorf("psql's stderr in pgbackrest's error: %q", s.Error)
			}
		})
	}
}

func TestSplitStatusOutput(t *testing.T) {
	m := StatusMarker
	for _, tc := range []struct {
		in    string
		ok    bool
		outs  [2]string
		codes [2]int
	}{
		{in: "a\n" + m + " 0\nb\n" + m + " 39\n", ok: true, outs: [2]string{"a\n", "b\n"}, codes: [2]int{0, 39}},
		{in: m + " 2\n" + m + " 0\n", ok: true, codes: [2]int{2, 0}},
		{in: "a\n" + m + " 0\n", ok: false},
		{in: "a\n" + m + " x\nb\n" + m + " 0\n", ok: false},
		{in: "", ok: false},
	} {
		outs, codes, ok := splitStatusOutput(tc.in)
		if ok != tc.ok || (ok && (outs != tc.outs || codes != tc.codes)) {
			t.Errorf("splitStatusOutput(%q) = %q %v %v, want %q %v %v", tc.in, outs, codes, ok, tc.outs, tc.codes, tc.ok)
		}
	}
}
