package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// pgdumpOptionsAllowed are the pg_dump and pg_dumpall options that
// --backup-opts may pass; those with a value take it after "=".
var pgdumpOptionsAllowed = []string{
	"--schema", "--exclude-schema", "--table", "--exclude-table", "--exclude-table-data",
	"--no-owner", "--no-privileges", "--no-acl", "--compress", "--data-only", "--schema-only",
	"--no-comments", "--no-publications", "--no-subscriptions", "--no-tablespaces", "--no-large-objects",
	"--no-blobs", "--lock-wait-timeout", "--encoding", "--quote-all-identifiers", "--section",
	"--clean", "--if-exists", "--roles-only", "--globals-only", "--no-role-passwords", "--exclude-database",
}

// pgrestoreOptionsAllowed are the pg_restore options of restore
// --backup-type=pgdump --backup-opts.
var pgrestoreOptionsAllowed = []string{
	"--no-owner", "--no-privileges", "--no-acl", "--schema", "--exclude-schema", "--table",
	"--data-only", "--schema-only", "--single-transaction", "--exit-on-error", "--jobs",
	"--disable-triggers", "--no-comments", "--section", "--no-tablespaces", "--no-publications", "--no-subscriptions",
}

// pgbasebackupOptionsAllowed are the pg_basebackup options of
// --backup-opts.
var pgbasebackupOptionsAllowed = []string{"--max-rate", "--label", "--no-verify-checksums", "--manifest-checksums", "--no-manifest"}

// pgdumpOptionsManaged are refused with a reason: kubectl-pgo sets them.
var pgdumpOptionsManaged = []string{"--host", "--port", "--username", "--file", "--format", "--dbname", "--password", "--no-password", "--clean", "--if-exists", "--create", "--verbose"}

// parsePGDumpOpts checks options against an allow-list: each is a long
// option, with its value after "=". flag names the option in errors.
func parsePGDumpOpts(flag, s string, allowed []string, tool string) ([]string, error) {
	var errs []string
	args := strings.Fields(s)
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		switch {
		case !strings.HasPrefix(name, "--"):
			errs = append(errs, fmt.Sprintf("%q: give %s options in their long form, e.g. --table=orders", a, tool))
		case slices.Contains(allowed, name):
		case slices.Contains(pgdumpOptionsManaged, name) || name == "--schema-only-globals":
			errs = append(errs, fmt.Sprintf("%s is managed by kubectl-pgo and cannot be set", name))
		default:
			errs = append(errs, fmt.Sprintf("%s is not an allowed %s option (allowed: %s)", name, tool, strings.Join(allowed, ", ")))
		}
	}
	if len(errs) > 0 {
		return nil, errors.New("invalid " + flag + ":\n  " + strings.Join(errs, "\n  "))
	}
	return args, nil
}

