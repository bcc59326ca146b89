// restore --backup-type=pgdump and pgbasebackup: their flags, the choice
// of the dump and the prompt; pkg/backup finds, checks, starts and follows.

package cmd

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// validatePGDump checks the flags of restore --backup-type=pgdump or
// pgbasebackup; no request is sent.
func (o *RestoreOptions) validatePGDump(cmd *cobra.Command) error {
	base := o.BackupType == jobs.BackupTypePGBaseBackup
	if o.BackupName != "" && o.PITRTarget != "" {
		return usageErrorf(cmd, "give --backup-name or --pitr-target, not both")
	}
	if o.PITRTarget != "" {
		t, err := time.Parse(jobs.PGDumpTimestampLayout, o.PITRTarget)
		if err != nil {
			if t, err = repo.ParseTarget(o.PITRTarget); err != nil {
				return usageErrorf(cmd, "invalid --pitr-target: %v", err)
			}
		}
		o.target = t
	}
	if o.BackupName != "" {
		if _, err := time.Parse(jobs.PGDumpTimestampLayout, o.BackupName); err != nil {
			return usageErrorf(cmd, "invalid --backup-name %q: a %s backup is named by its UTC timestamp, e.g. 2026-11-24-12-00-00 (see kubectl pgo show backup %s --backup-type=%s)", o.BackupName, o.BackupType, o.Name, o.BackupType)
		}
	}
	if base {
		if o.BackupOpts != "" {
			return usageErrorf(cmd, "--backup-opts does not apply to --backup-type=%s: a base backup is restored whole, to its end", o.BackupType)
		}
		if o.PGDumpDatabase != "" {
			return usageErrorf(cmd, "--pgdump-database applies to --backup-type=pgdump only: a base backup restores every database")
		}
		if o.BackupPVC == "" {
			o.BackupPVC = jobs.DefaultPGBaseBackupPVCName(o.Name)
		}
	} else {
		opts, err := backup.ParseToolOptions("--backup-opts", o.BackupOpts, backup.PGRestoreOptions, "pg_restore")
		if err != nil {
			return usageErrorf(cmd, "%v", err)
		}
		o.pgdumpOpts = opts
		if o.BackupPVC == "" {
			o.BackupPVC = jobs.DefaultPGDumpPVCName(o.Name)
		}
	}
	if err := validateObjectName("--backup-pvc", o.BackupPVC); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return nil
}

// findPGBackup returns the completed dump (or base backup) to restore from
// the Jobs of --backup-type of cluster clusterName (of every cluster when
// empty): the one named by --backup-name, the latest made at or before
// --pitr-target, or the latest on --backup-pvc (backup.FindDump). what
// names the kind, for the errors.
func (o *RestoreOptions) findPGBackup(ctx context.Context, clusterName, what string) (*backup.Dump, error) {
	return backup.FindDump(ctx, o.client, backup.DumpQuery{Cluster: o.Name, Namespace: o.namespace, BackupType: o.BackupType,
		PVC: o.BackupPVC, Name: o.BackupName, Target: o.target}, jobs.DumpSelector(o.BackupType, clusterName), what)
}

// runPGDump restores a dump with a Job running pg_restore (psql for a
// pg_dumpall file). The dump may be another cluster's: --backup-pvc
// names the PVC, as in PGO v4, and its dumps are found by their Jobs.
func (o *RestoreOptions) runPGDump(ctx context.Context) error {
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return kubeconfigError(err)
	}
	o.client = client
	ns, name := o.namespace, o.Name
	spec, err := readClusterSpec(ctx, client, ns, name)
	if err != nil {
		return err
	}
	dump, err := o.findPGBackup(ctx, "", "dump") // a dump may be another cluster's: --backup-pvc
	if err != nil {
		return err
	}
	r := backup.DumpRestore{Cluster: name, Namespace: ns, Image: spec.Image, PostgresVersion: spec.PostgresVersion, Dump: dump,
		Database: backup.RestoreDatabase(dump, o.PGDumpDatabase), Options: o.pgdumpOpts, Deadline: o.Timeout}
	if err := backup.CheckDumpRestore(ctx, client, backup.Exec(o.exec), r, o.now()); err != nil {
		return err
	}
	if err := o.confirmPGDump(dump, r.Database); err != nil {
		return err
	}
	created, err := backup.StartDumpRestore(ctx, client, r)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "restore job %s started: dump %s of cluster %s into database %s of cluster %s\n", created.Name, dump.Name, dump.Cluster, r.Database, name)
	if !o.Wait {
		fmt.Fprintf(o.Out, "Follow it with: kubectl logs -f job/%s -n %s\n", created.Name, ns)
		return nil
	}
	if err := backup.WaitDumpRestore(ctx, client, created, o.Timeout, o.ErrOut, o.pollInterval); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "dump %s of cluster %s restored into database %s of cluster %s\n", dump.Name, dump.Cluster, r.Database, name)
	return nil
}

func (o *RestoreOptions) confirmPGDump(d *backup.Dump, db string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "This restores dump %s (%s of cluster %s, %s on PVC %s) into database %q of cluster %q in namespace %q.\n",
		d.Name, d.Database, d.Cluster, d.Path, d.PVC, db, o.Name, o.namespace)
	if d.All {
		b.WriteString("  - psql runs the pg_dumpall script: the objects it creates are created again.\n")
	} else {
		b.WriteString("  - pg_restore --clean drops the dumped objects and creates them again: their current data is replaced.\n")
	}
	if o.Yes {
		fmt.Fprint(o.ErrOut, b.String())
		return nil
	}
	if !o.isTerminal(o.In) {
		return fmt.Errorf("restore needs a confirmation, and stdin is not a terminal: pass --yes to restore into cluster %q without the question; nothing was changed", o.Name)
	}
	b.WriteString(`Type "yes" to restore: `)
	fmt.Fprint(o.ErrOut, b.String())
	answer, _ := bufio.NewReader(o.In).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	if answer != "yes" && answer != "y" {
		return fmt.Errorf("restore of cluster %q cancelled: the answer was %q, not yes; nothing was changed", o.Name, answer)
	}
	return nil
}
