package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const restoreDrillLong = `Prove that a cluster's backups restore: restore the latest backup (or
--target, or the point in time --pitr-target) into a temporary new cluster
in the same namespace, start it, check it, print a report, and remove it.

The temporary cluster is named NAME-drill-XXXXX and its objects are
labelled kubectl-pgo/drill-of=NAME. It is made as kubectl pgo create
cluster --restore-from=NAME makes a cluster: a Job restores the backup into
its new data volume and runs the recovery, then its database starts, with
a local repository of its own: the drill never writes to NAME's
repositories (an S3 one included: it is only read), and NAME keeps running.

The check, by default: the database starts, and every table of every
database (but the templates) can be counted; the report lists each table
and its rows. --check-sql runs your own SQL instead, with psql in
--database, and the drill fails if psql fails.

The temporary cluster and everything it made, its PVCs included, are
removed at the end, whether the drill passed or failed, and on Ctrl-C (a
second Ctrl-C stops the removal). --keep keeps it to inspect; the report
says how to remove it.

The command exits non-zero when the drill fails. A cluster without backups,
a --target that does not exist and a --pitr-target outside the recovery
window are refused before anything is created.`

const restoreDrillExample = `  # Restore the latest backup of hippo into a temporary cluster, count every table, remove it
  kubectl pgo restore-drill hippo

  # Restore backup 20261126-074954F to a point in time, and run a query of your own
  kubectl pgo restore-drill hippo --target=20261126-074954F --pitr-target='2026-11-26 08:00:00+00' \
    --database=app --check-sql='SELECT count(*) FROM orders WHERE created < now()'

  # Keep the temporary cluster to look at it, and print the report as JSON
  kubectl pgo restore-drill hippo --keep -o json`

// LabelDrillOf marks the objects of a restore drill's temporary cluster;
// its value is the cluster whose backup it restored.
const LabelDrillOf = "kubectl-pgo/drill-of"

// DefaultDrillTimeout bounds a drill's restore and its wait for the
// temporary cluster.
const DefaultDrillTimeout = 15 * time.Minute

// drillCleanupTimeout bounds the removal of the temporary cluster.
const drillCleanupTimeout = 5 * time.Minute

// drillSuffixLength is the length of the random part of a drill's name.
const drillSuffixLength = 5

// Values of DrillReport.Check.
const (
	DrillCheckCount = "count"
	DrillCheckSQL   = "sql"
)

// DrillReport is what `kubectl pgo restore-drill -o json|yaml` prints.
type DrillReport struct {
	Cluster      string `json:"cluster"`
	Namespace    string `json:"namespace"`
	DrillCluster string `json:"drillCluster"`
	// Backup is the label of the backup restored, BackupType its type.
	Backup     string `json:"backup,omitempty"`
	BackupType string `json:"backupType,omitempty"`
	// Target is the point restored to.
	Target string `json:"target,omitempty"`
	// RestoreDuration is from the start of the drill until the temporary
	// cluster was ready.
	RestoreDuration string `json:"restoreDuration,omitempty"`
	Check           string `json:"check"`
	// Databases are the tables counted, with the count check.
	Databases []DrillDatabase `json:"databases,omitempty"`
	Tables    int             `json:"tables"`
	Rows      int64           `json:"rows"`
	// SQL and SQLOutput are those of --check-sql.
	SQL       string `json:"sql,omitempty"`
	SQLOutput string `json:"sqlOutput,omitempty"`
	Passed    bool   `json:"passed"`
	Error     string `json:"error,omitempty"`
	// Removed tells whether the temporary cluster is gone; Kept whether
	// --keep kept it.
	Removed bool   `json:"removed"`
	Kept    bool   `json:"kept"`
	Cleanup string `json:"cleanupError,omitempty"`
}

// DrillDatabase is one database of the restored cluster.
type DrillDatabase struct {
	Name   string       `json:"name"`
	Tables []DrillTable `json:"tables"`
}

// DrillTable is one table counted.
type DrillTable struct {
	Schema string `json:"schema"`
	Name   string `json:"table"`
	Rows   int64  `json:"rows"`
}

// RestoreDrillOptions holds the flags and clients of `kubectl pgo
// restore-drill`.
type RestoreDrillOptions struct {
	execTarget
	PITRTarget     string
	TargetTimeline string
	Target         string
	CheckSQL       string
	Database       string
	Keep           bool
	Timeout        time.Duration
	Output         *printers.OutputFlags

	drillName string
	cmd       *cobra.Command
	// suffix makes the random part of the drill's name.
	suffix func() string
	genericiooptions.IOStreams
}

