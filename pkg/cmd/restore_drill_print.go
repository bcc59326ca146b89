// The report of restore-drill, as a table or with -o.

package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

// print writes the report in the format -o asks for.
func (o *RestoreDrillOptions) print(r DrillReport) error {
	if o.Output.Format() != printers.FormatTable {
		return o.Output.Print(o.Out, nil, r)
	}
	return writeDrillReport(o.Out, r)
}

// writeDrillReport writes the readable report.
func writeDrillReport(w io.Writer, r DrillReport) error {
	var b strings.Builder
	result := "PASSED"
	if !r.Passed {
		result = "FAILED"
	}
	fmt.Fprintf(&b, "Restore drill of cluster %s (namespace %s): %s\n", r.Cluster, r.Namespace, result)
	fmt.Fprintf(&b, "  backup:          %s (%s), restored to %s\n", r.Backup, r.BackupType, r.Target)
	state := "removed"
	switch {
	case r.Kept:
		state = fmt.Sprintf("kept (remove it with kubectl pgo delete cluster %s -n %s --yes)", r.DrillCluster, r.Namespace)
	case !r.Removed:
		state = "NOT removed: " + r.Cleanup
	}
	fmt.Fprintf(&b, "  drill cluster:   %s, %s\n", r.DrillCluster, state)
	if r.RestoreDuration != "" {
		fmt.Fprintf(&b, "  restore:         %s (cluster created, backup restored, database started)\n", r.RestoreDuration)
	}
	switch {
	case r.Check == DrillCheckSQL:
		fmt.Fprintf(&b, "  check:           --check-sql %s\n", r.SQL)
	case r.Databases != nil:
		fmt.Fprintf(&b, "  check:           every table counted: %d database(s), %d table(s), %d row(s)\n", len(r.Databases), r.Tables, r.Rows)
	default:
		b.WriteString("  check:           every table counted\n")
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "  error:           %s\n", r.Error)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if r.SQLOutput != "" {
		fmt.Fprintf(w, "\n%s\n", r.SQLOutput)
	}
	if r.Tables == 0 {
		return nil
	}
	t := printers.NewTable("Database", "Schema", "Table", "Rows")
	for _, d := range r.Databases {
		for _, tb := range d.Tables {
			t.AddRow(d.Name, tb.Schema, tb.Name, fmt.Sprint(tb.Rows))
		}
	}
	fmt.Fprintln(w)
	return t.Render(w)
}
