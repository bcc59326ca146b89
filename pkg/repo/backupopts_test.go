package repo

import (
	"strings"
	"testing"
)

func TestParseBackupOptions(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantArgs []string
		wantType string
		wantErr  string
	}{
		{name: "empty", in: "", wantArgs: nil},
		{name: "blank", in: "  \t ", wantArgs: nil},
		{name: "type", in: "--type=full", wantArgs: []string{"--type=full"}, wantType: "full"},
		{name: "value after a space", in: "--type diff --process-max 4", wantArgs: []string{"--type=diff", "--process-max=4"}, wantType: "diff"},
		{
			name:     "common options",
			in:       "--type=incr --process-max=2 --compress-type=zst --compress-level=3 --buffer-size=2MiB --no-archive-copy --archive-check --resume --delta --log-level-console=detail",
			wantArgs: []string{"--type=incr", "--process-max=2", "--compress-type=zst", "--compress-level=3", "--buffer-size=2MiB", "--no-archive-copy", "--archive-check", "--resume", "--delta", "--log-level-console=detail"},
			wantType: "incr",
		},
		{name: "start-fast negated", in: "--no-start-fast", wantArgs: []string{"--no-start-fast"}},
		{name: "annotations, quoted, twice", in: `--annotation=reason="before upgrade" --annotation 'owner=Jane Doe'`, wantArgs: []string{"--annotation=reason=before upgrade", "--annotation=owner=Jane Doe"}},
		{name: "indexed retention", in: "--repo1-retention-full=3 --repo1-retention-diff=2", wantArgs: []string{"--repo1-retention-full=3", "--repo1-retention-diff=2"}},
		{name: "timeouts", in: "--io-timeout=5 --archive-timeout=120.5", wantArgs: []string{"--io-timeout=5", "--archive-timeout=120.5"}},
		{name: "buffer size in bytes", in: "--buffer-size=65536", wantArgs: []string{"--buffer-size=65536"}},

		{name: "stanza", in: "--stanza=other", wantErr: "option --stanza is managed by kubectl-pgo and cannot be passed in --backup-opts"},
		{name: "repo path", in: "--repo1-path=/tmp", wantErr: "option --repo1-path is managed by kubectl-pgo"},
		{name: "deprecated repo path", in: "--repo-path=/tmp", wantErr: "option --repo-path is managed by kubectl-pgo"},
		{name: "repo host", in: "--repo1-host-port=1", wantErr: "option --repo1-host-port is managed by kubectl-pgo"},
		{name: "pg host", in: "--pg1-host=evil", wantErr: "option --pg1-host is managed by kubectl-pgo"},
		{name: "pg path", in: "--pg2-path=/x", wantErr: "option --pg2-path is managed by kubectl-pgo"},
		{name: "pg port", in: "--pg1-port=5433", wantErr: "option --pg1-port is managed by kubectl-pgo"},
		{name: "config", in: "--config=/x", wantErr: "option --config is managed by kubectl-pgo"},
		{name: "config path", in: "--config-include-path=/x", wantErr: "option --config-include-path is managed by kubectl-pgo"},
		{name: "log path", in: "--log-path=/x", wantErr: "option --log-path is managed by kubectl-pgo"},
		{name: "lock path", in: "--lock-path=/x", wantErr: "option --lock-path is managed by kubectl-pgo"},
		{name: "s3", in: "--repo1-s3-bucket=b", wantErr: "option --repo1-s3-bucket is managed by kubectl-pgo"},
		{name: "online", in: "--no-online", wantErr: "option --online is managed by kubectl-pgo"},
		{name: "tablespace map", in: "--tablespace-map-all", wantErr: "option --tablespace-map-all is managed by kubectl-pgo"},
		{name: "cipher", in: "--repo1-cipher-type=aes-256-cbc", wantErr: "option --repo1-cipher-type is managed by kubectl-pgo"},

		{name: "unknown", in: "--bogus=1", wantErr: "option --bogus is unknown or not supported in --backup-opts; supported options: --annotation, "},
		{name: "restore option", in: "--target=x", wantErr: "option --target is unknown or not supported"},
		{name: "standby", in: "--backup-standby", wantErr: "option --backup-standby is managed by kubectl-pgo"},
		{name: "not an option", in: "full", wantErr: `unexpected "full" in --backup-opts: pgBackRest options start with --`},
		{name: "short option", in: "-t full", wantErr: `unexpected "-t" in --backup-opts`},
		{name: "bad type", in: "--type=bogus", wantErr: `option --type: "bogus" is not allowed: use one of full, diff, incr`},
		{name: "process-max zero", in: "--process-max=0", wantErr: `option --process-max: "0" is not allowed: use an integer from 1 to 999`},
		{name: "process-max text", in: "--process-max=many", wantErr: `option --process-max: "many" is not allowed`},
		{name: "bad buffer size", in: "--buffer-size=3MiB", wantErr: `option --buffer-size: "3MiB" is not allowed: use one of 16KiB, `},
		{name: "not a size", in: "--buffer-size=lots", wantErr: `option --buffer-size: "lots" is not a size`},
		{name: "bad compress type", in: "--compress-type=rar", wantErr: `option --compress-type: "rar" is not allowed`},
		{name: "boolean with a value", in: "--start-fast=y", wantErr: "option --start-fast takes no value: write --start-fast or --no-start-fast"},
		{name: "value missing at the end", in: "--type", wantErr: "option --type needs a value (--type=VALUE)"},
		{name: "value missing before an option", in: "--type --delta", wantErr: "option --type needs a value"},
		{name: "empty value", in: "--type=", wantErr: "option --type: the value is empty"},
		{name: "negated non-boolean", in: "--no-type", wantErr: "option --type is not a boolean and cannot be negated"},
		{name: "twice", in: "--type=full --type=diff", wantErr: "option --type is given more than once in --backup-opts"},
		{name: "boolean twice", in: "--start-fast --no-start-fast", wantErr: "option --no-start-fast is given more than once"},
		{name: "annotation without key", in: "--annotation=novalue", wantErr: `option --annotation: "novalue" is not allowed: use key=value`},
		{name: "timeout zero", in: "--io-timeout=0", wantErr: `option --io-timeout: "0" is not allowed`},
		{name: "unterminated quote", in: `--annotation='a=b`, wantErr: "--backup-opts: unterminated single quote"},
		{name: "every error at once", in: "--stanza=x --bogus", wantErr: "option --stanza is managed by kubectl-pgo and cannot be passed in --backup-opts\noption --bogus is unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseBackupOptions(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want prefix %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseBackupOptions(%q): %v", tc.in, err)
			}
			if strings.Join(got.Args, "|") != strings.Join(tc.wantArgs, "|") {
				t.Errorf("args = %q, want %q", got.Args, tc.wantArgs)
			}
			if got.Type != tc.wantType {
				t.Errorf("type = %q, want %q", got.Type, tc.wantType)
			}
		})
	}
}