// NewRestoreDrillOptions returns options with the defaults.
func NewRestoreDrillOptions(streams genericiooptions.IOStreams) *RestoreDrillOptions {
	return &RestoreDrillOptions{
		Database:  "postgres",
		Timeout:   DefaultDrillTimeout,
		Output:    printers.NewOutputFlags(printers.DefaultFormats...),
		suffix:    func() string { return rand.String(drillSuffixLength) },
		IOStreams: streams,
	}
}

// NewCmdRestoreDrill returns `kubectl pgo restore-drill NAME`.
func NewCmdRestoreDrill(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdRestoreDrill(f, NewRestoreDrillOptions(streams))
}

func newCmdRestoreDrill(f kube.Factory, o *RestoreDrillOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "restore-drill NAME",
		Short:   "Restore a backup into a temporary cluster, check it, report, and remove it",
		Long:    restoreDrillLong,
		Example: restoreDrillExample,
		Args:    cobra.ArbitraryArgs,
		RunE:    runOptions(f, o),
	}
	cmd.SetIn(o.In)
	cmd.SetOut(o.Out)
	cmd.SetErr(o.ErrOut)
	fl := cmd.Flags()
	fl.StringVar(&o.PITRTarget, "pitr-target", "", "Restore to this point in time, with its time zone, e.g. '2026-11-24 12:00:00+00'; the end of the archived WAL if empty.")
	fl.StringVar(&o.TargetTimeline, "target-timeline", "", targetTimelineUsage)
	fl.StringVar(&o.Target, "target", "", "The label of the backup to restore, as show backup lists it (e.g. 20261126-074954F); the latest if empty.")
	fl.StringVar(&o.Target, "backup-name", "", "The same as --target.")
	fl.StringVar(&o.CheckSQL, "check-sql", "", "Run this SQL with psql in the restored database instead of counting every table; the drill fails if it fails.")
	fl.StringVar(&o.Database, "database", o.Database, "The database --check-sql runs in.")
	fl.BoolVar(&o.Keep, "keep", false, "Keep the temporary cluster at the end, to inspect it.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the restore and the start of the temporary cluster may take.")
	o.Output.AddFlags(cmd)
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Complete takes NAME and the namespace, and names the temporary cluster;
// it sends no request.
func (o *RestoreDrillOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.cmd = cmd
	if err := o.complete(f, cmd, args); err != nil {
		return err
	}
	o.drillName = drillName(o.Name, o.suffix())
	return nil
}

// drillName is NAME-drill-SUFFIX, with NAME shortened so that the result
// is a valid cluster name.
func drillName(name, suffix string) string {
	tail := "-drill-" + suffix
	if limit := cluster.MaxNameLength() - len(tail); len(name) > limit && limit > 0 {
		name = strings.TrimRight(name[:limit], "-")
	}
	return name + tail
}

// Validate checks the name and the flags, as create cluster
// --restore-from would; it sends no request.
func (o *RestoreDrillOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, o.Output); err != nil {
		return err
	}
	if o.Target != "" && !repo.IsBackupLabel(o.Target) {
		return usageErrorf(cmd, "invalid --target %q: a backup label is YYYYMMDD-HHMMSSF for a full backup, or YYYYMMDD-HHMMSSF_YYYYMMDD-HHMMSSD|I for a differential or incremental one (list them with kubectl pgo show backup %s)", o.Target, o.Name)
	}
	if cmd.Flags().Changed("check-sql") && strings.TrimSpace(o.CheckSQL) == "" {
		return usageErrorf(cmd, "--check-sql is empty: give the SQL to run in the restored database, or leave the flag out to count every table")
	}
	if cmd.Flags().Changed("database") && o.CheckSQL == "" {
		return usageErrorf(cmd, "--database is the database --check-sql runs in: give --check-sql too (without it, every database is checked)")
	}
	if strings.TrimSpace(o.Database) == "" || strings.ContainsRune(o.Database, 0) {
		return usageErrorf(cmd, "invalid --database %q: give the name of a database", o.Database)
	}
	if o.Timeout <= 0 {
		return usageErrorf(cmd, "invalid --timeout %s: it must be more than zero", o.Timeout)
	}
	if err := validateClusterName(o.drillName); err != nil {
		return usageErrorf(cmd, "the temporary cluster's name: %v", err)
	}
	// The restore flags, as create cluster --restore-from checks them.
	return o.newCreate(nil).Validate(cmd)
}

