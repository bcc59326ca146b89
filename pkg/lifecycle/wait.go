package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// waitReady waits, step by step, until the created cluster is ready,
// printing a line when a step's status changes, as kubectl rollout status
// does.
func waitReady(ctx context.Context, c *apply.Clients, o CreateOptions, spec cluster.Spec, w io.Writer) error {
	start := time.Now()
	deadline := start.Add(o.Timeout)
	ns, name := spec.Namespace, spec.Name
	steps := []apply.WaitStep{
		{
			What:  "the PersistentVolumeClaims to be bound",
			Check: func(ctx context.Context) (bool, string, error) { return pvcsBound(ctx, c, ns, clusterPVCs(spec)) },
			Hint:  fmt.Sprintf("kubectl -n %s describe pvc %s", ns, strings.Join(clusterPVCs(spec), " ")),
		},
		imageMajorStep(c, o.Exec, spec, spec.PrimaryPod()),
		apply.InstanceStep(c, ns, spec.PrimaryInstance(), "the database pod to be ready"),
		apply.RepoHostStep(c, ns, name, "the repository host to be ready"),
		{
			What:  "the stanza to be created",
			Check: func(ctx context.Context) (bool, string, error) { return stanzaCreated(ctx, c, o.Exec, spec) },
			Hint:  stanzaHint(spec),
		},
	}
	if !spec.HasLocalRepo() {
		// No repository host: the database pod creates the stanza.
		steps = slices.Delete(steps, 3, 4)
	}
	steps = append(steps, replicaSteps(c, o.Exec, spec, spec.ReplicaInstances())...)
	if err := apply.RunWaitSteps(ctx, w, o.Poll, deadline, steps, fmt.Sprintf("The cluster %q was created", name)); err != nil {
		return err
	}
	fmt.Fprintf(w, "cluster %s is ready (%s)\n", name, time.Since(start).Round(time.Second))
	return nil
}

// imageMajorStep waits until pod runs the cluster's image, and ends the
// wait if the image has no PostgreSQL of the cluster's major: the
// database would never become ready (its probes name that major's
// binaries), or run another major's binaries on the data. The image is
// read in the pgbackrest container, which runs whatever the database does.
func imageMajorStep(c *apply.Clients, exec apply.ExecFunc, spec cluster.Spec, pod string) apply.WaitStep {
	ns, want := spec.Namespace, spec.PostgresVersion
	return apply.WaitStep{
		What: fmt.Sprintf("the image to be checked for PostgreSQL %d", want),
		Check: func(ctx context.Context) (bool, string, error) {
			p, err := c.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
			if err != nil {
				return apply.WaitStatus(err)
			}
			if !runsImage(p, cluster.ContainerPGBackRest, spec.Image) {
				return false, fmt.Sprintf("pod %s does not run %s yet", pod, spec.Image), nil
			}
			out, stderr, err := exec(ctx, ns, pod, cluster.ContainerPGBackRest, []string{"ls", "/usr/lib/postgresql"})
			if err != nil {
				return false, fmt.Sprintf("reading the image's PostgreSQL: %v %s", err, strings.TrimSpace(stderr)), nil
			}
			majors := strings.Fields(out)
			if !slices.Contains(majors, fmt.Sprint(want)) {
				return false, "", fmt.Errorf("image %s has PostgreSQL %s (in /usr/lib/postgresql), not %d, the cluster's version: "+
					"its database cannot start. Delete the cluster (kubectl pgo delete cluster %s -n %s), and create it again with an image of PostgreSQL %d, e.g. --image=%s",
					spec.Image, cmp.Or(strings.Join(majors, ", "), "none"), want, spec.Name, ns, want, cluster.ImageFor(want))
			}
			return true, fmt.Sprintf("image %s has PostgreSQL %d", spec.Image, want), nil
		},
		Hint: fmt.Sprintf("kubectl -n %s describe pod %s", ns, pod),
	}
}

// runsImage tells whether container of pod is running, from image: a pod
// of the template before the change has another image.
func runsImage(pod *corev1.Pod, container, image string) bool {
	specified := false
	for _, c := range pod.Spec.Containers {
		specified = specified || (c.Name == container && c.Image == image)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == container && cs.State.Running != nil {
			return specified
		}
	}
	return false
}

