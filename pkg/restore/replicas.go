package restore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// A restore with replicas stops them first, with the primary: they stream
// from it and would follow it to the new timeline only up to where their
// own WAL parts from it. Once the primary is promoted, each replica gets
// an empty data PVC and is restored again from the backup the primary was
// restored from (on the new timeline's history), then streams.

// scaleInstance sets the replicas of an instance's StatefulSet.
func (r *InPlace) scaleInstance(ctx context.Context, instance string, replicas int) error {
	if err := kube.ScaleStatefulSet(ctx, r.Client, r.Namespace, instance, replicas, cluster.FieldManager); err != nil {
		return fmt.Errorf("scaling StatefulSet %s to %d: %w", instance, replicas, err)
	}
	return nil
}

// stopReplicas scales every replica's StatefulSet to 0; stopDatabase waits
// for their pods with the primary's.
func (r *InPlace) stopReplicas(ctx context.Context, plan *Plan) error {
	for _, n := range plan.Spec.ReplicaInstances() {
		r.progress("Stopping replica %s: scaling StatefulSet %s to 0 replicas...", n, n)
		if err := r.scaleInstance(ctx, n, 0); err != nil {
			return err
		}
	}
	return nil
}

// rebuildReplicas gives each replica an empty data PVC and starts it
// again, restored from backup set (empty: copied from the primary with
// pg_basebackup), once the new timeline's start is in the repository. It
// records set as the replicas' bootstrap first, so that a replica made
// later starts from it too, and waits until each has replayed past that
// start.
func (r *InPlace) rebuildReplicas(ctx context.Context, plan *Plan, set string, timeline int) error {
	replicas := plan.Spec.ReplicaInstances()
	if len(replicas) == 0 {
		return nil
	}
	if err := r.recordReplicaBootstrap(ctx, plan.Spec, set); err != nil {
		return err
	}
	from := "backup " + set
	if set == "" {
		from = "a pg_basebackup of the primary"
	}
	// A standby follows the newest timeline it finds in the archive when it
	// starts: before the new timeline's history file is there, it would
	// replay the old timeline past the fork, and never follow the primary.
	if err := r.waitHistoryArchived(ctx, plan, timeline); err != nil {
		return err
	}
	// Nor must it find the old timeline's segment that holds the fork
	// point (archived whole before the restore) without the new one's:
	// it would replay the old records past the fork. The primary ends
	// its first segment, and the replicas start once that is archived.
	caughtUp, err := r.archiveNewTimelineStart(ctx, plan)
	if err != nil {
		return err
	}
	for _, n := range replicas {
		r.progress("Rebuilding replica %s from %s: its data PVC %s is replaced by an empty one...", n, from, n)
		if err := r.replacePVC(ctx, n); err != nil {
			return fmt.Errorf("rebuilding replica %s: %w. The primary is restored; run kubectl pgo update cluster %s -n %s --replicas=0, then --replicas=%d, to make the replicas again",
				n, err, r.Name, r.Namespace, plan.Spec.Replicas)
		}
		if err := r.scaleInstance(ctx, n, 1); err != nil {
			return err
		}
	}
	return r.waitReplicasStreaming(ctx, plan, replicas, caughtUp)
}

// archiveNewTimelineStart switches the primary to a new WAL segment and
// waits until the one it ended is archived. It returns the LSN the
// primary wrote up to: a replica that replayed it follows the new
// timeline.
func (r *InPlace) archiveNewTimelineStart(ctx context.Context, plan *Plan) (string, error) {
	pod := plan.Spec.PrimaryPod()
	execCtx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	out, stderr, err := r.Exec(execCtx, r.Namespace, pod, databaseContainer,
		[]string{"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", repo.SwitchWALQuery, "-c", "SELECT pg_current_wal_lsn()"})
	fields := strings.Fields(out)
	if err != nil || len(fields) != 2 || !walFileName.MatchString(fields[0]) {
		return "", fmt.Errorf("cannot switch the restored primary to a new WAL segment (%v %s %s); the replicas stay stopped: "+
			"make them again with kubectl pgo update cluster %s -n %s --replicas=0, then --replicas=%d",
			err, strings.TrimSpace(out), strings.TrimSpace(stderr), r.Name, r.Namespace, plan.Spec.Replicas)
	}
	seg, lsn := fields[0], fields[1]
	if _, err := repo.ParseLSN(lsn); err != nil {
		return "", fmt.Errorf("the restored primary's WAL position: %w", err)
	}
	if err := r.waitArchived(ctx, pod, seg); err != nil {
		return "", fmt.Errorf("the new timeline's %v; the replicas stay stopped, since without it they would not follow the primary: "+
			"see kubectl pgo show archive %s -n %s, then make them again with kubectl pgo update cluster %s -n %s --replicas=0, then --replicas=%d",
			err, r.Name, r.Namespace, r.Name, r.Namespace, plan.Spec.Replicas)
	}
	return lsn, nil
}

