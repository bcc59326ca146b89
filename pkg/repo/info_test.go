package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readInfo(t *testing.T, name string) []Stanza {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	stanzas, err := ParseInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	return stanzas
}

func TestParseInfoFullBackup(t *testing.T) {
	stanzas := readInfo(t, "info-full-backup.json")
	s, ok := Find(stanzas, StanzaName)
	if !ok {
		t.Fatalf("no stanza %s in %+v", StanzaName, stanzas)
	}
	if s.Cipher != "none" || s.Status.Code != StatusOK || s.BackupRunning() {
		t.Errorf("stanza = %+v", s)
	}
	if len(s.DB) != 1 || s.DB[0].Version != "15" || s.DB[0].SystemID != 7712371840594409285 {
		t.Errorf("db = %+v", s.DB)
	}
	if len(s.Archive) != 1 || s.Archive[0].ID != "15-1" ||
		s.Archive[0].Min != "000000010000000000000001" || s.Archive[0].Max != "000000010000000000000004" {
		t.Errorf("archive = %+v", s.Archive)
	}
	if len(s.Backup) != 1 {
		t.Fatalf("backups = %+v", s.Backup)
	}
	b := s.Backup[0]
	if b.Label != "20261126-070213F" || b.Type != "full" || b.Prior != "" || b.Reference != nil || b.Error {
		t.Errorf("backup = %+v", b)
	}
	if b.Archive.Start != "000000010000000000000003" || b.Archive.Stop != "000000010000000000000004" ||
		b.LSN.Start != "0/3000028" || b.LSN.Stop != "0/4000050" {
		t.Errorf("backup WAL/LSN = %+v %+v", b.Archive, b.LSN)
	}
	if b.Info.Size != 23213515 || b.Info.Delta != 23213515 || b.Info.Repository.Size != 4557711 || b.Info.Repository.Delta != 4557711 {
		t.Errorf("backup sizes = %+v", b.Info)
	}
	if want := time.Date(2026, 11, 26, 7, 2, 13, 0, time.UTC); !b.Timestamp.StartTime().Equal(want) {
		t.Errorf("start = %v, want %v", b.Timestamp.StartTime(), want)
	}
	if b.Timestamp.StopTime().Sub(b.Timestamp.StartTime()) != 3*time.Second {
		t.Errorf("stop = %v", b.Timestamp.StopTime())
	}
	if b.Database.ID != 1 || b.Database.RepoKey != 1 || b.Backrest.Version != "2.45" || b.Backrest.Format != 5 {
		t.Errorf("backup database/backrest = %+v %+v", b.Database, b.Backrest)
	}
	if len(s.Repo) != 1 || s.Repo[0].Key != 1 || s.Repo[0].Status.Code != StatusOK {
		t.Errorf("repo = %+v", s.Repo)
	}
}

func TestParseInfoIncrementalAndTwoRepos(t *testing.T) {
	s := readInfo(t, "info-two-repos-incr.json")[0]
	if !s.BackupRunning() {
		t.Error("the backup lock is held, BackupRunning() = false")
	}
	if s.Archive[1].Min != "" || s.Archive[1].Max != "" {
		t.Errorf("null min/max should read as empty: %+v", s.Archive[1])
	}
	incr := s.Backup[1]
	if incr.Type != "incr" || incr.Prior != "20261126-070213F" || len(incr.Reference) != 1 || !incr.Error {
		t.Errorf("incr = %+v", incr)
	}
	if err := s.Err(); err != nil {
		t.Errorf("different across repos, each repo fine: Err() = %v", err)
	}
}

