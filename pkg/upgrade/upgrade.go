package upgrade

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/backup"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Request is an upgrade, as the command checked its flags.
type Request struct {
	Name, Namespace string
	// To is the new major.
	To int
	// Mode is jobs.UpgradeLink or jobs.UpgradeCopy.
	Mode string
	// NoBackup skips the full backup of the old major before the upgrade.
	NoBackup bool
	// Image is the cluster's image after the upgrade, UpgradeImage the
	// Job's; the project's images of To when empty.
	Image, UpgradeImage string
	Timeout, Poll       time.Duration
	Now                 func() time.Time
}

// Upgrader runs an upgrade with the clients, exec and streams of the
// command.
type Upgrader struct {
	Clients *apply.Clients
	Exec    apply.ExecFunc
	// Out takes the steps; Log the Jobs' logs.
	Out, Log io.Writer
}

// Plan is what Check found, before anything changes.
type Plan struct {
	Request
	Spec        cluster.Spec
	StatefulSet *appsv1.StatefulSet
}

// Check reads the cluster and refuses what cannot work, before anything
// changes: an unknown or older major, replicas, a standby, a custom image
// without the image of the new major, a backup, restore or upgrade that
// runs.
func (u Upgrader) Check(ctx context.Context, r Request) (*Plan, error) {
	c := u.Clients
	cm, err := c.Client.CoreV1().ConfigMaps(r.Namespace).Get(ctx, cluster.SettingsConfigMapName(r.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("cluster %q not found in namespace %q (there is no ConfigMap %s): check the name and -n", r.Name, r.Namespace, cluster.SettingsConfigMapName(r.Name))
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the settings of cluster %q: %w", r.Name, apply.APIError(c, err))
	}
	spec, err := cluster.SpecFromConfigMap(cm)
	if err != nil {
		return nil, err
	}
	from := spec.PostgresVersion
	switch {
	case !slices.Contains(cluster.PostgresVersions, r.To):
		return nil, fmt.Errorf("PostgreSQL %d is not supported: use one of %s. Nothing was changed", r.To, strings.Join(cluster.PostgresVersionNames(), ", "))
	case r.To <= from:
		return nil, fmt.Errorf("cluster %q runs PostgreSQL %d: --to=%d is not a newer major (a major cannot go back; restore a backup of the older major into a new cluster instead). Nothing was changed", r.Name, from, r.To)
	case spec.Replicas > 0:
		return nil, fmt.Errorf("cluster %q has %d replicas: remove them first (kubectl pgo update cluster %s -n %s --replicas=0), upgrade, then add them again (they copy the upgraded primary). Nothing was changed",
			r.Name, spec.Replicas, r.Name, r.Namespace)
	case spec.Standby != nil:
		return nil, fmt.Errorf("cluster %q is a standby of cluster %q: a standby replays its source's major; promote it first. Nothing was changed", r.Name, spec.Standby.Source)
	}
	if _, ok := cluster.ProjectImageVersion(spec.Image); !ok && (r.Image == "" || r.UpgradeImage == "") {
		return nil, fmt.Errorf("cluster %q runs image %s, not one of the project's: give the image of PostgreSQL %d it runs after (--image) and the image of the upgrade, with both majors (--upgrade-image). Nothing was changed",
			r.Name, spec.Image, r.To)
	}
	if err := jobs.CheckNoActive(ctx, c.Client, r.Namespace, r.Name, jobs.RestoreConflicts, "an upgrade", r.Now()); err != nil {
		return nil, fmt.Errorf("%w. Nothing was changed", err)
	}
	sts, err := c.Client.AppsV1().StatefulSets(r.Namespace).Get(ctx, spec.PrimaryInstance(), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("cannot read the StatefulSet of cluster %q: %w", r.Name, apply.APIError(c, err))
	}
	return &Plan{Request: r, Spec: spec, StatefulSet: sts}, nil
}

// Upgraded is the cluster's settings after the upgrade.
func (p *Plan) Upgraded() cluster.Spec {
	s := p.Spec
	s.PostgresVersion = p.To
	s.Image = p.Image
	if s.Image == "" {
		s.Image = cluster.ImageFor(p.To)
	}
	return s
}

// upgradeImage is the image of the Job.
func (p *Plan) upgradeImage() string {
	if p.UpgradeImage != "" {
		return p.UpgradeImage
	}
	return cluster.UpgradeImageFor(p.To)
}

// Describe says what Run does, for the confirmation.
func (p *Plan) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cluster %s in namespace %s: PostgreSQL %d to %d with pg_upgrade --%s.\n", p.Name, p.Namespace, p.Spec.PostgresVersion, p.To, p.Mode)
	if p.NoBackup {
		b.WriteString("  No backup first (--no-backup): the newest backup of the old major is the way back.\n")
	} else {
		fmt.Fprintf(&b, "  1. a full backup of PostgreSQL %d\n", p.Spec.PostgresVersion)
	}
	fmt.Fprintf(&b, "  2. the database stops (its last WAL archived), and Job %s runs pg_upgrade in image %s\n", jobs.UpgradeJobName(p.Name), p.upgradeImage())
	fmt.Fprintf(&b, "  3. the database and the repository host start with %s\n", p.Upgraded().Image)
	fmt.Fprintf(&b, "  4. pgbackrest stanza-upgrade, then a full backup of PostgreSQL %d\n", p.To)
	b.WriteString("The database is down from step 2 to step 3.")
	return b.String()
}

