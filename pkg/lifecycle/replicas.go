package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// newReplicas are the replica instances that spec has and stored has not.
func newReplicas(stored, spec cluster.Spec) []string {
	var out []string
	for _, n := range spec.ReplicaInstances() {
		if !slices.Contains(stored.InstanceNames(), n) {
			out = append(out, n)
		}
	}
	return out
}

// chooseReplicaBootstrap records in spec the backup that new replicas are
// restored from: the newest one on the history of the latest timeline, so
// that the standby can follow the archive to where the primary is. With no
// such backup, or when the repository cannot be read, it is left empty and
// the replicas copy the primary with pg_basebackup. It says which.
func chooseReplicaBootstrap(ctx context.Context, c *apply.Clients, exec apply.ExecFunc, spec *cluster.Spec, progress io.Writer) {
	spec.ReplicaBootstrap = ""
	if spec.Standby != nil {
		fmt.Fprintf(progress, "new replicas are restored from the newest backup of cluster %s, then replay its archive as the standby does\n", spec.StandbySourceName())
		return
	}
	label, why := newestUsableBackup(ctx, c, exec, spec.Namespace, spec.Name)
	if label == "" {
		fmt.Fprintf(progress, "new replicas copy the primary with pg_basebackup: %s\n", why)
		return
	}
	// A standby restored from a backup on an older timeline reads the
	// archive up to the fork: the current timeline's first segment must be
	// there, or it would replay the old timeline's segment past the fork.
	if why := archiveCurrentSegment(ctx, exec, *spec); why != "" {
		fmt.Fprintf(progress, "new replicas copy the primary with pg_basebackup: %s\n", why)
		return
	}
	spec.ReplicaBootstrap = label
	fmt.Fprintf(progress, "new replicas are restored from backup %s (pgbackrest restore --type=standby), then stream from the primary\n", label)
}

// archiveCurrentSegment makes the primary end its WAL segment and waits
// until it is archived; it returns why not when it could not.
func archiveCurrentSegment(ctx context.Context, exec apply.ExecFunc, spec cluster.Spec) string {
	ns, pod := spec.Namespace, spec.PrimaryPod()
	out, stderr, err := exec(ctx, ns, pod, cluster.ContainerDatabase, inspect.PSQLCommand("postgres", repo.SwitchWALQuery))
	seg := strings.TrimSpace(out)
	if err != nil || seg == "" {
		return fmt.Sprintf("the primary's WAL cannot be switched (%v %s)", err, strings.TrimSpace(stderr))
	}
	if err := inspect.WaitArchived(ctx, inspect.Exec(exec), ns, pod, seg, inspect.DefaultArchiveWait); err != nil {
		return err.Error()
	}
	return ""
}

// newestUsableBackup returns the label of the newest backup on the history
// of the latest timeline, or why there is none.
func newestUsableBackup(ctx context.Context, c *apply.Clients, exec apply.ExecFunc, ns, name string) (label, why string) {
	if exec == nil {
		return "", "the repository is not read without --wait"
	}
	pod, err := kube.FindRunningPod(ctx, c.Client, ns, cluster.PGBackRestPodSelector(name))
	if err != nil {
		return "", fmt.Sprintf("the pgBackRest pod, which reads the repository, %s", kube.NotRunning(err))
	}
	execCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, stderr, err := exec(execCtx, ns, pod.Name, cluster.ContainerPGBackRest,
		repo.InfoCommand([]string{"--stanza=" + repo.StanzaName, "--log-level-console=off"}, 0, nil))
	if err != nil {
		return "", fmt.Sprintf("the repository cannot be read (%v %s)", err, strings.TrimSpace(stderr))
	}
	info, err := repo.ParseInfoOutput(out)
	if err != nil {
		return "", fmt.Sprintf("the repository cannot be read (%v)", err)
	}
	stanza, ok := repo.Find(info.Stanzas, repo.StanzaName)
	if !ok || stanza.Err() != nil {
		return "", "the repository has no stanza yet"
	}
	backups := stanza.Backups(0)
	if len(backups) == 0 {
		return "", "the repository has no backup yet"
	}
	timelines, err := info.TimelinesOf(stanza)
	if err != nil {
		return "", fmt.Sprintf("the timelines of the repository cannot be read (%v)", err)
	}
	sel, err := repo.SelectBackup(backups, timelines, repo.RestoreTarget{Timeline: repo.TargetTimeline("latest")})
	if err != nil {
		return "", fmt.Sprintf("no backup reaches the latest timeline (%v)", err)
	}
	return sel.Backup.Label, ""
}

