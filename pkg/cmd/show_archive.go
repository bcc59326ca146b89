package cmd

import (
	"context"
	"fmt"
	"strings"

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
  the segment to reach the repository (skip it with --no-check);
- the WAL missing from each repository's archive: segments dropped when
  the archive-push queue of asynchronous archiving was full
  (--pgbackrest-archive-push-queue-max), or lost. A recovery cannot pass
  them; a backup that starts after them is where recovery starts again.

The command exits non-zero when archiving fails: when pgbackrest check
fails, when the last archive attempt failed, or when WAL is missing after
the newest backup's start. The repository's oldest and newest archived
segments are shown by kubectl pgo show backup.

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
		err = inspect.WriteArchiveText(o.Out, results)
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