func TestStanzaErr(t *testing.T) {
	for _, tc := range []struct {
		file        string
		wantErr     string // substring; empty means no error
		wantMissing bool
	}{
		{file: "info-full-backup.json"},
		{file: "info-no-backups.json"},
		{file: "info-two-repos-incr.json"},
		{file: "info-missing-stanza.json", wantErr: "missing stanza path", wantMissing: true},
		{file: "info-unknown-ca.json", wantErr: "repo1: pgbackrest info status 99: [ServiceError] TLS error"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			err := readInfo(t, tc.file)[0].Err()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Err() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Err() = %v, want it to contain %q", err, tc.wantErr)
			}
			if got := errors.Is(err, ErrStanzaMissing); got != tc.wantMissing {
				t.Errorf("errors.Is(err, ErrStanzaMissing) = %v, want %v", got, tc.wantMissing)
			}
		})
	}
}

func TestStanzaErrCodes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stanza   Stanza
		wantErr  bool
		wantRepo int
	}{
		{"ok", Stanza{Status: StanzaStatus{Code: StatusOK}}, false, 0},
		{"no valid backups", Stanza{Status: StanzaStatus{Code: StatusNoValidBackups}}, false, 0},
		{"missing stanza data", Stanza{Status: StanzaStatus{Code: StatusMissingStanzaData, Message: "missing stanza data"}}, true, 0},
		{"other without repo detail", Stanza{Status: StanzaStatus{Code: StatusOther, Message: "other"}}, true, 0},
		{"access denied in repo2", Stanza{
			Status: StanzaStatus{Code: StatusOther, Message: "other"},
			Repo: []RepoStatus{
				{Key: 1, Status: RepoResult{Code: StatusOK, Message: "ok"}},
				{Key: 2, Status: RepoResult{Code: StatusOther, Message: "[AccessError] access denied"}},
			},
		}, true, 2},
		{"database mismatch", Stanza{Status: StanzaStatus{Code: StatusDatabaseMismatch, Message: "database mismatch across repos"}}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.stanza.Err()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Err() = %v, want error %v", err, tc.wantErr)
			}
			var se *StatusError
			if tc.wantErr && (!errors.As(err, &se) || se.Repo != tc.wantRepo) {
				t.Errorf("Err() = %#v, want a StatusError of repo %d", err, tc.wantRepo)
			}
		})
	}
}

func TestParseInfoRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "not json", `{"name":"db"}`, "ERROR: [055]: unable to load info file"} {
		if _, err := ParseInfo([]byte(in)); err == nil {
			t.Errorf("ParseInfo(%q) = nil error", in)
		}
	}
}

func TestFindBackup(t *testing.T) {
	backups := []Backup{{Label: "20261120-010000F"}, {Label: "20261120-010000F_20261121-010000D"}}
	if b, ok := FindBackup(backups, "20261120-010000F_20261121-010000D"); !ok || b.Label != "20261120-010000F_20261121-010000D" {
		t.Errorf("FindBackup = %+v, %v; want the differential backup", b, ok)
	}
	if _, ok := FindBackup(backups, "20261122-010000F"); ok {
		t.Error("FindBackup found a label that is not there")
	}
}

// A cipher that does not fit the repository is told apart, and the
// undecrypted bytes pgBackRest quotes do not reach the message.
func TestStanzaErrCipher(t *testing.T) {
	cipherErrs := []error{ErrEncrypted, ErrWrongPassphrase, ErrNotEncrypted}
	for _, tc := range []struct {
		file string
		want error
	}{
		{"info-encrypted-no-passphrase.json", ErrEncrypted},
		{"info-wrong-passphrase.json", ErrWrongPassphrase},
		{"info-not-encrypted.json", ErrNotEncrypted},
		{"info-unknown-ca.json", nil},
		{"info-missing-stanza.json", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			err := readInfo(t, tc.file)[0].Err()
			if err == nil {
				t.Fatal("Err() = nil")
			}
			for _, e := range cipherErrs {
				if got := errors.Is(err, e); got != (e == tc.want) {
					t.Errorf("errors.Is(err, %q) = %v: %v", e, got, err)
				}
			}
			msg := err.Error()
			if tc.want != nil && (!strings.Contains(msg, tc.want.Error()) || strings.Contains(msg, "\n") || strings.ContainsRune(msg, '\uFFFD')) {
				t.Errorf("Err() = %q: want one printable line with %q", msg, tc.want)
			}
		})
	}
}
