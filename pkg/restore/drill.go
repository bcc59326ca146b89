package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// LabelDrillOf marks the objects of a restore drill's temporary cluster;
// its value is the cluster whose backup it restored.
const LabelDrillOf = "kubectl-pgo/drill-of"

// drillCleanupTimeout bounds the removal of the temporary cluster.
const drillCleanupTimeout = 5 * time.Minute

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

// DrillCheckCount and DrillCheckSQL are the values of DrillReport.Check.
const DrillCheckCount, DrillCheckSQL = "count", "sql"

// DrillName is NAME-drill-SUFFIX, with NAME shortened so that the result
// is a valid cluster name.
func DrillName(name, suffix string) string {
	tail := "-drill-" + suffix
	if limit := cluster.MaxNameLength() - len(tail); len(name) > limit && limit > 0 {
		name = strings.TrimRight(name[:limit], "-")
	}
	return name + tail
}

// DrillSpec is the Spec of the temporary cluster name in namespace, with
// a local repository: imaged and sized as src, the cluster whose backup it
// restores, with the defaults without it. The data must fit; the drill's
// own repository keeps only the WAL of its short life, so it gets the
// default size. It is defaulted, not validated.
func DrillSpec(name, namespace string, src *cluster.Spec) cluster.Spec {
	spec := cluster.Spec{
		Name: name, Namespace: namespace,
		Image: cluster.DefaultImage, StorageSize: cluster.DefaultStorageSize, RepoPVCSize: cluster.DefaultRepoPVCSize,
		StorageType: cluster.ParseStorageType(string(cluster.StorageLocal)),
	}
	if src != nil {
		spec.Image, spec.StorageSize = strings.TrimSpace(src.Image), strings.TrimSpace(src.StorageSize)
		spec.PostgresVersion = src.PostgresVersion
		spec.StorageClass, spec.RepoStorageClass = strings.TrimSpace(src.StorageClass), strings.TrimSpace(src.RepoStorageClass)
	}
	spec.Default()
	return spec
}

// Drill is `kubectl pgo restore-drill`: it proves that a cluster's backups
// restore. It restores one into a temporary new cluster, as create
// cluster --restore-from does (lifecycle.Create with a From), waits until
// it is ready, checks it (counts every table, or runs CheckSQL), and
// removes it (lifecycle.Find and Delete) unless Keep.
type Drill struct {
	Clients *apply.Clients
	Exec    Exec
	// Progress takes the progress of every step, the create and the
	// delete of the temporary cluster included.
	Progress io.Writer

	// Name in Namespace is the cluster whose backups are restored, Source
	// its settings; DrillName is the temporary cluster, Spec its settings
	// (DrillSpec).
	Name, Namespace, DrillName string
	Source, Spec               cluster.Spec
	// Options are the pgBackRest restore options, normalized, and Target
	// the time target (zero without one).
	Options repo.RestoreOptions
	Target  time.Time
	// CheckSQL, when not empty, runs with psql in Database instead of the
	// count of every table.
	CheckSQL, Database string
	Keep               bool
	// Timeout bounds the restore, the wait for the temporary cluster, and
	// the check.
	Timeout      time.Duration
	PollInterval time.Duration
}

