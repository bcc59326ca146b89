package backup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// ScheduledBackup is a schedule: its CronJob, and the backup that each run
// makes.
type ScheduledBackup struct {
	Cluster   string
	Namespace string
	Spec      cluster.Spec
	// Name is the schedule's (and its CronJob's); Cron and TimeZone say
	// when it runs.
	Name     string
	Cron     string
	TimeZone string
	// Type is pgbackrest, pgdump or pgbasebackup.
	Type string
	// For pgbackrest: the backup type (full, diff or incr), the options,
	// and the repository, resolved against the cluster's settings.
	PGBackRestType string
	Options        repo.BackupOptions
	RepoIndex      func(cluster.Spec) (int, error)
	// For pgdump and pgbasebackup: the database, the tool's options and
	// the PVC.
	Database    string
	ToolOptions []string
	PVC         string
	PVCSize     string
}

// CreateSchedule checks the permissions, refuses a CronJob of that name
// that is not a schedule of the cluster, renders the CronJob with the Job
// of each run (ScheduleJob), creates the PVC of the dumps when it is
// missing, and applies the CronJob, unless dryRun (apply.DryRunClient or
// DryRunServer) says otherwise. It returns the CronJob as applied, and
// "created", "configured" or "unchanged".
func CreateSchedule(ctx context.Context, c *apply.Clients, exec Exec, s ScheduledBackup, dryRun string) (*unstructured.Unstructured, string, error) {
	ns := s.Namespace
	if err := s.Spec.RefuseStandby("a backup schedule"); err != nil {
		return nil, "", fmt.Errorf("%w. No schedule was created", err)
	}
	perms := []apply.Permission{{Verb: "get", Group: "batch", Resource: "cronjobs"}, {Verb: "patch", Group: "batch", Resource: "cronjobs"}}
	if s.Type != jobs.BackupTypePGBackRest {
		perms = append(perms, apply.Permission{Verb: "get", Resource: "persistentvolumeclaims"}, apply.Permission{Verb: "patch", Resource: "persistentvolumeclaims"})
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("create schedule %q", s.Name), perms); err != nil {
		return nil, "", err
	}
	ref := &unstructured.Unstructured{}
	ref.SetGroupVersionKind(batchv1.SchemeGroupVersion.WithKind("CronJob"))
	ref.SetName(s.Name)
	ref.SetNamespace(ns)
	existing, err := apply.GetObject(ctx, c, ref)
	if err != nil {
		return nil, "", err
	}
	if existing != nil {
		l := existing.GetLabels()
		if l[cluster.LabelComponent] != jobs.ComponentSchedule || l[cluster.LabelCluster] != s.Cluster {
			return nil, "", fmt.Errorf("CronJob %s already exists in namespace %q and is not a schedule of cluster %q: choose another --schedule-name. No schedule was created",
				s.Name, ns, s.Cluster)
		}
	}

	job, err := ScheduleJob(ctx, c, exec, s)
	if err != nil {
		return nil, "", err
	}
	cj, err := jobs.Schedule{
		Name: s.Name, Cluster: s.Cluster, Namespace: ns, Cron: s.Cron, TimeZone: s.TimeZone,
		Type: s.Type, Job: job,
	}.Render()
	if err != nil {
		return nil, "", err
	}
	applied, err := applyObject(cj)
	if err != nil {
		return nil, "", err
	}
	if dryRun != apply.DryRunClient {
		if s.Type != jobs.BackupTypePGBackRest && dryRun == apply.DryRunNone {
			if err := EnsurePVC(ctx, c.Client, ns, s.Cluster, s.PVC, s.PVCSize, s.Type); err != nil {
				return nil, "", err
			}
		}
		if applied, err = kube.Apply(ctx, c.Dynamic, c.Mapper, applied, kube.DryRun(dryRun == apply.DryRunServer)); err != nil {
			return nil, "", fmt.Errorf("create schedule %s: %w", s.Name, apply.APIError(c, err))
		}
	}
	result := "created"
	if existing != nil {
		// A dry run cannot tell: it writes nothing.
		result = "configured"
		if dryRun == apply.DryRunNone && existing.GetResourceVersion() == applied.GetResourceVersion() {
			result = "unchanged"
		}
	}
	return applied, result, nil
}

