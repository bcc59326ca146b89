package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

const showArchiveLong = `Show the WAL archiving of a cluster, from its database pod:

- pg_stat_archiver: how many WAL segments were archived and how many
  attempts failed, the last archived and the last failed segment, and when;
- how many segments wait to be archived (.ready files in
  pg_wal/archive_status);
- the result of pgbackrest check, which forces a WAL switch and waits for
  the segment to reach the repository (skip it with --no-check).

The command exits non-zero when archiving fails: when pgbackrest check
fails, or when the last archive attempt failed. The repository's oldest and
newest archived segments are shown by kubectl pgo show backup.

With -A or --selector, the clusters are queried in parallel; one that
cannot be read is reported without hiding the others.`

const showArchiveExample = `  # Is the WAL of cluster hippo reaching the repository?
  kubectl pgo show archive hippo

  # Every cluster, without forcing a WAL switch, as JSON
  kubectl pgo show archive -A --no-check -o json`

// The types of show archive -o json|yaml.
type (
	ArchiveStatus     = inspect.ArchiveStatus
	ArchiveStatusList = inspect.ArchiveStatusList
)

// ShowArchiveOptions holds the flags and clients of `kubectl pgo show
// archive`.
type ShowArchiveOptions struct {
	clusterScope
	NoCheck bool
	Output  *printers.OutputFlags

	exec execFunc
	genericiooptions.IOStreams
}

// NewShowArchiveOptions returns options with the defaults.
func NewShowArchiveOptions(streams genericiooptions.IOStreams) *ShowArchiveOptions {
	return &ShowArchiveOptions{Output: printers.NewOutputFlags(printers.DefaultFormats...), IOStreams: streams}
}

// NewCmdShowArchive returns `kubectl pgo show archive`.
func NewCmdShowArchive(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdShowArchive(f, NewShowArchiveOptions(streams))
}

func newCmdShowArchive(f kube.Factory, o *ShowArchiveOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"archive [NAME | -A | --selector SELECTOR]",
		"Show a cluster's WAL archiving: pg_stat_archiver, waiting WAL, pgbackrest check",
		showArchiveLong, showArchiveExample})
	fl := cmd.Flags()
	o.addFlags(cmd)
	fl.BoolVar(&o.NoCheck, "no-check", false, "Do not run pgbackrest check (which switches to a new WAL segment).")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	o.Output.AddFlags(cmd)
	return cmd
}

// Complete takes NAME or the scope, and the namespace; it sends no request.
func (o *ShowArchiveOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	return o.completeShow(f, cmd, args, &o.exec)
}

// Validate checks -o and the scope; it sends no request.
func (o *ShowArchiveOptions) Validate(cmd *cobra.Command) error {
	return o.validateShow(cmd, o.Output)
}

// Run reads the clusters' archiving and prints it.
func (o *ShowArchiveOptions) Run(ctx context.Context) error {
	client, targets, err := o.findTargets(ctx, o.Output, o.IOStreams, ArchiveStatusList{Items: []ArchiveStatus{}})
	if err != nil || len(targets) == 0 {
		return err
	}
	results := forEachCluster(targets, func(t clusterTarget) ArchiveStatus {
		return inspect.Archive(ctx, client, o.exec, t.Namespace, t.Name, o.NoCheck)
	})
	if !o.multi() && results[0].Error != "" {
		if err := o.missing(ctx, client); err != nil {
			return err
		}
		return fmt.Errorf("cannot show the archiving of cluster %q: %s", o.Name, results[0].Error)
	}
	switch o.Output.Format() {
	case printers.FormatTable:
		err = writeArchiveText(o.Out, results)
	default:
		if o.multi() {
			err = o.Output.Print(o.Out, nil, ArchiveStatusList{Items: results})
		} else {
			err = o.Output.Print(o.Out, nil, results[0])
		}
	}
	if err != nil {
		return err
	}
	if err := clustersNotRead(results, func(r ArchiveStatus) (string, string, string) { return r.Namespace, r.Cluster, r.Error }); err != nil {
		return err
	}
	var failing []string
	for _, r := range results {
		if !r.Healthy {
			failing = append(failing, fmt.Sprintf("cluster %s/%s: %s", r.Namespace, r.Cluster, strings.Join(r.Problems, "; ")))
		}
	}
	if len(failing) > 0 {
		return fmt.Errorf("WAL archiving fails:\n  %s", strings.Join(failing, "\n  "))
	}
	return nil
}

// writeArchiveText writes the readable view: a block per cluster.
func writeArchiveText(w io.Writer, results []ArchiveStatus) error {
	var b bytes.Buffer
	line := func(level int, format string, args ...any) {
		b.WriteString(strings.Repeat("    ", level))
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\n")
	}
	at := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 MST")
	}
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n")
		}
		line(0, "cluster: %s (namespace %s)", r.Cluster, r.Namespace)
		if r.Error != "" {
			line(1, "error: %s", r.Error)
		}
		if a := r.Archiver; a != nil {
			line(1, "archive mode: %s, command: %s", a.ArchiveMode, a.ArchiveCommand)
			last := "none yet"
			if a.LastArchivedWAL != "" {
				last = fmt.Sprintf("%s at %s", a.LastArchivedWAL, at(a.LastArchivedTime))
			}
			line(1, "archived: %d, last: %s", a.ArchivedCount, last)
			failed := "none"
			if a.LastFailedWAL != "" {
				failed = fmt.Sprintf("%s at %s", a.LastFailedWAL, at(a.LastFailedTime))
				if a.Failing() {
					failed += " (failing now)"
				} else {
					failed += " (archived since)"
				}
			}
			line(1, "failed: %d, last: %s", a.FailedCount, failed)
			line(1, "waiting to be archived (.ready): %d", a.ReadyCount)
			if a.CurrentWAL != "" {
				line(1, "current WAL segment: %s", a.CurrentWAL)
			}
			if a.StatsReset != nil {
				line(1, "counted since: %s", at(a.StatsReset))
			}
		}
		if c := r.Check; c != nil {
			if c.OK {
				msg := "ok"
				if c.ArchivedWAL != "" {
					msg += fmt.Sprintf(" (WAL segment %s reached the repository)", c.ArchivedWAL)
				}
				line(1, "pgbackrest check: %s", msg)
			} else {
				line(1, "pgbackrest check: failed with exit code %d", c.ExitCode)
				for _, e := range c.Errors {
					line(2, "%s", e)
				}
			}
		}
		status := "ok"
		if !r.Healthy && r.Error == "" {
			status = "failing: " + strings.Join(r.Problems, "; ")
		} else if r.Error != "" {
			status = "unknown"
		}
		line(1, "archiving: %s", status)
	}
	_, err := w.Write(b.Bytes())
	return err
}
