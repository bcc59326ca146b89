package repo

import (
	"strings"
	"testing"
	"time"
)

func TestParseRestoreOptions(t *testing.T) {
	tests := []struct {
		in       string
		wantArgs string
		wantTime string // the time target, after Normalize
	}{
		{in: "", wantArgs: "--delta --log-level-console=info"},
		{in: "--delta", wantArgs: "--delta --log-level-console=info"},
		{in: "--set=20261124-120000F", wantArgs: "--delta --set=20261124-120000F --log-level-console=info"},
		{in: "--set 20261124-120000F_20261124-130000I --type=immediate",
			wantArgs: "--delta --set=20261124-120000F_20261124-130000I --type=immediate --target-action=promote --log-level-console=info"},
		{in: `--type=time --target='2026-11-24 12:00:00+00'`,
			wantArgs: "--delta --type=time --target=2026-11-24 12:00:00+00 --target-action=promote --log-level-console=info",
			wantTime: "2026-11-24T12:00:00Z"},
		{in: `--type=time "--target=2026-11-24T13:30:00.5+01:30" --target-action=pause --target-exclusive`,
			wantArgs: "--delta --type=time --target=2026-11-24 12:00:00.5+00 --target-exclusive --target-action=pause --log-level-console=info",
			wantTime: "2026-11-24T12:00:00.5Z"},
		{in: "--type=xid --target=1234 --no-target-exclusive",
			wantArgs: "--delta --type=xid --target=1234 --target-action=promote --log-level-console=info"},
		{in: "--type=lsn --target=0/3000028 --target-timeline=latest",
			wantArgs: "--delta --type=lsn --target=0/3000028 --target-action=promote --target-timeline=latest --log-level-console=info"},
		{in: "--type=name --target=before_migration",
			wantArgs: "--delta --type=name --target=before_migration --target-action=promote --log-level-console=info"},
		{in: "--db-include=app --db-include=postgres --recovery-option=recovery_min_apply_delay=0 --process-max=4 --force --link-all --repo=1 --log-level-console=detail",
			wantArgs: "--delta --force --repo=1 --db-include=app --db-include=postgres --recovery-option=recovery_min_apply_delay=0 --process-max=4 --link-all --log-level-console=detail"},
		{in: "--force=y --link-all=n", wantArgs: "--delta --force --log-level-console=info"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			o, err := ParseRestoreOptions(tc.in)
			if err != nil {
				t.Fatalf("ParseRestoreOptions: %v", err)
			}
			target, err := o.Normalize()
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if got := strings.Join(o.Args(), " "); got != tc.wantArgs {
				t.Errorf("args:\n got %s\nwant %s", got, tc.wantArgs)
			}
			var gotTime string
			if !target.IsZero() {
				gotTime = target.UTC().Format(time.RFC3339Nano)
			}
			if gotTime != tc.wantTime {
				t.Errorf("time target = %q, want %q", gotTime, tc.wantTime)
			}
		})
	}
}

func TestParseRestoreOptionsRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"--stanza=other", "--stanza cannot be given: kubectl pgo uses the cluster's stanza, db"},
		{"--pg1-path=/tmp/x", "--pg1-path cannot be given: the database and repository settings come from the cluster"},
		{"--repo1-host=evil", "--repo1-host cannot be given"},
		{"--repo-path=/x", "--repo-path cannot be given"},
		{"--config=/tmp/c", "--config cannot be given"},
		{"--archive-mode=off", "--archive-mode cannot be given: archiving must go on"},
		{"--tablespace-map-all=/x", "--tablespace-map-all cannot be given"},
		{"--bogus", "--bogus is not a restore option kubectl pgo accepts: use --db-include, --delta, --force"},
		{"--set=latest", `--set: "latest" is not a backup label`},
		{"--set", "--set needs a value"},
		{"--set --delta", "--set needs a value"},
		{"--type=standby", "--type: standby is not supported"},
		{"--type=preserve", "--type: preserve is not supported"},
		{"--type=bogus", `--type: "bogus" is not a recovery type`},
		{"--target-action=shutdown", "--target-action: shutdown is not supported"},
		{"--target-action=stop", `"stop" is not a target action`},
		{"--target-timeline=next", `"next" is not a timeline`},
		{"--process-max=0", "--process-max: \"0\" is not a number of processes"},
		{"--no-delta", "a restore always uses --delta"},
		{"--delta=n", "a restore always uses --delta"},
		{"--force=yes", "--force=yes: use y or n"},
		{"--no-force=y", "--no-force takes no value"},
		{"--recovery-option=recovery_target_time=x", "recovery_target_time is set by --type"},
		{"--recovery-option=restore_command=cp", "restore_command is written by pgBackRest"},
		{"--recovery-option=novalue", `"novalue" is not a setting`},
		{"--log-level-console=loud", `"loud" is not a log level`},
		{"--set=20261124-120000F --set=20261124-120000F", "--set is given more than once"},
		{"set=20261124-120000F", `"set=20261124-120000F" is not an option`},
		{"--target='2026-11-24", "the quote ' is not closed"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseRestoreOptions(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestNormalizeRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"--target=1234", "--target needs --type=time, xid, lsn or name"},
		{"--type=time", "--type=time needs a --target"},
		{"--type=time --target=yesterday", `"yesterday" is not a valid point-in-time target`},
		{"--type=time '--target=2026-11-24 12:00:00'", "it has no time zone"},
		{"--type=xid --target=abc", "--target=abc is not a transaction ID"},
		{"--type=lsn --target=3000028", "--target=3000028 is not an LSN"},
		{"--type=name --target=x --target-exclusive", "--target-exclusive applies to --type=time, xid or lsn, not name"},
		{"--target-action=pause", "--target-action needs a target"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			o, err := ParseRestoreOptions(tc.in)
			if err != nil {
				t.Fatalf("ParseRestoreOptions: %v", err)
			}
			_, err = o.Normalize()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestWithTimeTarget(t *testing.T) {
	target := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, in := range []string{"", "--type=time", "--target-action=pause --set=20261124-110000F"} {
		o, err := ParseRestoreOptions(in)
		if err != nil {
			t.Fatal(err)
		}
		o, err = o.WithTimeTarget(target)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		got, err := o.Normalize()
		if err != nil || !got.Equal(target) || o.Type != RecoveryTime || o.Target != "2026-11-24 12:00:00+00" {
			t.Errorf("%q: %+v, %v, %v", in, o, got, err)
		}
		if o.TargetAction == "" {
			t.Errorf("%q: no target action", in)
		}
	}
	for in, want := range map[string]string{
		"--type=xid --target=5":                "conflicts with --type=xid",
		"--type=time '--target=2026-11-24 1Z'": "both give the target",
	} {
		o, err := ParseRestoreOptions(in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.WithTimeTarget(target); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error = %v, want %q", in, err, want)
		}
	}
}

func TestSplitWords(t *testing.T) {
	tests := map[string][]string{
		``:                       nil,
		`  a  b `:                {"a", "b"},
		`--target='a b' c`:       {"--target=a b", "c"},
		`"--x=\"q\"" 'it'\''s'`:  {`--x="q"`, "it's"},
		`a\ b`:                   {"a b"},
		`''`:                     {""},
		"--a=1\t--b=2\n--c=3":    {"--a=1", "--b=2", "--c=3"},
		`--target="12:00:00+00"`: {"--target=12:00:00+00"},
	}
	for in, want := range tests {
		got, err := splitWords(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{`'open`, `"open`, `end\`} {
		if _, err := splitWords(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestIsBackupLabel(t *testing.T) {
	for label, want := range map[string]bool{
		"20261120-010000F":                  true,
		"20261120-010000F_20261121-010000D": true,
		"20261120-010000F_20261122-010000I": true,
		"20261120-010000D":                  false,
		"20261120-010000F_20261121-010000F": false,
		"latest":                            false,
		"":                                  false,
	} {
		if got := IsBackupLabel(label); got != want {
			t.Errorf("IsBackupLabel(%q) = %v, want %v", label, got, want)
		}
	}
}
