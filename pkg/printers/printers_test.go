package printers

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// assertGolden compares got with testdata/<name>.golden, or rewrites the
// file when the test runs with -update.
func assertGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update if intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

type sample struct {
	Name     string            `json:"name"`
	Replicas int               `json:"replicas"`
	Ready    bool              `json:"ready"`
	Labels   map[string]string `json:"labels,omitempty"`
	Backups  []string          `json:"backups"`
}

func sampleTable() *Table {
	t := NewTable("Name", "Ready", "Last Backup", "Age")
	t.AddRow("hippo", "2/2", "2024-05-01T02:00:00Z", "3d")
	t.AddRow("a-much-longer-cluster-name", "0/1", "", "12m")
	t.AddRow("zebra", "1/1", "<none>", "45s")
	return t
}

func sampleValue() []sample {
	return []sample{
		{Name: "hippo", Replicas: 2, Ready: true, Labels: map[string]string{"team": "db", "env": "prod"}, Backups: []string{"full", "incr"}},
		{Name: "zebra", Replicas: 1, Backups: []string{}},
	}
}

func TestPrintGolden(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		table  *Table
	}{
		{name: "table", format: FormatTable, table: sampleTable()},
		{name: "table_no_rows", format: FormatTable, table: NewTable("name", "status")},
		{name: "json", format: FormatJSON},
		{name: "yaml", format: FormatYAML},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Print(&buf, tc.format, tc.table, sampleValue()); err != nil {
				t.Fatalf("Print: %v", err)
			}
			assertGolden(t, tc.name, buf.Bytes())
		})
	}
}

func TestTableHasNoTrailingBlanks(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleTable().Render(&buf); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("line %d has trailing blanks: %q", i, line)
		}
	}
}

func TestTableRejectsRaggedRows(t *testing.T) {
	tbl := NewTable("a", "b")
	tbl.AddRow("only-one")
	err := tbl.Render(&bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "row 0 has 1 cells, want 2") {
		t.Fatalf("got error %v, want a ragged-row error", err)
	}
}

func TestPrintErrors(t *testing.T) {
	tests := []struct {
		name    string
		format  Format
		table   *Table
		wantErr string
	}{
		{name: "unknown format", format: "xml", wantErr: `unknown output format "xml"`},
		{name: "table without table", format: FormatTable, wantErr: `output format "table" is not supported here`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Print(&bytes.Buffer{}, tc.format, tc.table, nil)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestOutputFlags(t *testing.T) {
	tests := []struct {
		name       string
		allowed    []Format
		args       []string
		wantFormat Format
		wantErr    string
	}{
		{name: "default is first allowed", wantFormat: FormatTable},
		{name: "short flag", args: []string{"-o", "json"}, wantFormat: FormatJSON},
		{name: "long flag", args: []string{"--output=yaml"}, wantFormat: FormatYAML},
		{name: "custom default", allowed: []Format{FormatYAML, FormatJSON}, wantFormat: FormatYAML},
		{
			name:    "unknown format",
			args:    []string{"-o", "xml"},
			wantErr: `invalid output format "xml": allowed formats are table, json, yaml`,
		},
		{
			name:    "format the command does not offer",
			allowed: []Format{FormatJSON, FormatYAML},
			args:    []string{"-o", "table"},
			wantErr: `invalid output format "table": allowed formats are json, yaml`,
		},
		{
			name:    "empty",
			args:    []string{"-o", ""},
			wantErr: `invalid output format "": allowed formats are table, json, yaml`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOutputFlags(tc.allowed...)
			cmd := &cobra.Command{Use: "test"}
			o.AddFlags(cmd)
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatalf("parse flags: %v", err)
			}
			err := o.Validate()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Validate() = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if got := o.Format(); got != tc.wantFormat {
				t.Errorf("Format() = %q, want %q", got, tc.wantFormat)
			}
		})
	}
}

func TestNewOutputFlagsCopiesAllowed(t *testing.T) {
	allowed := []Format{FormatJSON}
	o := NewOutputFlags(allowed...)
	allowed[0] = FormatYAML
	if o.Allowed[0] != FormatJSON {
		t.Errorf("OutputFlags shares the caller's slice")
	}
}

func TestTableKeepsLongCellsOnOneLine(t *testing.T) {
	long := strings.Repeat("pgbackrest full backup of stanza db ", 8)
	tbl := NewTable("name", "message")
	tbl.AddRow("hippo", long)
	var buf bytes.Buffer
	if err := tbl.Render(&buf); err != nil {
		t.Fatal(err)
	}
	want := "NAME    MESSAGE\nhippo   " + strings.TrimSpace(long) + "\n"
	if buf.String() != want {
		t.Errorf("got\n%q\nwant\n%q", buf.String(), want)
	}
}