// PGDumpResult is what backup --backup-type=pgdump -o json|yaml prints.
type PGDumpResult struct {
	Job        string `json:"job"`
	Namespace  string `json:"namespace"`
	Cluster    string `json:"cluster"`
	BackupType string `json:"backupType"`
	Name       string `json:"name"`
	Database   string `json:"database"`
	PVC        string `json:"pvc"`
	Path       string `json:"path"`
	Status     string `json:"status"`
	Size       *int64 `json:"size,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

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
		opts, err := parsePGDumpOpts("--backup-opts", o.BackupOpts, pgbasebackupOptionsAllowed, "pg_basebackup")
		if err != nil {
			return usageErrorf(cmd, "%v", err)
		}
		o.pgdumpOpts = opts
		if o.PVCName == "" {
			o.PVCName = jobs.DefaultPGBaseBackupPVCName(o.Name)
		}
		return o.validatePVCAndTimeout(cmd)
	}
	if o.DumpAll && cmd.Flags().Changed("database") {
		return usageErrorf(cmd, "--dump-all dumps every database: it cannot be combined with --database")
	}
	if strings.TrimSpace(o.Database) == "" {
		return usageErrorf(cmd, "--database must not be empty")
	}
	tool := "pg_dump"
	if o.DumpAll {
		tool = "pg_dumpall"
	}
	opts, err := parsePGDumpOpts("--backup-opts", o.BackupOpts, pgdumpOptionsAllowed, tool)
	if err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	o.pgdumpOpts = opts
	if o.PVCName == "" {
		o.PVCName = jobs.DefaultPGDumpPVCName(o.Name)
	}
	return o.validatePVCAndTimeout(cmd)
}

// validatePVC checks --pvc-name and --pvc-size.
func validatePVC(cmd *cobra.Command, clusterName, pvc, size string) error {
	if msgs := validation.IsDNS1123Label(pvc); len(msgs) > 0 {
		return usageErrorf(cmd, "invalid --pvc-name %q: %s", pvc, strings.Join(msgs, "; "))
	}
	if _, err := jobs.PGDumpPVC(clusterName, "x", pvc, size, "x"); err != nil {
		return usageErrorf(cmd, "invalid --pvc-size: %v", err)
	}
	return nil
}

func (o *BackupOptions) validatePVCAndTimeout(cmd *cobra.Command) error {
	if err := validatePVC(cmd, o.Name, o.PVCName, o.PVCSize); err != nil {
		return err
	}
	if o.Timeout < 10*time.Second {
		return usageErrorf(cmd, "--timeout=%s is too short: a dump needs at least 10s", o.Timeout)
	}
	return nil
}

// sqlLiteral quotes s as an SQL string (standard_conforming_strings on).
func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// checkDatabase asks PostgreSQL, in the database pod, whether db exists.
func checkDatabase(ctx context.Context, exec execFunc, ns, name, db string) error {
	out, _, err := exec(ctx, ns, cluster.PodName(name), databaseContainer,
		[]string{"psql", "-XAtq", "-c", "SELECT count(*) FROM pg_database WHERE datname = " + sqlLiteral(db)})
	if err != nil {
		return fmt.Errorf("cannot check that database %q exists in cluster %q (is pod %s running?): %w", db, name, cluster.PodName(name), err)
	}
	if strings.TrimSpace(out) != "1" {
		return fmt.Errorf("database %q does not exist in cluster %q", db, name)
	}
	return nil
}

// runPGDump starts a pg_dump Job and, with --wait, follows it.
func (o *BackupOptions) runPGDump(ctx context.Context) error {
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return kubeconfigError(err)
	}
	ns := o.namespace
	spec, err := readClusterSpec(ctx, client, ns, o.Name)
	if err != nil {
		return err
	}
	base := o.BackupType == jobs.BackupTypePGBaseBackup
	component, what := jobs.ComponentPGDump, "pgdump"
	if base {
		component, what = jobs.ComponentPGBaseBackup, "pgbasebackup"
	}
	if !o.DumpAll && !base {
		if err := checkDatabase(ctx, o.exec, ns, o.Name, o.Database); err != nil {
			return fmt.Errorf("%w. Nothing was started", err)
		}
	}
	// A dump or base backup taken while the cluster is being restored
	// would hold half of the restore, or fail on a stopped database.
	if err := jobs.CheckNoActive(ctx, client, ns, o.Name, []string{jobs.ComponentRestore, jobs.ComponentPGDumpRestore}, "a "+what+" backup", o.now()); err != nil {
		return fmt.Errorf("%w. Nothing was started", err)
	}
	if err := ensurePGDumpPVC(ctx, client, ns, o.Name, o.PVCName, o.PVCSize, component); err != nil {
		return err
	}
	job := jobs.PGDumpJob{
		Cluster: o.Name, Namespace: ns, Image: spec.Image, Database: o.Database, All: o.DumpAll,
		Options: o.pgdumpOpts, PVC: o.PVCName, Time: o.now(), Deadline: o.Timeout,
	}.Render()
	if base {
		job = jobs.PGBaseBackupJob{Cluster: o.Name, Namespace: ns, Image: spec.Image, Options: o.pgdumpOpts,
			PVC: o.PVCName, Time: o.now(), Deadline: o.Timeout}.Render()
	}
	created, err := client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return fmt.Errorf("create %s Job %s in namespace %s: %w", what, job.Name, ns, err)
	}
	dump := pgdumpFromJob(created)
	result := PGDumpResult{Job: created.Name, Namespace: ns, Cluster: o.Name, BackupType: o.BackupType,
		Name: dump.Name, Database: dump.Database, PVC: dump.PVC, Path: dump.Path, Status: BackupStarted}
	structured := o.Output.Format() != printers.FormatTable
	if !structured {
		fmt.Fprintf(o.Out, "%s job %s started: backup %s of database %s of cluster %s to %s on PVC %s\n",
			what, created.Name, dump.Name, dump.Database, o.Name, dump.Path, dump.PVC)
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
	waitCtx, cancel := context.WithTimeout(ctx, o.Timeout+backupWaitGrace)
	defer cancel()
	out, err := jobs.Follow(waitCtx, client, ns, created.Name, jobs.FollowOptions{
		Container: jobs.PGDumpContainer, Log: logOut,
		Status:   func(msg string) { fmt.Fprintf(o.ErrOut, "kubectl-pgo: %s\n", msg) },
		Interval: o.interval,
	})
	if err != nil {
		return fmt.Errorf("could not follow %s job %s: %w. The backup goes on without this command: kubectl logs -f job/%s -n %s", what, created.Name, err, created.Name, ns)
	}
	if !out.Succeeded {
		result.Status = BackupFailed
		result.Reason = firstNonEmpty(out.Reason, "Failed")
		if structured {
			_ = o.Output.Print(o.Out, nil, result)
		}
		return pgJobFailed(what, created.Name, ns, out)
	}
	result.Status = BackupSucceeded
	result.Size = sizeFromLog(out.Log)
	if structured {
		return o.Output.Print(o.Out, nil, result)
	}
	size := ""
	if result.Size != nil {
		size = ", " + repo.FormatBytes(*result.Size)
	}
	fmt.Fprintf(o.Out, "%s %s completed: %s%s\n", what, dump.Name, dump.Path, size)
	return nil
}

func pgJobFailed(what, name, ns string, out jobs.Outcome) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s job %s failed", what, name)
	if out.Reason != "" {
		fmt.Fprintf(&b, " (%s", out.Reason)
		if out.Message != "" {
			fmt.Fprintf(&b, ": %s", out.Message)
		}
		b.WriteString(")")
	}
	if out.ExitCode != nil {
		fmt.Fprintf(&b, "; exit code %d", *out.ExitCode)
	}
	if strings.TrimSpace(out.Log) != "" {
		b.WriteString("; the end of its log:\n  " + strings.Join(lastLines(out.Log, 5), "\n  "))
	}
	fmt.Fprintf(&b, "\nThe Job and its log are kept: kubectl logs job/%s -n %s", name, ns)
	return errors.New(b.String())
}

func sizeFromLog(log string) *int64 {
	for _, l := range slices.Backward(strings.Split(log, "\n")) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), jobs.SizeMarker); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return &n
			}
		}
	}
	return nil
}

// ensurePGDumpPVC creates the dump PVC with server-side apply when it is
// missing; an existing PVC is left as it is.
func ensurePGDumpPVC(ctx context.Context, client kubernetes.Interface, ns, name, pvc, size, component string) error {
	cur, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc, metav1.GetOptions{})
	if err == nil {
		return checkDumpPVC(cur)
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("read PVC %s in namespace %s: %w", pvc, ns, err)
	}
	obj, err := jobs.PGDumpPVC(name, ns, pvc, size, component)
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, pvc, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: cluster.FieldManager, Force: ptrTrue()}); err != nil {
		return fmt.Errorf("create PVC %s in namespace %s: %w", pvc, ns, err)
	}
	return nil
}

// checkDumpPVC refuses an existing PVC that kubectl-pgo made for something
// else than dumps and base backups: a cluster's data or repository PVC.
// Writing dumps there would mix them with PGDATA or the pgBackRest
// repository. A PVC of the user's own (not labelled) is theirs to use.
func checkDumpPVC(pvc *corev1.PersistentVolumeClaim) error {
	l := pvc.Labels
	if l[cluster.LabelManagedBy] != cluster.FieldManager {
		return nil
	}
	switch l[cluster.LabelComponent] {
	case jobs.ComponentPGDump, jobs.ComponentPGBaseBackup:
		return nil
	}
	return fmt.Errorf("PVC %s/%s is the %s PVC of cluster %q, not one for backups: choose another --pvc-name, or leave it out for the default. Nothing was started",
		pvc.Namespace, pvc.Name, l[cluster.LabelComponent], l[cluster.LabelCluster])
}

func ptrTrue() *bool { t := true; return &t }

// PGDump is one dump, as show backup --backup-type=pgdump lists it.
type PGDump struct {
	// Cluster and Namespace are those of the cluster that was dumped.
	Cluster   string    `json:"cluster"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Time      time.Time `json:"time"`
	Database  string    `json:"database"`
	All       bool      `json:"dumpAll"`
	Size      *int64    `json:"size,omitempty"`
	PVC       string    `json:"pvc"`
	Path      string    `json:"path"`
	Job       string    `json:"job"`
	JobStatus string    `json:"jobStatus"`
}