// removeInstances deletes the replicas that spec no longer has: their
// StatefulSets and their PVCs, whose data the next replica of that name
// must not start from.
func removeInstances(ctx context.Context, c *apply.Clients, stored, spec cluster.Spec, progress io.Writer) error {
	ns := spec.Namespace
	for _, n := range stored.InstanceNames() {
		if slices.Contains(spec.InstanceNames(), n) {
			continue
		}
		fg := metav1.DeletePropagationForeground
		err := c.Client.AppsV1().StatefulSets(ns).Delete(ctx, n, metav1.DeleteOptions{PropagationPolicy: &fg})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting replica %s: %w", n, apply.APIError(c, err))
		}
		err = c.Client.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, n, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the PVC of replica %s: %w", n, apply.APIError(c, err))
		}
		pod := cluster.InstancePodName(n)
		err = c.Client.CoreV1().Services(ns).Delete(ctx, pod, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the Service of replica %s: %w", n, apply.APIError(c, err))
		}
		fmt.Fprintf(progress, "replica %s removed (statefulset/%s, persistentvolumeclaim/%s and service/%s deleted)\n", n, n, n, pod)
	}
	return nil
}

// replicaSteps wait, for each replica instance, until its pod is ready and
// it streams from the primary; the last status says on which node it
// runs and how it was bootstrapped.
func replicaSteps(c *apply.Clients, exec apply.ExecFunc, spec cluster.Spec, instances []string) []apply.WaitStep {
	var steps []apply.WaitStep
	for _, n := range instances {
		if spec.Standby != nil {
			steps = append(steps, apply.InstanceStep(c, spec.Namespace, n, fmt.Sprintf("replica %s to be ready", n)), apply.WaitStep{
				What:  fmt.Sprintf("replica %s to replay the archive of cluster %s", n, spec.StandbySourceName()),
				Check: func(ctx context.Context) (bool, string, error) { return replicaReplaying(ctx, c, exec, spec, n) },
				Hint:  fmt.Sprintf("kubectl -n %s logs %s -c database", spec.Namespace, cluster.InstancePodName(n)),
			})
			continue
		}
		steps = append(steps, apply.InstanceStep(c, spec.Namespace, n, fmt.Sprintf("replica %s to be ready", n)), apply.WaitStep{
			What:  fmt.Sprintf("replica %s to stream from the primary", n),
			Check: func(ctx context.Context) (bool, string, error) { return replicaStreaming(ctx, c, exec, spec, n) },
			Hint: fmt.Sprintf("kubectl -n %s logs %s -c database; kubectl pgo show cluster %s -n %s",
				spec.Namespace, cluster.InstancePodName(n), spec.Name, spec.Namespace),
		})
	}
	return steps
}

// replicaStreaming asks the primary whether the replica's WAL receiver is
// connected and streaming.
func replicaStreaming(ctx context.Context, c *apply.Clients, exec apply.ExecFunc, spec cluster.Spec, instance string) (bool, string, error) {
	ns := spec.Namespace
	query := fmt.Sprintf("SELECT state FROM pg_stat_replication WHERE application_name = '%s'", instance)
	out, stderr, err := exec(ctx, ns, spec.PrimaryPod(), cluster.ContainerDatabase, inspect.PSQLCommand("postgres", query))
	if err != nil {
		return false, fmt.Sprintf("asking the primary %s: %v %s", spec.PrimaryPod(), err, strings.TrimSpace(stderr)), nil
	}
	if state := strings.TrimSpace(out); state != "streaming" {
		return false, fmt.Sprintf("replica %s is not streaming yet (%s)", instance, cmp.Or(state, "not connected")), nil
	}
	pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, cluster.InstancePodName(instance), metav1.GetOptions{})
	if err != nil {
		return apply.WaitStatus(err)
	}
	return true, fmt.Sprintf("replica %s streams from the primary (node %s; %s)", instance, pod.Spec.NodeName,
		bootstrappedFrom(ctx, c, ns, pod.Name)), nil
}

// replicaReplaying reads, in a replica of a standby cluster, whether it
// replays the source's archive and keeps up with it.
func replicaReplaying(ctx context.Context, c *apply.Clients, exec apply.ExecFunc, spec cluster.Spec, instance string) (bool, string, error) {
	pod, err := c.Client.CoreV1().Pods(spec.Namespace).Get(ctx, cluster.InstancePodName(instance), metav1.GetOptions{})
	if err != nil {
		return apply.WaitStatus(err)
	}
	s := inspect.Standby(ctx, inspect.Exec(exec), spec, pod)
	if problem := s.Problem(); problem != "" {
		return false, fmt.Sprintf("replica %s: %s", instance, problem), nil
	}
	return true, fmt.Sprintf("replica %s replays the archive of cluster %s (node %s; %s): %s", instance, s.Source, pod.Spec.NodeName,
		bootstrappedFrom(ctx, c, spec.Namespace, pod.Name), s.Describe(time.Now())), nil
}

var bootstrapLine = regexp.MustCompile(`kubectl-pgo: replica \S+ (?:was )?(bootstrapped .*|rejoined with pg_rewind)`)

// bootstrappedFrom reads from the replica's log how it was bootstrapped,
// or how a former primary rejoined.
func bootstrappedFrom(ctx context.Context, c *apply.Clients, ns, pod string) string {
	raw, err := c.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: cluster.ContainerDatabase}).DoRaw(ctx)
	if err != nil {
		return "its log cannot be read"
	}
	if m := bootstrapLine.FindAllStringSubmatch(string(raw), -1); len(m) > 0 {
		return m[len(m)-1][1]
	}
	return "started on its existing data directory"
}