func TestBackupOptionsHas(t *testing.T) {
	o, err := ParseBackupOptions("--no-start-fast --repo1-retention-full=2 --log-level-console=warn")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"start-fast": true, "repo-retention-full": true, "log-level-console": true, "type": false, "delta": false} {
		if o.Has(name) != want {
			t.Errorf("Has(%q) = %v, want %v", name, !want, want)
		}
	}
}

func TestSplitWordsOfBackupOptions(t *testing.T) {
	tests := map[string][]string{
		`a b  c`:           {"a", "b", "c"},
		`'a b' "c d"`:      {"a b", "c d"},
		`a\ b`:             {"a b"},
		`--x="say \"hi\""`: {`--x=say "hi"`},
		`--x='it''s'`:      {"--x=its"},
		`--x=""`:           {"--x="},
		"--a\n--b\t--c":    {"--a", "--b", "--c"},
		`"a\nb"`:           {`a\nb`},
		`--annotation=k=v`: {"--annotation=k=v"},
		``:                 nil,
	}
	for in, want := range tests {
		got, err := SplitWords(in)
		if err != nil {
			t.Errorf("SplitWords(%q): %v", in, err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("SplitWords(%q) = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{`'open`, `"open`, `a "b`} {
		if _, err := SplitWords(in); err == nil {
			t.Errorf("SplitWords(%q) accepted an unterminated quote", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "16KiB": 16 << 10, "16kb": 16 << 10, "16k": 16 << 10, "1MiB": 1 << 20, "2GB": 2 << 30, "1048576": 1 << 20} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1.5MiB", "-1", "1XB", "1ib"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted it", in)
		}
	}
}