func pgdumpFromJob(j *batchv1.Job) PGDump {
	ts := j.Labels[jobs.LabelPGDumpTimestamp]
	t, _ := time.Parse(jobs.PGDumpTimestampLayout, ts)
	if ts == "" {
		// A schedule's dump: its Job was created when it ran.
		t = j.CreationTimestamp.Time
		ts = t.UTC().Format(jobs.PGDumpTimestampLayout)
	}
	return PGDump{
		Cluster: j.Labels[cluster.LabelCluster], Namespace: j.Namespace, Name: ts, Time: t.UTC(), Database: j.Annotations[jobs.AnnotationPGDumpDatabase],
		All: j.Annotations[jobs.AnnotationPGDumpAll] == "true", PVC: j.Labels[jobs.LabelPGDumpPVC],
		Path: jobs.DumpPath(j), Job: j.Name, JobStatus: jobs.State(j),
	}
}

// listPGJobs returns the dumps (or base backups) that selector picks,
// oldest first, from the Jobs that made them (kept without TTL), in ns
// (every namespace if empty); the size of a finished dump comes from the
// end of its pod's log.
func listPGJobs(ctx context.Context, client kubernetes.Interface, ns, selector string, sizes bool) ([]PGDump, error) {
	list, err := client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		where := "namespace " + ns
		if ns == "" {
			where = "any namespace"
		}
		return nil, fmt.Errorf("list the Jobs %s in %s: %w", selector, where, err)
	}
	var dumps []PGDump
	for i := range list.Items {
		d := pgdumpFromJob(&list.Items[i])
		if d.JobStatus == jobs.StateRunning && jobPodSucceeded(ctx, client, d.Namespace, d.Job) {
			// The pod is done; the Job's Complete condition follows.
			d.JobStatus = jobs.StateSucceeded
		}
		if sizes && d.JobStatus == jobs.StateSucceeded {
			d.Size = jobLogSize(ctx, client, d.Namespace, d.Job)
		}
		dumps = append(dumps, d)
	}
	sort.SliceStable(dumps, func(i, j int) bool {
		if dumps[i].Namespace != dumps[j].Namespace {
			return dumps[i].Namespace < dumps[j].Namespace
		}
		if dumps[i].Cluster != dumps[j].Cluster {
			return dumps[i].Cluster < dumps[j].Cluster
		}
		if dumps[i].Name != dumps[j].Name {
			return dumps[i].Name < dumps[j].Name
		}
		return dumps[i].Job < dumps[j].Job
	})
	return dumps, nil
}

