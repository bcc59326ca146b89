package printers

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// columnGap separates columns; three spaces is what kubectl get uses.
const columnGap = "   "

// Table is a header row plus data rows, rendered like `kubectl get`:
// uppercase headers, left-aligned columns, no borders.
type Table struct {
	Headers []string
	Rows    [][]string
}

// NewTable returns an empty table with the given column headers.
func NewTable(headers ...string) *Table {
	return &Table{Headers: headers}
}

// AddRow appends one row; it should have one cell per header.
func (t *Table) AddRow(cells ...string) {
	t.Rows = append(t.Rows, cells)
}

// Render writes the table to w. A table without rows prints only its
// headers; callers that want a "nothing found" message print it themselves.
func (t *Table) Render(w io.Writer) error {
	for i, row := range t.Rows {
		if len(row) != len(t.Headers) {
			return fmt.Errorf("table row %d has %d cells, want %d (one per header)", i, len(row), len(t.Headers))
		}
	}

	headers := make([]string, len(t.Headers))
	for i, h := range t.Headers {
		headers[i] = strings.ToUpper(h)
	}

	cell := tw.CellConfig{
		// AutoFormat would also rewrite "_" and "." in headers; we only
		// want uppercase, which is done above.
		Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
		Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		Padding:    tw.CellPadding{Global: tw.Padding{Right: columnGap, Overwrite: true}},
	}
	// Render into a buffer first: tablewriter pads the last column too, and
	// trailing blanks make output awkward to diff and to parse with awk.
	var buf bytes.Buffer
	table := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithConfig(tablewriter.Config{Header: cell, Row: cell}),
		// Keep cells as given: empty cells and deliberate spacing matter.
		tablewriter.WithTrimSpace(tw.Off),
	)
	table.Header(toAny(headers)...)
	for _, row := range t.Rows {
		if err := table.Append(row); err != nil {
			return fmt.Errorf("render table: %w", err)
		}
	}
	if err := table.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}

	var out strings.Builder
	for line := range strings.Lines(buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