// applyObject converts a typed object for kube.Apply, without the
// empty status and creation time that apply has no business sending.
func applyObject(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	u := &unstructured.Unstructured{Object: m}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return u, nil
}

// ScheduleJob renders the Job of each run of a schedule, as kubectl pgo
// backup would; for a pg_dump it first checks that the database exists.
func ScheduleJob(ctx context.Context, c *apply.Clients, exec Exec, s ScheduledBackup) (*batchv1.Job, error) {
	ns, name := s.Namespace, s.Cluster
	switch s.Type {
	case jobs.BackupTypePGDump:
		if err := CheckDatabase(ctx, exec, ns, name, s.Database); err != nil {
			return nil, fmt.Errorf("%w. No schedule was created", err)
		}
		return jobs.PGDumpJob{Cluster: name, Namespace: ns, Image: s.Spec.Image, PostgresVersion: s.Spec.PostgresVersion, Database: s.Database,
			Options: s.ToolOptions, PVC: s.PVC, Scheduled: true}.Render(), nil
	case jobs.BackupTypePGBaseBackup:
		return jobs.PGBaseBackupJob{Cluster: name, Namespace: ns, Image: s.Spec.Image,
			Options: s.ToolOptions, PVC: s.PVC, Scheduled: true}.Render(), nil
	}
	if !s.Spec.HasLocalRepo() {
		// No repository host: the Job is made from its template alone.
		deploy, err := cluster.RepoHostDeployment(s.Spec)
		if err != nil {
			return nil, err
		}
		return s.backupJob(deploy)
	}
	deploy, err := c.Client.AppsV1().Deployments(ns).Get(ctx, cluster.RepoHostName(name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("cannot schedule backups of cluster %q: its repository host Deployment %s is missing in namespace %q; run kubectl pgo create cluster %s again to restore it. No schedule was created",
			name, cluster.RepoHostName(name), ns, name)
	case err != nil:
		return nil, fmt.Errorf("cannot schedule backups of cluster %q: read its repository host: %w", name, apply.APIError(c, err))
	}
	return s.backupJob(deploy)
}

// backupJob is the schedule's pgBackRest backup Job, to the chosen
// repository.
func (s ScheduledBackup) backupJob(deploy *appsv1.Deployment) (*batchv1.Job, error) {
	n, err := s.RepoIndex(s.Spec)
	if err != nil {
		return nil, fmt.Errorf("%w. No schedule was created", err)
	}
	b := jobs.BackupJob{Cluster: s.Cluster, Namespace: s.Namespace, RepoHost: deploy, Repo: n, Type: s.PGBackRestType, Options: s.Options}
	if s.Spec.BackupStandby {
		b.Standby = cluster.InstancesBackupArgs(s.Spec)
	}
	return b.Render()
}

// ListSchedules returns the schedule CronJobs, sorted by namespace and
// name: of the cluster (every cluster when empty), the one named (any when
// empty), matching sel; in every namespace when ns is empty.
func ListSchedules(ctx context.Context, c *apply.Clients, ns, clusterName, name string, sel labels.Selector) ([]batchv1.CronJob, error) {
	reqs, _ := sel.Requirements()
	full := labels.SelectorFromSet(jobs.ScheduleSelector(clusterName)).Add(reqs...)
	list, err := c.Client.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: full.String()})
	if err != nil {
		return nil, fmt.Errorf("cannot list the schedules (CronJobs): %w", apply.APIError(c, err))
	}
	// One being deleted is gone already, as far as the user is concerned.
	items := slices.DeleteFunc(list.Items, func(cj batchv1.CronJob) bool {
		return (name != "" && cj.Name != name) || cj.DeletionTimestamp != nil
	})
	slices.SortFunc(items, func(a, b batchv1.CronJob) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return items, nil
}