// Run upgrades the cluster of a checked plan.
func (u Upgrader) Run(ctx context.Context, p *Plan) error {
	ns, name := p.Namespace, p.Name
	if !p.NoBackup {
		u.step("taking a full backup of PostgreSQL %d", p.Spec.PostgresVersion)
		if err := u.fullBackup(ctx, p.Spec, p); err != nil {
			return fmt.Errorf("the full backup before the upgrade failed, so nothing was upgraded: %w", err)
		}
	}
	u.step("stopping the database: scaling StatefulSet %s to 0", p.StatefulSet.Name)
	if err := u.scale(ctx, p, 0); err != nil {
		return err
	}
	if err := u.runJob(ctx, p); err != nil {
		return err
	}
	upgraded := p.Upgraded()
	u.step("starting PostgreSQL %d: the cluster's settings and objects change to image %s", p.To, upgraded.Image)
	err := lifecycle.ChangeMajor(ctx, u.Clients, lifecycle.ChangeMajorOptions{
		Stored: p.Spec, Upgraded: upgraded, Exec: u.Exec, Poll: p.Poll, Timeout: p.Timeout, Progress: u.Out})
	if err != nil {
		return err
	}
	u.step("upgrading the pgBackRest stanza to PostgreSQL %d", p.To)
	if err := u.stanzaUpgrade(ctx, upgraded); err != nil {
		return err
	}
	u.step("taking the first full backup of PostgreSQL %d", p.To)
	if err := u.fullBackup(ctx, upgraded, p); err != nil {
		return fmt.Errorf("cluster %s runs PostgreSQL %d, but its first full backup failed: take one (kubectl pgo backup %s -n %s --type=full --wait): %w", name, p.To, name, ns, err)
	}
	u.step("cluster %s runs PostgreSQL %d; the backups of PostgreSQL %d stay in the repository", name, p.To, p.Spec.PostgresVersion)
	return nil
}

func (u Upgrader) step(format string, args ...any) {
	fmt.Fprintf(u.Out, "kubectl-pgo: "+format+"\n", args...)
}

