package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// sourceAliveWithin is how recent the last transaction replayed from the
// source may be for promote to warn that the source may still write.
const sourceAliveWithin = 5 * time.Minute

// catchUpTimeout bounds the wait for a standby to replay the source's
// newest archived segment before it is promoted.
const catchUpTimeout = 3 * time.Minute

// PromoteRequest is what a promote needs besides the clients.
type PromoteRequest struct {
	// Spec is the standby cluster's stored settings.
	Spec cluster.Spec
	// Force promotes a standby that has not replayed the source's whole
	// archive, or whose source's archive cannot be read.
	Force   bool
	Exec    apply.ExecFunc
	Timeout time.Duration
	Poll    time.Duration
	Now     func() time.Time
	// Progress takes a line per step.
	Progress io.Writer
}

// PromotePlan is what PlanPromote read: the confirmation shows it.
type PromotePlan struct {
	Spec    cluster.Spec
	Standby inspect.StandbyInfo
	// Promoted: the database left recovery already (a promote that was
	// interrupted); only the settings are left to apply.
	Promoted bool
	// Warnings name the risks: a source that may still write, an archive
	// that could not be read.
	Warnings []string
}

// PromoteResult is what `promote -o json|yaml` prints.
type PromoteResult struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Source    string `json:"source"`
	// PromotedAtLSN is where the replay stood, ReplayedSegment its
	// segment, and LastTransaction the commit time of the last transaction
	// replayed from the source: nothing the source wrote after it is here.
	PromotedAtLSN    string     `json:"promotedAtLSN"`
	ReplayedSegment  string     `json:"replayedSegment,omitempty"`
	LastTransaction  *time.Time `json:"lastTransaction,omitempty"`
	SourceArchiveMax string     `json:"sourceArchiveMax,omitempty"`
	// Timeline is the new one the promotion started.
	Timeline int `json:"timeline"`
	// ArchivedWAL is a segment of the new timeline archived into the
	// cluster's own repository (with --wait).
	ArchivedWAL string   `json:"archivedWAL,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
}

// PlanPromote reads the standby's replay and looks for signs that the
// source still runs. It refuses a cluster that is not a standby.
func PlanPromote(ctx context.Context, c *apply.Clients, r PromoteRequest) (*PromotePlan, error) {
	spec := r.Spec
	if spec.Standby == nil {
		return nil, fmt.Errorf("cluster %q is not a standby cluster: promote ends the standby mode of a cluster created with create cluster --standby; to make a replica the primary, use kubectl pgo failover %s -n %s. Nothing was changed",
			spec.Name, spec.Name, spec.Namespace)
	}
	pod, err := c.Client.CoreV1().Pods(spec.Namespace).Get(ctx, spec.PrimaryPod(), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("cannot read the database pod %s of cluster %q: %w; nothing was changed", spec.PrimaryPod(), spec.Name, apply.APIError(c, err))
	}
	plan := &PromotePlan{Spec: spec, Standby: inspect.Standby(ctx, inspect.Exec(r.Exec), spec, pod)}
	s := &plan.Standby
	if s.ReplayLSN == "" && !s.InRecovery {
		return nil, fmt.Errorf("cannot read the replay of cluster %q in pod %s: %s; nothing was changed", spec.Name, pod.Name, s.Error)
	}
	plan.Promoted = !s.InRecovery
	if s.Error != "" {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("the source's archive cannot be read (%s): whether the standby replayed all of it is unknown", s.Error))
	}
	if s.LastTransaction != nil && r.Now().Sub(*s.LastTransaction) < sourceAliveWithin {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("cluster %s committed a transaction %s ago: it may still be alive", spec.StandbySourceName(), r.Now().Sub(*s.LastTransaction).Round(time.Second)))
	}
	if running := sourceRunning(ctx, c, spec); running != "" {
		plan.Warnings = append(plan.Warnings, running)
	}
	return plan, nil
}

// sourceRunning names the source's database pod when this client can see
// it running: "" when it cannot (another Kubernetes cluster, no access,
// or it is gone).
func sourceRunning(ctx context.Context, c *apply.Clients, spec cluster.Spec) string {
	sb := spec.Standby
	ns := cmp.Or(sb.SourceNamespace, spec.Namespace)
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.PrimaryPodSelector(sb.Source)})
	if err != nil {
		return ""
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; kube.IsPodReady(p) {
			return fmt.Sprintf("cluster %s is running (pod %s is ready in namespace %s): once promoted, both clusters take writes, and what %s writes from now on is not in %s",
				sb.Source, p.Name, ns, sb.Source, spec.Name)
		}
	}
	return ""
}

// Promote ends the standby mode of plan's cluster: it waits until the
// database has replayed the source's newest archived segment, promotes it
// on a new timeline, gives the superuser the password of the cluster's
// own Secret, and applies the cluster's settings without the standby (the
// database pod restarts once, without the source's configuration, and
// archives into the cluster's own repository). With wait, it waits until
// a segment of the new timeline is in that repository.
func Promote(ctx context.Context, c *apply.Clients, r PromoteRequest, plan *PromotePlan, wait bool) (*PromoteResult, error) {
	spec, ns := plan.Spec, plan.Spec.Namespace
	pod := spec.PrimaryPod()
	say := func(format string, args ...any) { fmt.Fprintf(r.Progress, format+"\n", args...) }
	deadline := time.Now().Add(r.Timeout)
	res := &PromoteResult{Cluster: spec.Name, Namespace: ns, Source: spec.StandbySourceName(), Warnings: plan.Warnings}

	s := plan.Standby
	if !plan.Promoted {
		// Also when the archive could not be read at first: a passing
		// error is read past; an archive that stays unreadable (the
		// disaster took it too) needs --force.
		caught, err := catchUp(ctx, c, r, plan, &s)
		if err != nil {
			return nil, err
		}
		if !caught && !r.Force {
			return nil, fmt.Errorf("cluster %q has not replayed the source's archive, or cannot read it: %s. Nothing was changed; find out why (kubectl logs %s -n %s -c database), or promote with --force and lose what it has not replayed",
				spec.Name, s.Describe(r.Now()), pod, ns)
		}
		res.PromotedAtLSN, res.ReplayedSegment, res.LastTransaction, res.SourceArchiveMax = s.ReplayLSN, s.ReplaySegment, s.LastTransaction, s.SourceArchiveMax
		if err := stopReplicas(ctx, c, spec, deadline, say); err != nil {
			return nil, fmt.Errorf("%w; nothing was promoted: start them again with kubectl pgo update cluster %s -n %s", err, spec.Name, ns)
		}
		say("Promoting %s, %s...", pod, s.Describe(r.Now()))
		if err := promoteDatabase(ctx, r.Exec, ns, pod); err != nil {
			return nil, fmt.Errorf("%w; run kubectl pgo promote %s -n %s again", err, spec.Name, ns)
		}
	} else {
		say("The database of %s left recovery already; applying the settings of a primary.", pod)
		if err := stopReplicas(ctx, c, spec, deadline, say); err != nil {
			return nil, err
		}
	}
	row, err := psqlIn(ctx, r.Exec, ns, pod, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")
	if err == nil {
		fmt.Sscan(row, &res.Timeline)
	}
	say("%s accepts writes, on timeline %d", pod, res.Timeline)

	again := fmt.Sprintf("run kubectl pgo promote %s -n %s again", spec.Name, ns)
	if err := setSuperuserPassword(ctx, r.Exec, ns, pod); err != nil {
		return nil, fmt.Errorf("%s was promoted, but %w; %s", pod, err, again)
	}
	if err := emptyReplicaPVCs(ctx, c, spec, deadline); err != nil {
		return nil, fmt.Errorf("%s was promoted, but %w; %s", pod, err, again)
	}
	next := spec
	next.Standby = nil
	say("Recording cluster %s as a primary: its database restarts once, without the source's configuration, and archives into its own repository", spec.Name)
	// The replicas' objects as new ones: their data PVCs are made again.
	old := spec
	old.Replicas = 0
	if err := applyChanged(ctx, c, old, next, r.Now(), nil); err != nil {
		return nil, fmt.Errorf("%s was promoted, but the settings of a primary cannot be applied: %w; %s", pod, err, again)
	}
	secret := cluster.StandbySourceSecretName(spec.Name)
	if err := c.Client.CoreV1().Secrets(ns).Delete(ctx, secret, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		say("Warning: Secret %s, with which the standby read the source's repositories, could not be deleted: %v", secret, apply.APIError(c, err))
	} else {
		say("Deleted Secret %s: the cluster no longer reads the repositories of %s", secret, res.Source)
	}
	backup := fmt.Sprintf("kubectl pgo backup %s -n %s --type=full --wait", spec.Name, ns)
	if !wait {
		say("cluster %s is a primary (timeline %d); not waiting for its pod to restart. Its repository has no backup yet: take one (%s)", spec.Name, res.Timeline, backup)
		return res, nil
	}
	steps := []apply.WaitStep{
		apply.InstanceStep(c, ns, spec.PrimaryInstance(), "the database pod to restart as a primary"),
		archivedWALStep(r.Exec, ns, pod, res.Timeline, &res.ArchivedWAL, fmt.Sprintf("kubectl pgo show archive %s -n %s", spec.Name, ns)),
	}
	if !next.HasLocalRepo() {
		steps = append(steps, stanzaCheckedStep(r.Exec, ns, pod))
	}
	steps = append(steps, replicaSteps(c, r.Exec, next, next.ReplicaInstances())...)
	if err := apply.RunWaitSteps(ctx, r.Progress, r.Poll, deadline, steps, fmt.Sprintf("Cluster %q was promoted", spec.Name)); err != nil {
		return res, err
	}
	say("cluster %s is a primary (timeline %d), archiving into its own repository. It has no backup yet: take one (%s)", spec.Name, res.Timeline, backup)
	return res, nil
}

// catchUp waits until the standby replays the source's newest archived
// segment, and its replay stands still there (the segment is replayed
// whole). It tells whether it did within catchUpTimeout; s is the last
// reading.
func catchUp(ctx context.Context, c *apply.Clients, r PromoteRequest, plan *PromotePlan, s *inspect.StandbyInfo) (bool, error) {
	spec, ns := plan.Spec, plan.Spec.Namespace
	fmt.Fprintf(r.Progress, "Waiting for %s to replay the source's newest archived segment...\n", spec.PrimaryPod())
	previous := ""
	err := kube.WaitFor(ctx, r.Poll, min(catchUpTimeout, r.Timeout), func(ctx context.Context) (bool, error) {
		pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, spec.PrimaryPod(), metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		now := inspect.Standby(ctx, inspect.Exec(r.Exec), spec, pod)
		if now.Error != "" || !now.InRecovery {
			return false, nil
		}
		*s = now
		// Streaming, the standby has what the source sent; from the
		// archive alone, it has replayed the newest segment once its
		// replay stands still.
		done := now.SegmentsBehind != nil && *now.SegmentsBehind == 0 && (now.ReplayLSN == previous || now.Receiver == "streaming")
		previous = now.ReplayLSN
		return done, nil
	})
	if err != nil && ctx.Err() != nil {
		return false, ctx.Err()
	}
	return err == nil, nil
}

// stopReplicas stops the replicas of a standby cluster before its
// promotion: they replay the source's archive on their own, and are made
// again from the promoted primary rather than follow it from wherever
// their replay stood.
func stopReplicas(ctx context.Context, c *apply.Clients, spec cluster.Spec, deadline time.Time, say func(string, ...any)) error {
	replicas := spec.ReplicaInstances()
	if len(replicas) == 0 {
		return nil
	}
	say("Stopping the replicas %s: they are copied again from the promoted primary (pg_basebackup)", strings.Join(replicas, ", "))
	for _, n := range replicas {
		if err := scaleStatefulSet(ctx, c, spec.Namespace, n, 0); err != nil {
			return err
		}
	}
	pods := c.Client.CoreV1().Pods(spec.Namespace)
	return kube.WaitFor(ctx, time.Second, time.Until(deadline), func(ctx context.Context) (bool, error) {
		for _, n := range replicas {
			if _, err := pods.Get(ctx, cluster.InstancePodName(n), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		return true, nil
	})
}

// emptyReplicaPVCs deletes the data PVCs of the stopped replicas, and
// waits until they are gone: applying the cluster's objects makes them
// anew, empty, and each replica copies the primary into its own.
func emptyReplicaPVCs(ctx context.Context, c *apply.Clients, spec cluster.Spec, deadline time.Time) error {
	for _, n := range spec.ReplicaInstances() {
		if err := kube.DeletePVC(ctx, c.Client, spec.Namespace, n, time.Second, time.Until(deadline)); err != nil {
			return fmt.Errorf("the data PVC of replica %s cannot be deleted: %w", n, apply.APIError(c, err))
		}
	}
	return nil
}

// setSuperuserPassword gives the superuser the password of the cluster's
// own postgres Secret: a standby's database has the source's roles and
// passwords, which kubectl pgo's Jobs do not know.
func setSuperuserPassword(ctx context.Context, exec apply.ExecFunc, ns, pod string) error {
	script := fmt.Sprintf(`psql -XAtq -v ON_ERROR_STOP=1 -v superuser=%s -v password="$(cat %s)" <<'SQL'
ALTER ROLE :"superuser" PASSWORD :'password';
SQL`, cluster.Superuser, cluster.PasswordFile)
	if _, stderr, err := exec(ctx, ns, pod, cluster.ContainerDatabase, []string{"bash", "-c", script}); err != nil {
		return fmt.Errorf("the superuser's password cannot be set: %v %s", err, strings.TrimSpace(stderr))
	}
	return nil
}
