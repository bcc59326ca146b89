// show backup --backup-type=pgdump and pgbasebackup: the dumps that
// pkg/backup lists, printed per cluster.

package cmd

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// PGDump is one dump, as show backup --backup-type=pgdump lists it.
type PGDump = backup.Dump

// PGDumpList is what show backup --backup-type=pgdump -o json|yaml prints.
type PGDumpList = backup.DumpList

// PGDumpLists is what show backup --backup-type=pgdump -A|--selector -o
// json|yaml prints: one list per cluster.
type PGDumpLists = backup.DumpLists

func (o *ShowBackupOptions) runPGDump(ctx context.Context) error {
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return kubeconfigError(err)
	}
	targets, err := o.targets(ctx, client)
	if err != nil {
		return err
	}
	structured := o.Output.Format() != printers.FormatTable
	if o.multi() && len(targets) == 0 {
		if !structured {
			fmt.Fprintf(o.ErrOut, "No clusters found %s.\n", o.describe())
			return nil
		}
		return o.Output.Print(o.Out, nil, PGDumpLists{Items: []PGDumpList{}})
	}
	// The Jobs of every target, in one request.
	ns, name := targets[0].Namespace, o.Name
	for _, t := range targets {
		if t.Namespace != ns {
			ns = ""
		}
	}
	dumps, err := backup.ListDumps(ctx, client, ns, jobs.DumpSelector(o.BackupType, name).String(), true)
	if err != nil {
		return err
	}
	byCluster := map[clusterTarget][]PGDump{}
	for _, d := range dumps {
		t := clusterTarget{Name: d.Cluster, Namespace: d.Namespace}
		byCluster[t] = append(byCluster[t], d)
	}
	lists, total := make([]PGDumpList, len(targets)), 0
	for i, t := range targets {
		total += len(byCluster[t])
		lists[i] = PGDumpList{Cluster: t.Name, Namespace: t.Namespace, Dumps: byCluster[t]}
		if lists[i].Dumps == nil {
			lists[i].Dumps = []PGDump{}
		}
	}
	switch {
	case structured && o.multi():
		return o.Output.Print(o.Out, nil, PGDumpLists{Items: lists})
	case structured:
		return o.Output.Print(o.Out, nil, lists[0])
	case !o.multi() && len(lists[0].Dumps) == 0:
		_, err := fmt.Fprintf(o.Out, "cluster %s has no %s backups: make one with kubectl pgo backup %s --backup-type=%s -n %s\n", o.Name, o.BackupType, o.Name, o.BackupType, o.namespace)
		return err
	case o.multi() && total == 0:
		_, err := fmt.Fprintf(o.ErrOut, "No %s backups of the %d clusters found %s.\n", o.BackupType, len(targets), o.describe())
		return err
	}
	return writePGDumps(o.Out, lists, o.multi())
}

// writePGDumps writes the table of dumps; with many clusters, each row
// names its namespace and cluster.
func writePGDumps(w io.Writer, lists []PGDumpList, multi bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "NAME\tTIME\tDATABASE\tSIZE\tPVC\tPATH\tJOB\tSTATUS"
	if multi {
		header = "NAMESPACE\tCLUSTER\t" + header
	}
	fmt.Fprintln(tw, header)
	for _, l := range lists {
		for _, d := range l.Dumps {
			size := "-"
			if d.Size != nil {
				size = repo.FormatBytes(*d.Size)
			}
			if multi {
				fmt.Fprintf(tw, "%s\t%s\t", d.Namespace, d.Cluster)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Time.Format(time.RFC3339), d.Database, size, d.PVC, d.Path, d.Job, d.JobStatus)
		}
	}
	return tw.Flush()
}