// progressStreams send create's and delete's progress to stderr, so that
// stdout carries only the report.
func (o *RestoreDrillOptions) progressStreams() genericiooptions.IOStreams {
	return genericiooptions.IOStreams{In: o.In, Out: o.ErrOut, ErrOut: o.ErrOut}
}

// newCreate is create cluster --restore-from=NAME for the temporary
// cluster, sized and imaged as src (defaults without it).
func (o *RestoreDrillOptions) newCreate(src *cluster.Spec) *CreateClusterOptions {
	co := NewCreateClusterOptions(o.progressStreams())
	co.Name, co.namespace, co.factory, co.exec = o.drillName, o.namespace, o.factory, execFunc(o.exec)
	co.Wait, co.Timeout = true, o.Timeout
	co.Image, co.StorageSize, co.RepoPVCSize = cluster.DefaultImage, cluster.DefaultStorageSize, cluster.DefaultRepoPVCSize
	if src != nil {
		// The data must fit; the drill's own repository keeps only the
		// WAL of its short life, so it gets the default size.
		co.Image, co.StorageSize, co.StorageClass, co.RepoStorageClass = src.Image, src.StorageSize, src.StorageClass, src.RepoStorageClass
	}
	co.RestoreFrom = RestoreFromOptions{Source: o.Name, PITRTarget: o.PITRTarget, TargetTimeline: o.TargetTimeline, Timeout: o.Timeout, exec: o.exec}
	if o.Target != "" {
		co.RestoreFrom.RestoreOpts = "--set=" + o.Target
	}
	co.extraLabels = map[string]string{LabelDrillOf: o.Name}
	return co
}

// Run checks the backups, runs the drill, removes the temporary cluster
// and prints the report.
func (o *RestoreDrillOptions) Run(ctx context.Context) error {
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return kubeconfigError(err)
	}
	ns := o.namespace
	srcSpec, err := readClusterSpec(ctx, client, ns, o.Name)
	if err != nil {
		return err
	}
	co := o.newCreate(&srcSpec)
	if err := co.Validate(o.cmd); err != nil {
		return err
	}
	// The backups, checked as the restore will check them: no backup, an
	// unknown --target or a --pitr-target outside the window is refused
	// here, before anything is created.
	plan := &restorePlan{spec: srcSpec}
	if err := co.RestoreFrom.restoreOptionsFor(o.factory, client, o.Name, ns, o.progressStreams()).checkRepository(ctx, plan); err != nil {
		return fmt.Errorf("cannot run a restore drill of cluster %q: %w. Nothing was created", o.Name, err)
	}

	report := DrillReport{
		Cluster: o.Name, Namespace: ns, DrillCluster: o.drillName,
		Backup: plan.backup.Label, BackupType: plan.backup.Type,
		Target: co.RestoreFrom.options.Describe(),
		Check:  DrillCheckCount,
		SQL:    o.CheckSQL,
	}
	if o.CheckSQL != "" {
		report.Check = DrillCheckSQL
	}
	fmt.Fprintf(o.ErrOut, "Restore drill of cluster %s: restoring backup %s into the temporary cluster %s...\n", o.Name, report.Backup, o.drillName)
	drillErr := o.drill(ctx, co, &report)
	if drillErr != nil && ctx.Err() != nil {
		// What the interrupted step advises (follow the Job, ...) does
		// not apply: the temporary cluster goes.
		stage := "before the temporary cluster was ready"
		if report.RestoreDuration != "" {
			stage = "during the check"
		}
		drillErr = fmt.Errorf("the drill was interrupted (%v) %s", context.Cause(ctx), stage)
	}
	if o.Keep {
		report.Kept = true
	} else {
		fmt.Fprintf(o.ErrOut, "Removing the temporary cluster %s...\n", o.drillName)
		if err := o.cleanup(ctx); err != nil {
			report.Cleanup = err.Error()
		} else {
			report.Removed = true
		}
	}
	report.Passed = drillErr == nil
	if drillErr != nil {
		report.Error = drillErr.Error()
	}
	if err := o.print(report); err != nil {
		return err
	}
	var errs []error
	if drillErr != nil {
		errs = append(errs, fmt.Errorf("restore drill of cluster %q failed: %w", o.Name, drillErr))
	}
	if report.Cleanup != "" {
		errs = append(errs, fmt.Errorf("the temporary cluster %s was not removed completely (%s): remove it with kubectl pgo delete cluster %s -n %s --yes",
			o.drillName, report.Cleanup, o.drillName, ns))
	}
	return errors.Join(errs...)
}