// scale sets the database StatefulSet's replicas, and with 0 waits until
// its pod is gone: a clean shutdown, which archives the last WAL.
func (u Upgrader) scale(ctx context.Context, p *Plan, replicas int32) error {
	c, ns := u.Clients.Client, p.Namespace
	if err := kube.ScaleStatefulSet(ctx, c, ns, p.StatefulSet.Name, int(replicas), cluster.FieldManager); err != nil {
		return fmt.Errorf("cannot scale StatefulSet %s: %w", p.StatefulSet.Name, err)
	}
	pod := p.Spec.PrimaryPod()
	return kube.WaitFor(ctx, p.Poll, p.Timeout, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// runJob runs the upgrade Job and follows it; a failure leaves the
// database stopped, with what to do.
func (u Upgrader) runJob(ctx context.Context, p *Plan) error {
	ns := p.Namespace
	job, err := jobs.UpgradeJob{
		Cluster: p.Name, Namespace: ns, Image: p.upgradeImage(), From: p.Spec.PostgresVersion, To: p.To, Mode: p.Mode,
		PGData: cluster.DataDirectory(p.Name), Include: cluster.IncludeLine(), Superuser: cluster.Superuser,
		Database: p.StatefulSet, Deadline: p.Timeout,
	}.Render()
	if err != nil {
		return err
	}
	// A finished Job of an earlier attempt is replaced.
	background := metav1.DeletePropagationBackground
	_ = u.Clients.Client.BatchV1().Jobs(ns).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &background})
	if err := kube.WaitFor(ctx, p.Poll, time.Minute, func(ctx context.Context) (bool, error) {
		_, err := u.Clients.Client.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		return fmt.Errorf("the Job %s of an earlier upgrade is still there: delete it (kubectl delete job %s -n %s)", job.Name, job.Name, ns)
	}
	u.step("Job %s: pg_upgrade from PostgreSQL %d to %d", job.Name, p.Spec.PostgresVersion, p.To)
	if _, err := u.Clients.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("cannot create the upgrade Job (the database is stopped: start it with kubectl scale statefulset %s --replicas=1 -n %s): %w", p.StatefulSet.Name, ns, err)
	}
	out, err := jobs.Follow(ctx, u.Clients.Client, ns, job.Name, jobs.FollowOptions{
		Container: "pgbackrest", Log: u.Log, Interval: p.Poll, Status: func(s string) { u.step("%s", s) }})
	if err != nil {
		return fmt.Errorf("following the upgrade Job %s: %w", job.Name, err)
	}
	if !out.Succeeded {
		return fmt.Errorf("the upgrade Job %s failed (%s): see its log above (kubectl logs job/%s -n %s). The database is stopped; its Job says whether the data directory of PostgreSQL %d is back in place: "+
			"then start it with kubectl scale statefulset %s --replicas=1 -n %s",
			job.Name, strings.TrimSpace(out.Reason+" "+out.Message), job.Name, ns, p.Spec.PostgresVersion, p.StatefulSet.Name, ns)
	}
	return nil
}

// stanzaUpgrade runs pgbackrest stanza-upgrade where the cluster's
// backups run: the repository host, or the database pod without one.
func (u Upgrader) stanzaUpgrade(ctx context.Context, spec cluster.Spec) error {
	pod, err := backupPod(ctx, u.Clients, spec)
	if err != nil {
		return err
	}
	// The new database archives at once, and archive-push holds the
	// stanza's archive lock for a moment (pgBackRest error 50): try again.
	var out, stderr string
	err = kube.WaitFor(ctx, 2*time.Second, 3*time.Minute, func(ctx context.Context) (bool, error) {
		execCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		out, stderr, err = u.Exec(execCtx, spec.Namespace, pod, cluster.ContainerPGBackRest, []string{"pgbackrest", "--stanza=" + repo.StanzaName, "stanza-upgrade"})
		if err != nil && strings.Contains(out+stderr, "ERROR: [050]") {
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return fmt.Errorf("pgbackrest stanza-upgrade in %s failed: %v %s%s: run it again (kubectl exec %s -c %s -n %s -- pgbackrest --stanza=%s stanza-upgrade), then take a full backup",
			pod, err, out, stderr, pod, cluster.ContainerPGBackRest, spec.Namespace, repo.StanzaName)
	}
	return nil
}

// backupPod is where pgBackRest's repository commands run.
func backupPod(ctx context.Context, c *apply.Clients, spec cluster.Spec) (string, error) {
	if !spec.HasLocalRepo() {
		return spec.PrimaryPod(), nil
	}
	pod, err := kube.FindRunningPod(ctx, c.Client, spec.Namespace, cluster.RepoSelector(spec.Name).String())
	if err != nil {
		return "", err
	}
	return pod.Name, nil
}

// fullBackup takes a full backup of the cluster and waits for it.
func (u Upgrader) fullBackup(ctx context.Context, spec cluster.Spec, p *Plan) error {
	req := backup.Request{Cluster: spec.Name, Namespace: spec.Namespace, Spec: spec, Type: repo.BackupFull, Deadline: p.Timeout}
	started, err := backup.Start(ctx, u.Clients.Client, req, p.Now)
	if err != nil {
		return err
	}
	result := backup.NewResult(req, started)
	w := backup.Waiter{Client: u.Clients.Client, Exec: backup.Exec(u.Exec), Log: u.Log, ErrOut: u.Out, Interval: p.Poll, Now: p.Now,
		Info: func(ctx context.Context, ns, pod string, extra ...string) (repo.Stanza, error) {
			return inspect.ReadStanza(ctx, u.Exec, ns, pod, extra...)
		}}
	return w.Wait(ctx, req, started, &result)
}