// jobPodSucceeded tells whether the Job's pod has ended with exit code 0.
func jobPodSucceeded(ctx context.Context, client kubernetes.Interface, ns, job string) bool {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
	if err != nil {
		return false
	}
	for _, p := range pods.Items {
		for _, c := range p.Status.ContainerStatuses {
			if t := c.State.Terminated; c.Name == jobs.PGDumpContainer && t != nil && t.ExitCode == 0 {
				return true
			}
		}
	}
	return false
}

func jobLogSize(ctx context.Context, client kubernetes.Interface, ns, job string) *int64 {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
	if err != nil {
		return nil
	}
	for _, p := range pods.Items {
		tail := int64(5)
		raw, err := client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: jobs.PGDumpContainer, TailLines: &tail}).DoRaw(ctx)
		if err == nil {
			if s := sizeFromLog(string(raw)); s != nil {
				return s
			}
		}
	}
	return nil
}

// PGDumpList is what show backup --backup-type=pgdump -o json|yaml prints.
type PGDumpList struct {
	Cluster   string   `json:"cluster"`
	Namespace string   `json:"namespace"`
	Dumps     []PGDump `json:"dumps"`
}

// PGDumpLists is what show backup --backup-type=pgdump -A|--selector -o
// json|yaml prints: one list per cluster.
type PGDumpLists struct {
	Items []PGDumpList `json:"items"`
}