// waitHistoryArchived waits until the history file of the primary's new
// timeline is in the repository, for at most stopTimeout.
func (r *InPlace) waitHistoryArchived(ctx context.Context, plan *Plan, timeline int) error {
	if timeline <= 1 {
		return nil
	}
	history := repo.HistoryFileName(uint32(timeline))
	pod := plan.Spec.PrimaryPod()
	var last string
	check := func(ctx context.Context) (bool, error) {
		execCtx, cancel := context.WithTimeout(ctx, execTimeout)
		defer cancel()
		_, stderr, err := r.Exec(execCtx, r.Namespace, pod, databaseContainer, []string{"pgbackrest", "--stanza=" + repo.StanzaName,
			"--log-level-console=error", "archive-get", history, "/tmp/kubectl-pgo-history-check"})
		last = strings.TrimSpace(stderr)
		return err == nil, nil
	}
	if err := kube.WaitFor(ctx, r.PollInterval, stopTimeout, check); err != nil {
		return fmt.Errorf("the history file %s of timeline %d is not in the repository after %s (%s), and the replicas would not follow the primary to it without it. "+
			"The primary is restored; once kubectl pgo show archive %s -n %s shows archiving working, make the replicas again with kubectl pgo update cluster %s -n %s --replicas=0, then --replicas=%d",
			history, timeline, stopTimeout, last, r.Name, r.Namespace, r.Name, r.Namespace, plan.Spec.Replicas)
	}
	return nil
}

// waitReplicasStreaming waits until the primary sees each replica
// streaming, for the rest of the restore's time.
func (r *InPlace) waitReplicasStreaming(ctx context.Context, plan *Plan, replicas []string, lsn string) error {
	pod := plan.Spec.PrimaryPod()
	r.progress("Waiting for the replicas to stream from the primary and replay its new timeline (to %s)...", lsn)
	var status string
	check := func(ctx context.Context) (bool, error) {
		execCtx, cancel := context.WithTimeout(ctx, execTimeout)
		defer cancel()
		out, _, err := r.Exec(execCtx, r.Namespace, pod, databaseContainer, []string{"psql", "-XAtq", "-c",
			fmt.Sprintf("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' AND replay_lsn >= '%s'", lsn)})
		if err != nil {
			status = err.Error()
			return false, nil
		}
		streaming := strings.Fields(out)
		var missing []string
		for _, n := range replicas {
			if !slices.Contains(streaming, n) {
				missing = append(missing, n)
			}
		}
		status = "not streaming yet: " + strings.Join(missing, ", ")
		return len(missing) == 0, nil
	}
	if err := kube.WaitFor(ctx, r.PollInterval, r.Timeout, check); err != nil {
		return fmt.Errorf("the primary is restored, but the replicas do not stream from it within --timeout=%s (%s): see kubectl pgo show cluster %s -n %s and kubectl logs %s -c %s -n %s",
			r.Timeout, status, r.Name, r.Namespace, cluster.InstancePodName(replicas[0]), databaseContainer, r.Namespace)
	}
	r.progress("Every replica streams from the primary: %s.", strings.Join(replicas, ", "))
	return nil
}

// recordReplicaBootstrap stores set as Spec.ReplicaBootstrap, in the
// settings and in the file the pods read.
func (r *InPlace) recordReplicaBootstrap(ctx context.Context, spec cluster.Spec, set string) error {
	spec.ReplicaBootstrap = set
	data, err := yaml.Marshal(spec)
	if err != nil {
		return err
	}
	for cm, values := range map[string]map[string]string{
		cluster.SettingsConfigMapName(r.Name):   {cluster.SettingsKey: string(data)},
		cluster.PGBackRestConfigMapName(r.Name): {cluster.FileReplicaBootstrap: set},
	} {
		patch, err := json.Marshal(map[string]any{"data": values})
		if err != nil {
			return err
		}
		if _, err := r.Client.CoreV1().ConfigMaps(r.Namespace).Patch(ctx, cm, types.MergePatchType, patch,
			metav1.PatchOptions{FieldManager: cluster.FieldManager}); err != nil {
			return fmt.Errorf("recording the replicas' bootstrap in ConfigMap %s: %w", cm, err)
		}
	}
	return nil
}

// replacePVC deletes a PVC, waits until it is gone, and creates it again
// empty, with the same labels, class and size: its volume (and the node it
// was bound to) goes with it.
func (r *InPlace) replacePVC(ctx context.Context, name string) error {
	pvcs := r.Client.CoreV1().PersistentVolumeClaims(r.Namespace)
	old, err := pvcs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if err := kube.DeletePVC(ctx, r.Client, r.Namespace, name, r.PollInterval, stopTimeout); err != nil {
		return err
	}
	fresh := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: old.Labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      old.Spec.AccessModes,
			StorageClassName: old.Spec.StorageClassName,
			Resources:        old.Spec.Resources,
			VolumeMode:       old.Spec.VolumeMode,
		},
	}
	_, err = pvcs.Create(ctx, fresh, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	return err
}