// ScheduleInfo is one schedule, as show schedule prints it.
type ScheduleInfo struct {
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	Cluster    string `json:"cluster"`
	Schedule   string `json:"schedule"`
	TimeZone   string `json:"timeZone,omitempty"`
	BackupType string `json:"backupType"`
	// PGBackRestType is full, diff or incr for pgBackRest schedules.
	PGBackRestType string `json:"pgbackrestType,omitempty"`
	Suspended      bool   `json:"suspended"`
	// LastRun is when the last Job was created; LastRunJob and
	// LastRunStatus are that Job and its state, while it is kept.
	LastRun       *time.Time `json:"lastRun,omitempty"`
	LastRunJob    string     `json:"lastRunJob,omitempty"`
	LastRunStatus string     `json:"lastRunStatus,omitempty"`
	LastSuccess   *time.Time `json:"lastSuccess,omitempty"`
	NextRun       *time.Time `json:"nextRun,omitempty"`
}

// DescribeSchedule describes a CronJob, with its Jobs: the last run is the
// newest of the CronJob's lastScheduleTime and of its Jobs, so that a run
// started by hand counts.
func DescribeSchedule(ctx context.Context, client kubernetes.Interface, cj *batchv1.CronJob, now time.Time) (ScheduleInfo, error) {
	info := ScheduleInfo{
		Name: cj.Name, Namespace: cj.Namespace, Cluster: cj.Labels[cluster.LabelCluster],
		Schedule: cj.Spec.Schedule, BackupType: cj.Labels[jobs.LabelBackupType], PGBackRestType: cj.Labels[jobs.LabelPGBackRestType],
		Suspended: cj.Spec.Suspend != nil && *cj.Spec.Suspend,
	}
	if cj.Spec.TimeZone != nil {
		info.TimeZone = *cj.Spec.TimeZone
	}
	later := func(cur *time.Time, t *metav1.Time) *time.Time {
		if t == nil || (cur != nil && !t.After(*cur)) {
			return cur
		}
		u := t.UTC()
		return &u
	}
	info.LastRun = later(nil, cj.Status.LastScheduleTime)
	info.LastSuccess = later(nil, cj.Status.LastSuccessfulTime)
	// The Jobs count too: the controller sets lastScheduleTime only for
	// the runs it starts, and its status lags the Jobs.
	list, err := client.BatchV1().Jobs(cj.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{jobs.LabelSchedule: cj.Name}.String(),
	})
	if err != nil {
		return info, fmt.Errorf("cannot list the Jobs of schedule %s: %w", cj.Name, err)
	}
	var newest *batchv1.Job
	for i := range list.Items {
		j := &list.Items[i]
		if !ownedBy(j, cj) {
			continue
		}
		if newest == nil || j.CreationTimestamp.After(newest.CreationTimestamp.Time) {
			newest = j
		}
		if jobs.State(j) == jobs.StateSucceeded {
			info.LastSuccess = later(info.LastSuccess, j.Status.CompletionTime)
		}
	}
	if newest != nil {
		info.LastRunJob, info.LastRunStatus = newest.Name, jobs.State(newest)
		if info.LastRun == nil || !newest.CreationTimestamp.Time.Before(*info.LastRun) {
			t := newest.CreationTimestamp.UTC()
			info.LastRun = &t
		}
	}
	if next := jobs.NextRun(cj.Spec.Schedule, info.TimeZone, now); !next.IsZero() && !info.Suspended {
		info.NextRun = &next
	}
	return info, nil
}

// ownedBy tells whether the CronJob made the Job (or it was made from
// it, as kubectl create job --from does).
func ownedBy(j *batchv1.Job, cj *batchv1.CronJob) bool {
	ref := metav1.GetControllerOf(j)
	return ref != nil && ref.UID == cj.UID
}
