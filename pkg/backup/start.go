package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Request is a pgBackRest backup of a cluster, checked by the command.
type Request struct {
	Cluster   string
	Namespace string
	// Spec is the cluster's settings, as its ConfigMap holds them.
	Spec cluster.Spec
	// Repo is the repository's index (repo1 is 1), 0 for pgBackRest's
	// default.
	Repo    int
	Type    string
	Options repo.BackupOptions
	Verbose bool
	// Deadline is how long the Job may run (activeDeadlineSeconds).
	Deadline time.Duration
	// Standby is the replica instance to copy the files from (ChooseStandby);
	// empty: the primary.
	Standby string
}

// Start renders the backup Job and starts it, so that two backups of the
// cluster never run at once: it refuses while a backup or restore Job of
// the cluster is active. Nothing is started when it fails.
func Start(ctx context.Context, client kubernetes.Interface, r Request, now func() time.Time) (*batchv1.Job, error) {
	if err := r.Spec.RefuseStandby("a pgBackRest backup (its repository has the source's backups, not its own)"); err != nil {
		return nil, fmt.Errorf("%w. Nothing was started", err)
	}
	deploy, err := jobTemplate(ctx, client, r.Namespace, r.Cluster, r.Spec)
	if err != nil {
		return nil, err
	}
	if err := jobs.CheckNoConflict(ctx, client, r.Namespace, r.Cluster, now()); err != nil {
		return nil, fmt.Errorf("%w. Nothing was started", err)
	}
	job, err := jobs.BackupJob{
		Cluster:   r.Cluster,
		Namespace: r.Namespace,
		RepoHost:  deploy,
		Repo:      r.Repo,
		Type:      r.Type,
		Options:   r.Options,
		Verbose:   r.Verbose,
		Deadline:  r.Deadline,
		Suspend:   true,
		Standby:   standbyArgs(r),
	}.Render()
	if err != nil {
		return nil, err
	}
	started, err := jobs.StartBackup(ctx, client, r.Cluster, job, now())
	if err != nil {
		var conflict *jobs.ConflictError
		if errors.As(err, &conflict) {
			return nil, fmt.Errorf("%w. Nothing was started", err)
		}
		return nil, err
	}
	return started, nil
}

// jobTemplate is the pod the backup Job copies: the repository host's
// Deployment, which must be running beside the Job; or, for a cluster
// without a local repository, the same Deployment rendered from the
// cluster's settings, with the database pod running.
func jobTemplate(ctx context.Context, client kubernetes.Interface, ns, name string, spec cluster.Spec) (*appsv1.Deployment, error) {
	if !spec.HasLocalRepo() {
		if _, err := kube.FindRunningPod(ctx, client, ns, cluster.PrimaryPodSelector(name)); err != nil {
			return nil, fmt.Errorf("cannot back up cluster %q: its database %s (%v). Nothing was started", name, kube.NotRunning(err), err)
		}
		return cluster.RepoHostDeployment(spec)
	}
	deploy, err := client.AppsV1().Deployments(ns).Get(ctx, cluster.RepoHostName(name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("cannot back up cluster %q: its repository host Deployment %s is missing in namespace %q; run kubectl pgo create cluster %s again to restore it. Nothing was started",
			name, cluster.RepoHostName(name), ns, name)
	case err != nil:
		return nil, fmt.Errorf("cannot back up cluster %q: read its repository host: %w", name, err)
	}
	if _, err := kube.FindRunningPod(ctx, client, ns, cluster.RepoSelector(name).String()); err != nil {
		return nil, fmt.Errorf("cannot back up cluster %q: its repository host %s (%v); the backup Job runs beside it. Check it with kubectl get deployment %s -n %s. Nothing was started",
			name, kube.NotRunning(err), err, cluster.RepoHostName(name), ns)
	}
	return deploy, nil
}

// standbyArgs are the Job's options of a backup from r.Standby.
func standbyArgs(r Request) []string {
	if r.Standby == "" {
		return nil
	}
	return cluster.StandbyBackupArgs(r.Spec, r.Standby)
}
