package inspect

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

// WriteBackupsText writes the readable view of show backup: a block per
// cluster, its repository (repo.Summary) and its backup Jobs.
func WriteBackupsText(w io.Writer, results []ClusterBackups, now time.Time) error {
	var b bytes.Buffer
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "cluster: %s (namespace %s)\n", r.Cluster, r.Namespace)
		if r.Error != "" {
			fmt.Fprintf(&b, "error: %s\n", r.Error)
		}
		if r.Repository != nil {
			if err := r.Repository.WriteText(&b, ""); err != nil {
				return err
			}
		}
		if len(r.Jobs) > 0 {
			b.WriteString("\nbackup jobs:\n")
			t := printers.NewTable("Name", "Type", "State", "Started", "Duration")
			for _, j := range r.Jobs {
				state := j.State
				if j.Reason != "" {
					state += " (" + j.Reason + ")"
				}
				started, took := "-", "-"
				if j.Start != nil {
					started = j.Start.Format("2006-01-02 15:04:05 MST")
					end := now
					if j.Completion != nil {
						end = *j.Completion
					}
					took = end.Sub(*j.Start).Round(time.Second).String()
				}
				t.AddRow(j.Name, j.Type, state, started, took)
			}
			var tb bytes.Buffer
			if err := t.Render(&tb); err != nil {
				return err
			}
			for line := range strings.Lines(tb.String()) {
				b.WriteString("    " + line)
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