// Run checks the backups, as the restore will check them: no backup, an
// unknown backup or a target outside the recovery window is refused with
// a nil report, before anything is created. Then it runs the drill and
// removes the temporary cluster; the report says what happened, and the
// error whether the drill failed or the temporary cluster stays.
func (d *Drill) Run(ctx context.Context) (*DrillReport, error) {
	if _, err := CheckNames(d.Name, "", d.DrillName, d.Namespace); err != nil {
		return nil, err
	}
	from := &From{
		Client: d.Clients.Client, Dynamic: d.Clients.Dynamic, Mapper: d.Clients.Mapper, Exec: d.Exec, Progress: d.Progress,
		Source: d.Name, SourceNamespace: d.Namespace, Name: d.DrillName, Namespace: d.Namespace,
		Options: d.Options, Target: d.Target, Timeout: d.Timeout, PollInterval: d.PollInterval,
	}
	plan := &Plan{Spec: d.Source}
	if err := from.InPlaceFor(d.Name, d.Namespace).CheckRepository(ctx, plan); err != nil {
		return nil, fmt.Errorf("cannot run a restore drill of cluster %q: %w. Nothing was created", d.Name, err)
	}

	report := &DrillReport{
		Cluster: d.Name, Namespace: d.Namespace, DrillCluster: d.DrillName,
		Backup: plan.Backup.Label, BackupType: plan.Backup.Type,
		Target: d.Options.Describe(),
		Check:  DrillCheckCount,
		SQL:    d.CheckSQL,
	}
	if d.CheckSQL != "" {
		report.Check = DrillCheckSQL
	}
	fmt.Fprintf(d.Progress, "Restore drill of cluster %s: restoring backup %s into the temporary cluster %s...\n", d.Name, report.Backup, d.DrillName)
	drillErr := d.drill(ctx, from, report)
	if drillErr != nil && ctx.Err() != nil {
		// What the interrupted step advises (follow the Job, ...) does
		// not apply: the temporary cluster goes.
		stage := "before the temporary cluster was ready"
		if report.RestoreDuration != "" {
			stage = "during the check"
		}
		drillErr = fmt.Errorf("the drill was interrupted (%v) %s", context.Cause(ctx), stage)
	}
	if d.Keep {
		report.Kept = true
	} else {
		fmt.Fprintf(d.Progress, "Removing the temporary cluster %s...\n", d.DrillName)
		if err := d.cleanup(ctx); err != nil {
			report.Cleanup = err.Error()
		} else {
			report.Removed = true
		}
	}
	report.Passed = drillErr == nil
	if drillErr != nil {
		report.Error = drillErr.Error()
	}
	var errs []error
	if drillErr != nil {
		errs = append(errs, fmt.Errorf("restore drill of cluster %q failed: %w", d.Name, drillErr))
	}
	if report.Cleanup != "" {
		errs = append(errs, fmt.Errorf("the temporary cluster %s was not removed completely (%s): remove it with kubectl pgo delete cluster %s -n %s --yes",
			d.DrillName, report.Cleanup, d.DrillName, d.Namespace))
	}
	return report, errors.Join(errs...)
}

// drill creates the temporary cluster from the backup, waits for it, and
// runs the check.
func (d *Drill) drill(ctx context.Context, from *From, report *DrillReport) error {
	start := time.Now()
	err := lifecycle.Create(ctx, d.Clients, lifecycle.CreateOptions{
		Request: lifecycle.Request{
			Spec: d.Spec, DryRun: apply.DryRunNone,
			Wait: true, Timeout: d.Timeout, Poll: d.PollInterval, Now: time.Now,
			Out: d.Progress, ErrOut: d.Progress,
		},
		Labels:    map[string]string{LabelDrillOf: d.Name},
		Exec:      apply.ExecFunc(d.Exec),
		Bootstrap: bootstrap{from},
	})
	if err != nil {
		return fmt.Errorf("the restore into the temporary cluster %s did not complete: %w", d.DrillName, err)
	}
	report.RestoreDuration = time.Since(start).Round(time.Second).String()
	if b := from.Backup; b.Label != "" {
		report.Backup, report.BackupType = b.Label, b.Type
	}
	pod := cluster.PodName(d.DrillName)
	execCtx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	if d.CheckSQL != "" {
		stdout, _, err := d.Exec(execCtx, d.Namespace, pod, databaseContainer,
			[]string{"psql", "--no-psqlrc", "--set=ON_ERROR_STOP=1", "--dbname=" + d.Database, "--command=" + d.CheckSQL})
		report.SQLOutput = truncate(strings.TrimRight(stdout, "\n"), 4000)
		var execErr *kube.ExecError
		if errors.As(err, &execErr) {
			return fmt.Errorf("--check-sql failed in database %q of the restored cluster (psql exited with code %d): %s. The backup restored, but your check did not pass: fix the query if it is wrong, or run the drill with --keep and look at the restored data",
				d.Database, execErr.Code, strings.TrimSpace(execErr.Stderr))
		}
		if err != nil {
			return kube.ExplainExec("run --check-sql in the restored cluster", d.Namespace, pod, err)
		}
		return nil
	}
	return d.countTables(execCtx, pod, report)
}