// pgJobSelector selects the Jobs of dumps, or of base backups.
func pgJobSelector(backupType, clusterName string) labels.Set {
	component := jobs.ComponentPGDump
	if backupType == jobs.BackupTypePGBaseBackup {
		component = jobs.ComponentPGBaseBackup
	}
	if clusterName == "" {
		return labels.Set{cluster.LabelComponent: component, cluster.LabelManagedBy: cluster.FieldManager}
	}
	l := cluster.ClusterSelector(clusterName)
	l[cluster.LabelComponent] = component
	return l
}

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
	dumps, err := listPGJobs(ctx, client, ns, pgJobSelector(o.BackupType, name).String(), true)
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
		opts, err := parsePGDumpOpts("--backup-opts", o.BackupOpts, pgrestoreOptionsAllowed, "pg_restore")
		if err != nil {
			return usageErrorf(cmd, "%v", err)
		}
		o.pgdumpOpts = opts
		if o.BackupPVC == "" {
			o.BackupPVC = jobs.DefaultPGDumpPVCName(o.Name)
		}
	}
	if msgs := validation.IsDNS1123Label(o.BackupPVC); len(msgs) > 0 {
		return usageErrorf(cmd, "invalid --backup-pvc %q: %s", o.BackupPVC, strings.Join(msgs, "; "))
	}
	return nil
}