// stanzaCreated is the last step of waitReady: the stanza exists, and is
// this database's, since a repository kept from an earlier one has a
// stanza too. It reads them by exec (pkg/inspect); an S3 repository that
// refused pgBackRest for good ends the wait.
func stanzaCreated(ctx context.Context, c *apply.Clients, exec apply.ExecFunc, spec cluster.Spec) (bool, string, error) {
	ns, name := spec.Namespace, spec.Name
	info := inspect.Stanza(ctx, c.Client, exec, ns, name)
	if err := ObjectStoreRefused(spec, info.Error+" "+info.Message); err != nil {
		return false, "", err
	}
	if info.Error != "" {
		return false, info.Error, nil
	}
	if !info.Usable() {
		return false, fmt.Sprintf("stanza %s: %s", info.Name, info.Message), nil
	}
	pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, spec.PrimaryPod(), metav1.GetOptions{})
	if err != nil {
		return apply.WaitStatus(err)
	}
	a, err := inspect.QueryArchiver(ctx, exec, pod)
	if err != nil {
		return false, "", err
	}
	if a.Error != "" {
		return false, "reading the database's system identifier: " + a.Error, nil
	}
	if err := inspect.CheckSystemID(info, a.SystemID); err != nil {
		return false, "", err
	}
	return true, fmt.Sprintf("stanza %s created (%s)", info.Name, info.Message), nil
}

// clusterPVCs are the PVCs a cluster's pods mount.
func clusterPVCs(spec cluster.Spec) []string {
	pvcs := spec.InstanceNames()
	if spec.HasLocalRepo() {
		pvcs = append(pvcs, cluster.RepoPVCName(spec.Name))
	}
	return pvcs
}

// stanzaHint says where the stanza-create log is.
func stanzaHint(spec cluster.Spec) string {
	if !spec.HasLocalRepo() {
		return fmt.Sprintf("kubectl -n %s logs %s -c %s", spec.Namespace, cluster.PodName(spec.Name), cluster.ContainerPGBackRest)
	}
	return fmt.Sprintf("kubectl -n %s logs deployment/%s", spec.Namespace, cluster.RepoHostName(spec.Name))
}

func pvcsBound(ctx context.Context, c *apply.Clients, ns string, pvcs []string) (bool, string, error) {
	var states, done []string
	all := true
	for _, pvc := range pvcs {
		p, err := c.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc, metav1.GetOptions{})
		if err != nil {
			if e := apply.WaitAPIError(err); e != nil {
				return false, "", e
			}
			all = false
			states = append(states, fmt.Sprintf("%s: %v", pvc, err))
			continue
		}
		if p.Status.Phase != corev1.ClaimBound {
			all = false
		}
		phase := string(p.Status.Phase)
		if phase == "" {
			phase = "unknown"
		}
		states = append(states, fmt.Sprintf("%s %s", pvc, phase))
		done = append(done, "persistentvolumeclaim/"+pvc)
	}
	if all {
		return true, strings.Join(done, " and ") + " bound", nil
	}
	return false, strings.Join(states, ", "), nil
}

// restart is a workload whose pod template changed, so its pod restarts.
type restart struct {
	what string
	// say is the line update prints; empty for "the <what> restarts to
	// read the new configuration".
	say   string
	steps func(c *apply.Clients, exec apply.ExecFunc, ns, name string) []apply.WaitStep
}

// restartedWorkloads are the workloads among objects, database first:
// the primary's pod, then each replica's (a new replica starts; one whose
// template changed restarts), then the repository host.
func restartedWorkloads(spec cluster.Spec, objects []*unstructured.Unstructured) []restart {
	var out []restart
	for _, obj := range objects {
		switch name := obj.GetName(); {
		case obj.GetKind() == "StatefulSet" && name == spec.PrimaryInstance():
			out = append(out, restart{what: "database pod", steps: func(c *apply.Clients, exec apply.ExecFunc, ns, _ string) []apply.WaitStep {
				return []apply.WaitStep{imageMajorStep(c, exec, spec, cluster.InstancePodName(name)), apply.InstanceStep(c, ns, name, "the database pod to restart")}
			}})
		case obj.GetKind() == "StatefulSet":
			out = append(out, restart{what: "database pod of replica " + name, say: "replica " + name + " starts (a new one), or restarts to read the new configuration", steps: func(c *apply.Clients, exec apply.ExecFunc, _, _ string) []apply.WaitStep {
				return replicaSteps(c, exec, spec, []string{name})
			}})
		case obj.GetKind() == "Deployment":
			out = append(out, restart{what: "repository host", steps: repoHostRestartSteps})
		}
	}
	slices.SortStableFunc(out, func(a, b restart) int { return strings.Compare(a.what, b.what) })
	return out
}

func repoHostRestartSteps(c *apply.Clients, exec apply.ExecFunc, ns, name string) []apply.WaitStep {
	return []apply.WaitStep{
		apply.RepoHostStep(c, ns, name, "the repository host to restart"),
		{
			What:  "the repository host to read the new pgbackrest.conf",
			Check: func(ctx context.Context) (bool, string, error) { return repoHostConfigCurrent(ctx, c, exec, ns, name) },
			Hint:  apply.RepoHostHint(ns, name),
		},
	}
}

