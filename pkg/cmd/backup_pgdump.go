// backup --backup-type=pgdump and pgbasebackup: their flags, and the
// printing of the Job that pkg/backup starts and follows.

package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// PGDumpResult is what backup --backup-type=pgdump -o json|yaml prints.
type PGDumpResult = backup.DumpResult

// validatePGDump checks the pgdump flags of backup; no request is sent.
func (o *BackupOptions) validatePGDump(cmd *cobra.Command) error {
	if o.Type != "" {
		return usageErrorf(cmd, "--type is a pgBackRest backup type: it does not apply to --backup-type=%s", o.BackupType)
	}
	if o.BackupType == jobs.BackupTypePGBaseBackup {
		for _, f := range []string{"database", "dump-all"} {
			if cmd.Flags().Changed(f) {
				return usageErrorf(cmd, "--%s applies to --backup-type=pgdump only: a base backup copies the whole cluster", f)
			}
		}
	} else {
		if o.DumpAll && cmd.Flags().Changed("database") {
			return usageErrorf(cmd, "--dump-all dumps every database: it cannot be combined with --database")
		}
		if strings.TrimSpace(o.Database) == "" {
			return usageErrorf(cmd, "--database must not be empty")
		}
	}
	opts, pvc, err := backup.DumpFlags("--backup-opts", o.BackupType, o.Name, o.BackupOpts, o.DumpAll, o.PVCName, o.PVCSize)
	if err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	o.pgdumpOpts, o.PVCName = opts, pvc
	if o.Timeout < 10*time.Second {
		return usageErrorf(cmd, "--timeout=%s is too short: a dump needs at least 10s", o.Timeout)
	}
	return nil
}

// runPGDump starts a pg_dump (or pg_basebackup) Job (backup.StartDump)
// and, with --wait, follows it (backup.WaitDump).
func (o *BackupOptions) runPGDump(ctx context.Context) error {
	client, spec, err := o.clientAndSpec(ctx)
	if err != nil {
		return err
	}
	ns, what := o.namespace, o.BackupType
	req := backup.DumpRequest{Cluster: o.Name, Namespace: ns, Image: spec.Image, PostgresVersion: spec.PostgresVersion, BackupType: o.BackupType,
		Database: o.Database, All: o.DumpAll, Options: o.pgdumpOpts, PVC: o.PVCName, PVCSize: o.PVCSize, Deadline: o.Timeout}
	created, err := backup.StartDump(ctx, client, backup.Exec(o.exec), req, o.now)
	if err != nil {
		return err
	}
	result := backup.NewDumpResult(req, created)
	structured := o.Output.Format() != printers.FormatTable
	if !structured {
		fmt.Fprintf(o.Out, "%s job %s started: backup %s of database %s of cluster %s to %s on PVC %s\n",
			what, created.Name, result.Name, result.Database, o.Name, result.Path, result.PVC)
	}
	if !o.Wait {
		if structured {
			return o.Output.Print(o.Out, nil, result)
		}
		fmt.Fprintf(o.Out, "Follow it with: kubectl logs -f job/%s -n %s\nList them with: kubectl pgo show backup %s --backup-type=%s -n %s\n", created.Name, ns, o.Name, o.BackupType, ns)
		return nil
	}
	logOut := o.Out
	if structured {
		logOut = o.ErrOut
	}
	err = backup.WaitDump(ctx, client, req, created, logOut, o.ErrOut, o.interval, &result)
	switch {
	case err != nil && result.Status == backup.Failed:
		if structured {
			_ = o.Output.Print(o.Out, nil, result)
		}
		return err
	case err != nil:
		return err
	case structured:
		return o.Output.Print(o.Out, nil, result)
	}
	size := ""
	if result.Size != nil {
		size = ", " + repo.FormatBytes(*result.Size)
	}
	fmt.Fprintf(o.Out, "%s %s completed: %s%s\n", what, result.Name, result.Path, size)
	return nil
}