// findPGBackup returns the completed dump (or base backup) to restore from
// the Jobs that selector picks: the one named by --backup-name, the latest
// made at or before --pitr-target, or the latest on --backup-pvc. what
// names the kind, for the errors.
func (o *RestoreOptions) findPGBackup(ctx context.Context, selector labels.Set, what string) (*PGDump, error) {
	ns := o.namespace
	if _, err := o.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, o.BackupPVC, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("PVC %s does not exist in namespace %q: there are no %ss to restore there; nothing was changed", o.BackupPVC, ns, what)
		}
		return nil, fmt.Errorf("read PVC %s in namespace %s: %w", o.BackupPVC, ns, err)
	}
	selector[jobs.LabelPGDumpPVC] = o.BackupPVC
	all, err := listPGJobs(ctx, o.client, ns, selector.String(), false)
	if err != nil {
		return nil, err
	}
	var found []PGDump
	for _, d := range all {
		if d.JobStatus == jobs.StateSucceeded {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("PVC %s has no completed %ss for cluster %q: make one with kubectl pgo backup %s --backup-type=%s; nothing was changed", o.BackupPVC, what, o.Name, o.Name, o.BackupType)
	}
	// Dumps of several clusters may share a PVC: the newest last.
	sort.SliceStable(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	switch {
	case o.BackupName != "":
		var names []string
		for i := range found {
			if found[i].Name == o.BackupName {
				return &found[i], nil
			}
			names = append(names, fmt.Sprintf("%s (cluster %s, %s)", found[i].Name, found[i].Cluster, found[i].Database))
		}
		return nil, fmt.Errorf("%s %s does not exist on PVC %s; its %ss are: %s. Nothing was changed", what, o.BackupName, o.BackupPVC, what, strings.Join(names, ", "))
	case !o.target.IsZero():
		var pick *PGDump
		for i := range found {
			if !found[i].Time.After(o.target) {
				pick = &found[i]
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("no %s on PVC %s was made at or before %s: the oldest is %s. Nothing was changed", what, o.BackupPVC, o.target.UTC().Format(time.RFC3339), found[0].Name)
		}
		return pick, nil
	}
	return &found[len(found)-1], nil
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
	dump, err := o.findPGBackup(ctx, labels.Set{cluster.LabelComponent: jobs.ComponentPGDump, cluster.LabelManagedBy: cluster.FieldManager}, "dump")
	if err != nil {
		return err
	}
	db := o.PGDumpDatabase
	if db == "" {
		db = dump.Database
		if dump.All {
			db = "postgres"
		}
	}
	if err := checkDatabase(ctx, o.exec, ns, name, db); err != nil {
		return fmt.Errorf("%w. Nothing was changed", err)
	}
	if err := jobs.CheckNoActive(ctx, client, ns, name, jobs.RestoreConflicts, "a restore", o.now()); err != nil {
		return fmt.Errorf("%w. Nothing was changed", err)
	}
	if err := o.confirmPGDump(dump, db); err != nil {
		return err
	}
	job := jobs.PGDumpRestoreJob{Cluster: name, Namespace: ns, Image: spec.Image, Database: db, Path: dump.Path,
		PVC: o.BackupPVC, All: dump.All, Options: o.pgdumpOpts, Deadline: o.Timeout}.Render()
	created, err := client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	if err != nil {
		return fmt.Errorf("create restore Job %s in namespace %s: %w", job.Name, ns, err)
	}
	fmt.Fprintf(o.ErrOut, "restore job %s started: dump %s of cluster %s into database %s of cluster %s\n", created.Name, dump.Name, dump.Cluster, db, name)
	if !o.Wait {
		fmt.Fprintf(o.Out, "Follow it with: kubectl logs -f job/%s -n %s\n", created.Name, ns)
		return nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	out, err := jobs.Follow(waitCtx, client, ns, created.Name, jobs.FollowOptions{
		Container: jobs.PGDumpContainer, Log: o.ErrOut,
		Status:   func(msg string) { fmt.Fprintf(o.ErrOut, "kubectl-pgo: %s\n", msg) },
		Interval: o.pollInterval,
	})
	if err != nil {
		return fmt.Errorf("could not follow restore job %s: %w", created.Name, err)
	}
	if !out.Succeeded {
		return pgJobFailed("restore", created.Name, ns, out)
	}
	fmt.Fprintf(o.Out, "dump %s of cluster %s restored into database %s of cluster %s\n", dump.Name, dump.Cluster, db, name)
	return nil
}

func (o *RestoreOptions) confirmPGDump(d *PGDump, db string) error {
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