// repoHostConfigCurrent compares the pgbackrest.conf that the repository
// host's pod sees with the one in the ConfigMap. A new pod normally gets
// the current file, but the kubelet's copy of a ConfigMap may lag; once
// the pod has it, so does every later pod on that node (the backup Jobs
// run beside the repository host).
func repoHostConfigCurrent(ctx context.Context, c *apply.Clients, exec apply.ExecFunc, ns, name string) (bool, string, error) {
	cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.PGBackRestConfigMapName(name), metav1.GetOptions{})
	if err != nil {
		return apply.WaitStatus(err)
	}
	want := cm.Data[cluster.FileRepoConf]
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.RepoSelector(name).String()})
	if err != nil {
		return apply.WaitStatus(err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || !kube.IsPodReady(p) {
			continue
		}
		got, stderr, err := exec(ctx, ns, p.Name, cluster.ContainerPGBackRest, []string{"cat", cluster.PGBackRestConfigFile})
		switch {
		case err != nil:
			return false, fmt.Sprintf("reading %s in pod %s: %v %s", cluster.PGBackRestConfigFile, p.Name, err, strings.TrimSpace(stderr)), nil
		case got != want:
			return false, fmt.Sprintf("pod %s still sees the old %s", p.Name, cluster.PGBackRestConfigFile), nil
		}
		return true, fmt.Sprintf("repository host pod %s reads the new %s", p.Name, cluster.PGBackRestConfigFile), nil
	}
	return false, "no ready repository host pod", nil
}

// psqlIn runs query in the database container of pod and returns its
// output, trimmed.
func psqlIn(ctx context.Context, exec apply.ExecFunc, ns, pod, query string) (string, error) {
	out, stderr, err := exec(ctx, ns, pod, cluster.ContainerDatabase, inspect.PSQLCommand("postgres", query))
	if err != nil {
		return "", fmt.Errorf("%w %s", err, strings.TrimSpace(stderr))
	}
	return strings.TrimSpace(out), nil
}

// archivedWALStep waits until the primary pod archived a segment of
// timeline, which it switches to first: *seg is that segment.
func archivedWALStep(exec apply.ExecFunc, ns, pod string, timeline int, seg *string, hint string) apply.WaitStep {
	return apply.WaitStep{
		What: fmt.Sprintf("%s to archive WAL on timeline %d", pod, timeline),
		Check: func(ctx context.Context) (bool, string, error) {
			if *seg == "" {
				s, err := psqlIn(ctx, exec, ns, pod, repo.SwitchWALQuery)
				if err != nil || s == "" {
					return false, fmt.Sprintf("switching WAL on %s: %v", pod, err), nil
				}
				*seg = s
			}
			done, err := psqlIn(ctx, exec, ns, pod, repo.ArchivedQuery(*seg))
			if err != nil || done != "t" {
				return false, fmt.Sprintf("segment %s is not archived yet", *seg), nil
			}
			return true, fmt.Sprintf("segment %s archived", *seg), nil
		},
		Hint: hint,
	}
}

// stanzaCheckedStep waits until the primary pod of a cluster without a
// repository host has checked its stanza (inspect.StanzaChecked): a
// backup started before then fails on pgBackRest's lock.
func stanzaCheckedStep(exec apply.ExecFunc, ns, pod string) apply.WaitStep {
	return apply.WaitStep{
		What: "the stanza to be checked in " + pod,
		Check: func(ctx context.Context) (bool, string, error) {
			if !inspect.StanzaChecked(ctx, inspect.Exec(exec), ns, pod) {
				return false, "stanza-create has not ended yet", nil
			}
			return true, "stanza checked: backups may start", nil
		},
		Hint: fmt.Sprintf("kubectl -n %s logs %s -c %s", ns, pod, cluster.ContainerPGBackRest),
	}
}

// promoteTimeout bounds the end of recovery after pg_promote().
const promoteTimeout = time.Minute

// promoteDatabase promotes the standby in pod, and waits until it accepts
// writes. pg_promote() does not wait: a statement that waits on a hot
// standby can be cancelled by a conflict with the replay, after the
// promotion was asked for; whether the database left recovery is read
// instead.
func promoteDatabase(ctx context.Context, exec apply.ExecFunc, ns, pod string) error {
	out, err := psqlIn(ctx, exec, ns, pod, "SELECT pg_promote(false)")
	if err != nil || out != "t" {
		return fmt.Errorf("promoting %s failed (%q, %v)", pod, out, err)
	}
	var last string
	err = kube.WaitFor(ctx, time.Second, promoteTimeout, func(ctx context.Context) (bool, error) {
		out, err := psqlIn(ctx, exec, ns, pod, "SELECT pg_is_in_recovery()")
		last = out
		if err != nil {
			last = err.Error()
		}
		return err == nil && out == "f", nil
	})
	if err != nil {
		return fmt.Errorf("%s was asked to promote, but is still in recovery after %s (%s)", pod, promoteTimeout, last)
	}
	return nil
}