// bootstrap is a From as lifecycle.Create calls it: Prepare takes the new
// cluster's Spec and secret material.
type bootstrap struct{ *From }

func (b bootstrap) Prepare(ctx context.Context, existing bool, spec cluster.Spec, m cluster.Material) error {
	if !existing {
		b.NewSpec, b.Material = spec, m
	}
	return b.From.Prepare(ctx, existing)
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
func (d *Drill) countTables(ctx context.Context, pod string, report *DrillReport) error {
	stdout, _, err := d.Exec(ctx, d.Namespace, pod, databaseContainer, inspect.PSQLCommand("postgres", drillDatabasesQuery))
	if err != nil {
		return kube.ExplainExec("list the databases of the restored cluster", d.Namespace, pod, err)
	}
	var names []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &names); err != nil {
		return fmt.Errorf("cannot read the list of databases from psql's output %q: %w", truncate(stdout, 200), err)
	}
	for _, db := range names {
		stdout, _, err := d.Exec(ctx, d.Namespace, pod, databaseContainer, inspect.PSQLCommand(db, drillCountQuery))
		if err != nil {
			return kube.ExplainExec(fmt.Sprintf("count the tables of database %q in the restored cluster", db), d.Namespace, pod, err)
		}
		t := DrillDatabase{Name: db}
		if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &t.Tables); err != nil {
			return fmt.Errorf("cannot read the table counts of database %q from psql's output %q: %w", db, truncate(stdout, 200), err)
		}
		for _, tb := range t.Tables {
			report.Tables++
			report.Rows += tb.Rows
		}
		report.Databases = append(report.Databases, t)
	}
	return nil
}

// cleanup removes the temporary cluster as delete cluster --yes does,
// with a context of its own: the drill's may be cancelled (Ctrl-C).
func (d *Drill) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drillCleanupTimeout)
	defer cancel()
	// Twice: an object whose creation was under way when the drill
	// stopped may appear after the first pass.
	for range 2 {
		doomed, _, err := lifecycle.Find(ctx, d.Clients, d.Namespace, d.DrillName, false)
		if err != nil {
			return err
		}
		if len(doomed) == 0 {
			return nil
		}
		if err := d.delete(ctx); err != nil {
			return err
		}
	}
	doomed, _, err := lifecycle.Find(ctx, d.Clients, d.Namespace, d.DrillName, false)
	if err != nil {
		return err
	}
	if len(doomed) > 0 {
		return fmt.Errorf("still there: %s", lifecycle.Refs(doomed))
	}
	return nil
}

// delete is `kubectl pgo delete cluster DRILLNAME --yes`, its progress on
// Progress.
func (d *Drill) delete(ctx context.Context) error {
	c, ns, name := d.Clients, d.Namespace, d.DrillName
	if err := apply.CheckNamespace(ctx, c, ns); err != nil {
		return err
	}
	doomed, _, err := lifecycle.Find(ctx, c, ns, name, false)
	if err != nil {
		return err
	}
	if len(doomed) == 0 {
		return fmt.Errorf("cluster %q not found in namespace %q: no objects labelled %s", name, ns, cluster.ManagedSelector(name))
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("delete cluster %q", name), lifecycle.DeletePermissions(doomed)); err != nil {
		return err
	}
	err = lifecycle.Delete(ctx, c, lifecycle.DeleteOptions{
		Name: name, Namespace: ns, Wait: true, Timeout: drillCleanupTimeout, Poll: time.Second, Out: d.Progress,
	}, doomed)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Progress, "cluster %s deleted\n", name)
	return nil
}

// truncate shortens s to n bytes, saying so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "... (truncated)"
}