// drill creates the temporary cluster from the backup, waits for it, and
// runs the check.
func (o *RestoreDrillOptions) drill(ctx context.Context, co *CreateClusterOptions, report *DrillReport) error {
	start := time.Now()
	if err := co.Run(ctx); err != nil {
		return fmt.Errorf("the restore into the temporary cluster %s did not complete: %w", o.drillName, err)
	}
	report.RestoreDuration = time.Since(start).Round(time.Second).String()
	if b := co.RestoreFrom.backup; b.Label != "" {
		report.Backup, report.BackupType = b.Label, b.Type
	}
	pod := cluster.PodName(o.drillName)
	execCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if o.CheckSQL != "" {
		stdout, _, err := o.exec(execCtx, o.namespace, pod, databaseContainer,
			[]string{"psql", "--no-psqlrc", "--set=ON_ERROR_STOP=1", "--dbname=" + o.Database, "--command=" + o.CheckSQL})
		report.SQLOutput = truncateText(strings.TrimRight(stdout, "\n"), 4000)
		var execErr *kube.ExecError
		if errors.As(err, &execErr) {
			return fmt.Errorf("--check-sql failed in database %q of the restored cluster (psql exited with code %d): %s. The backup restored, but your check did not pass: fix the query if it is wrong, or run the drill with --keep and look at the restored data",
				o.Database, execErr.Code, strings.TrimSpace(execErr.Stderr))
		}
		if err != nil {
			return execError("run --check-sql in the restored cluster", o.namespace, pod, err)
		}
		return nil
	}
	return o.countTables(execCtx, pod, report)
}

// drillDatabasesQuery lists the databases to check: all but the
// templates, as one JSON array.
const drillDatabasesQuery = `SELECT coalesce(json_agg(datname ORDER BY datname), '[]') FROM pg_database WHERE datallowconn AND NOT datistemplate`

// drillCountQuery counts the rows of every table of the database (a
// partitioned table with its partitions), as one JSON array. A table that
// cannot be read fails the query.
const drillCountQuery = `SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'table', c.relname, 'rows',
  (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint)
  ORDER BY n.nspname, c.relname), '[]')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`

// countTables counts every table of every database of the restored
// cluster.
func (o *RestoreDrillOptions) countTables(ctx context.Context, pod string, report *DrillReport) error {
	stdout, _, err := o.exec(ctx, o.namespace, pod, databaseContainer, psqlCommandIn("postgres", drillDatabasesQuery))
	if err != nil {
		return execError("list the databases of the restored cluster", o.namespace, pod, err)
	}
	var names []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &names); err != nil {
		return fmt.Errorf("cannot read the list of databases from psql's output %q: %w", truncateText(stdout, 200), err)
	}
	for _, db := range names {
		stdout, _, err := o.exec(ctx, o.namespace, pod, databaseContainer, psqlCommandIn(db, drillCountQuery))
		if err != nil {
			return execError(fmt.Sprintf("count the tables of database %q in the restored cluster", db), o.namespace, pod, err)
		}
		d := DrillDatabase{Name: db}
		if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &d.Tables); err != nil {
			return fmt.Errorf("cannot read the table counts of database %q from psql's output %q: %w", db, truncateText(stdout, 200), err)
		}
		for _, t := range d.Tables {
			report.Tables++
			report.Rows += t.Rows
		}
		report.Databases = append(report.Databases, d)
	}
	return nil
}

// cleanup removes the temporary cluster as delete cluster --yes does,
// with a context of its own: the drill's may be cancelled (Ctrl-C).
func (o *RestoreDrillOptions) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drillCleanupTimeout)
	defer cancel()
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	d := NewDeleteClusterOptions(o.progressStreams())
	d.Name, d.namespace, d.factory, d.Yes, d.Timeout = o.drillName, o.namespace, o.factory, true, drillCleanupTimeout
	// Twice: an object whose creation was under way when the drill
	// stopped may appear after the first pass.
	for range 2 {
		doomed, _, err := d.find(ctx, c)
		if err != nil {
			return err
		}
		if len(doomed) == 0 {
			return nil
		}
		if err := d.Run(ctx); err != nil {
			return err
		}
	}
	doomed, _, err := d.find(ctx, c)
	if err != nil {
		return err
	}
	if len(doomed) > 0 {
		return fmt.Errorf("still there: %s", refs(doomed))
	}
	return nil
}

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

// truncateText shortens s to n bytes, saying so.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "... (truncated)"
}
