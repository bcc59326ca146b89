package repo

import (
	"reflect"
	"slices"
	"testing"
)

func TestParseVerify(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ok             bool
		status         string
		archives       []VerifyArchive
		invalidBackups []string
		files          []string
		notes          []string
	}{
		{
			name: "ok", ok: true, status: VerifyOK,
			archives: []VerifyArchive{{ID: "15-1", WALChecked: 2, WALValid: 2}},
		},
		{
			name: "empty", ok: true, status: VerifyOK,
			archives: []VerifyArchive{},
			notes:    []string{"no archives or backups exist in the repo"},
		},
		{
			name: "checksum", status: VerifyError,
			archives:       []VerifyArchive{{ID: "15-1", WALChecked: 2, WALValid: 2}},
			invalidBackups: []string{"20261126-094621F"},
			files:          []string{"20261126-094621F/pg_data/base/1/1259.lz4"},
		},
		{
			name: "several", status: VerifyError,
			archives:       []VerifyArchive{{ID: "15-1", WALChecked: 1, WALValid: 1}},
			invalidBackups: []string{"20261126-094621F"},
			files: []string{
				"20261126-094621F/pg_data/base/1/1249.lz4",
				"20261126-094621F/pg_data/base/1/1259.lz4",
				"20261126-094621F/pg_data/base/1/2609.lz4",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseVerify(readText(t, "verify/"+tc.name+".stdout"), readText(t, "verify/"+tc.name+".stderr"))
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() != tc.ok || r.Status != tc.status {
				t.Errorf("OK() = %v, status %q; want %v, %q", r.OK(), r.Status, tc.ok, tc.status)
			}
			if !reflect.DeepEqual(r.Archives, tc.archives) {
				t.Errorf("archives = %+v, want %+v", r.Archives, tc.archives)
			}
			var invalid []string
			for _, b := range r.InvalidBackups() {
				invalid = append(invalid, b.Label)
			}
			if !slices.Equal(invalid, tc.invalidBackups) {
				t.Errorf("invalid backups = %v, want %v", invalid, tc.invalidBackups)
			}
			var files []string
			for _, p := range r.Problems {
				if p.File == "" {
					t.Errorf("problem without a file: %+v", p)
				}
				files = append(files, p.File)
			}
			if !slices.Equal(files, tc.files) {
				t.Errorf("files = %v, want %v", files, tc.files)
			}
			if !slices.Equal(r.Notes, tc.notes) {
				t.Errorf("notes = %q, want %q", r.Notes, tc.notes)
			}
		})
	}
}

func TestParseVerifyCounts(t *testing.T) {
	r, err := ParseVerify(readText(t, "verify/several.stdout"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := VerifyBackup{Label: "20261126-094621F", Status: "invalid", FilesChecked: 964, FilesValid: 961,
		VerifyCounts: VerifyCounts{Missing: 1, ChecksumInvalid: 2}}
	if len(r.Backups) != 1 || r.Backups[0] != want {
		t.Errorf("backups = %+v, want [%+v]", r.Backups, want)
	}
	if got := r.Backups[0].String(); got != "missing: 1, checksum invalid: 2" {
		t.Errorf("String() = %q", got)
	}
}

func TestParseVerifyRejects(t *testing.T) {
	for name, stdout := range map[string]string{
		"nothing":      "",
		"aborted":      readText(t, "verify/aborted.stdout"),
		"other stanza": "stanza: other\nstatus: ok\n",
		"status only":  "status: ok\n",
		"stanza only":  "stanza: db\n",
	} {
		if _, err := ParseVerify(stdout, ""); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseVerifyLog(t *testing.T) {
	got := ParseVerifyLog(readText(t, "verify/aborted.stderr"))
	want := []VerifyProblem{
		{Level: "ERROR", Message: "[029]: unexpected eof in compressed data"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems = %+v, want %+v", got, want)
	}
	// A warning is kept, with its continuation lines.
	got = ParseVerifyLog("INFO: verify command begin 2.45: --stanza=db\nWARN: archive.info.copy does not exist\n  and more\nINFO: stanza: db\n      status: ok\n")
	want = []VerifyProblem{{Level: "WARN", Message: "archive.info.copy does not exist and more"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems = %+v, want %+v", got, want)
	}
}

// A backup directory without a manifest is an expired backup's leftover
// when backup.info does not list it, and a problem when it does.
func TestVerifyManifestMissing(t *testing.T) {
	stdout := `stanza: db
status: ok
  archiveId: 18-1, total WAL checked: 4, total valid WAL: 4
  backup: 20261205-101010F, status: manifest missing, total files checked: 0, total valid files: 0
  backup: 20261205-111111F, status: valid, total files checked: 900, total valid files: 900
`
	r, err := ParseVerify(stdout, "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.ManifestsMissing() {
		t.Fatal("ManifestsMissing is false")
	}
	r.MarkExpired([]string{"20261205-101010F", "20261205-111111F"})
	if r.OK() || len(r.InvalidBackups()) != 1 || len(r.ExpiredBackups()) != 0 {
		t.Errorf("a listed backup without its manifest: OK %v, invalid %v, expired %v", r.OK(), r.InvalidBackups(), r.ExpiredBackups())
	}
	r.MarkExpired([]string{"20261205-111111F"})
	if !r.OK() || len(r.InvalidBackups()) != 0 || len(r.ExpiredBackups()) != 1 || r.ExpiredBackups()[0] != "20261205-101010F" {
		t.Errorf("an expired backup's directory: OK %v, invalid %v, expired %v", r.OK(), r.InvalidBackups(), r.ExpiredBackups())
	}
}
