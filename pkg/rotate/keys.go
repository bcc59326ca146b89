package rotate

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/lifecycle"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// KeysPlan is a switch of an object store's credentials Secret, planned
// before anything changes.
type KeysPlan struct {
	// Stored are the settings before; Next the same with the new Secret.
	Stored, Next cluster.Spec
	// Store is the object store (s3, gcs or azure); Old and New its
	// credentials Secrets.
	Store    repo.Type
	Old, New string
	// Repos are the repositories in that store.
	Repos []int
	// Probe is the pod that proves the new keys first.
	Probe *corev1.Pod
	// Hold is what the rotation suspends and waits for first.
	Hold Hold
}

// KeysResult is what kubectl pgo rotate keys -o yaml prints.
type KeysResult struct {
	Cluster   string   `json:"cluster"`
	Namespace string   `json:"namespace"`
	Store     string   `json:"store"`
	OldSecret string   `json:"oldSecret"`
	NewSecret string   `json:"newSecret"`
	Probe     []string `json:"probe"`
	// ArchivedWAL is the segment pgbackrest check archived with the new
	// keys at the end.
	ArchivedWAL string `json:"archivedWAL,omitempty"`
}

// PlanKeys checks the new Secret (it exists, has the keys the store
// reads, and is none of the cluster's own) and renders the probe.
func PlanKeys(ctx context.Context, c *apply.Clients, req Request, store repo.Type, secret string, checkRunning bool) (*KeysPlan, error) {
	spec := req.Spec
	name, ns := spec.Name, spec.Namespace
	plan := &KeysPlan{Stored: spec, Store: store, New: secret}
	next := spec
	switch {
	case store == repo.S3 && spec.S3 != nil:
		s := *spec.S3
		plan.Old, s.CredentialsSecret = s.CredentialsSecret, secret
		next.S3 = &s
	case store == repo.GCS && spec.GCS != nil:
		if spec.GCS.KeyType == repo.GCSKeyAuto {
			return nil, fmt.Errorf("the GCS repository of cluster %q takes the workload's identity (key type auto) and reads no Secret: there are no keys to rotate", name)
		}
		g := *spec.GCS
		plan.Old, g.CredentialsSecret = g.CredentialsSecret, secret
		next.GCS = &g
	case store == repo.Azure && spec.Azure != nil:
		a := *spec.Azure
		plan.Old, a.CredentialsSecret = a.CredentialsSecret, secret
		next.Azure = &a
	default:
		return nil, fmt.Errorf("cluster %q has no %s repository (its storage types are %s): there are no %s keys to rotate; nothing was changed",
			name, store, storageTypes(spec), store)
	}
	for _, r := range spec.Repositories() {
		if r.Type == store {
			plan.Repos = append(plan.Repos, r.Index)
		}
	}
	switch secret {
	case plan.Old:
		return nil, fmt.Errorf("cluster %q already takes its %s keys from Secret %s: give the Secret with the new keys; nothing was changed", name, store, secret)
	case cluster.RepoConfigSecretName(name), cluster.PostgresSecretName(name):
		return nil, fmt.Errorf("secret %s is kubectl-pgo's own Secret of cluster %q: put the new keys in a Secret of your own; nothing was changed", secret, name)
	}
	var err error
	if store == repo.S3 {
		err = lifecycle.CheckS3Secrets(ctx, c, next, cluster.Material{})
	} else {
		err = lifecycle.CheckObjectStoreSecrets(ctx, c, next)
	}
	if err != nil {
		return nil, err
	}
	extra := append(lifecycle.Permissions(true, true),
		apply.Permission{Verb: "create", Resource: "pods"}, apply.Permission{Verb: "delete", Resource: "pods"},
		apply.Permission{Verb: "get", Resource: "pods", Subresource: "log"})
	if plan.Hold, err = Check(ctx, c, req, string(store)+" keys", checkRunning, extra...); err != nil {
		return nil, err
	}
	deploy, err := cluster.RepoHostDeployment(next)
	if err != nil {
		return nil, fmt.Errorf("the settings with Secret %s are not valid: %w; nothing was changed", secret, err)
	}
	plan.Probe, err = jobs.KeysProbe{Cluster: name, Namespace: ns, RepoHost: deploy, Repos: plan.Repos}.Render()
	if err != nil {
		return nil, err
	}
	plan.Next = next
	return plan, nil
}

// Steps says what Keys does, in order.
func (p *KeysPlan) Steps() []string {
	return append(p.Hold.steps(),
		fmt.Sprintf("run pod %s with the keys of Secret %s: read %s and write to it (an annotation on the newest backup); refuse the keys, changing nothing, if it cannot",
			p.Probe.Name, p.New, repoList(p.Repos)),
		fmt.Sprintf("store the settings with %s keys from Secret %s (instead of %s) and apply the pods that read them: the database and the repository host restart, since pgBackRest reads the keys from its environment",
			p.Store, p.New, p.Old),
		"run pgbackrest check: a WAL segment archived with the new keys",
		fmt.Sprintf("Secret %s is then no longer read: revoke its keys once no backup or restore started before the switch runs", p.Old),
	)
}

// Keys proves the new keys with the probe pod, then switches the cluster
// to them (lifecycle.ChangeCredentials) and runs pgbackrest check. Keys
// that cannot read and write the repositories are refused before the
// cluster changes.
func Keys(ctx context.Context, c *apply.Clients, req Request, plan *KeysPlan) (*KeysResult, error) {
	return withHold(ctx, c, req, plan.Hold, string(plan.Store)+" keys", func() (*KeysResult, error) { return rotateKeys(ctx, c, req, plan) })
}

func rotateKeys(ctx context.Context, c *apply.Clients, req Request, plan *KeysPlan) (*KeysResult, error) {
	spec, ns, w := plan.Next, plan.Next.Namespace, req.Progress
	start := time.Now()
	result := &KeysResult{Cluster: spec.Name, Namespace: ns, Store: string(plan.Store), OldSecret: plan.Old, NewSecret: plan.New}
	probe, err := runProbe(ctx, c, req, plan.Probe, w)
	result.Probe = probe
	if err != nil {
		return result, err
	}
	fmt.Fprintf(w, "the new keys of Secret %s read and wrote %s; switching cluster %s to them\n", plan.New, repoList(plan.Repos), spec.Name)
	err = lifecycle.ChangeCredentials(ctx, c, lifecycle.ChangeCredentialsOptions{Stored: plan.Stored, Next: plan.Next,
		Exec: req.Exec, Poll: req.poll(), Timeout: req.Timeout, Progress: w})
	if err != nil {
		return result, err
	}
	archived, err := pgbackrestCheck(ctx, req.Exec, spec, time.Now().Add(req.Timeout))
	if err != nil {
		return result, err
	}
	result.ArchivedWAL = archived
	fmt.Fprintf(w, "pgbackrest check: WAL segment %s archived with the new keys\n", archived)
	fmt.Fprintf(w, "%s keys of cluster %s rotated (%s): Secret %s is no longer read\n", plan.Store, spec.Name, time.Since(start).Round(time.Second), plan.Old)
	return result, nil
}

// repoList names the repositories, e.g. "repo2" or "repo2, repo3".
func repoList(repos []int) string {
	names := make([]string, len(repos))
	for i, r := range repos {
		names[i] = fmt.Sprintf("repo%d", r)
	}
	return strings.Join(names, ", ")
}

// runProbe creates the probe pod (a leftover of an interrupted run is
// deleted first), waits until it ends, and returns its log's lines; an
// error unless it printed jobs.ProbeOK. The pod is deleted at the end.
func runProbe(ctx context.Context, c *apply.Clients, req Request, pod *corev1.Pod, w io.Writer) ([]string, error) {
	pods := c.Client.CoreV1().Pods(pod.Namespace)
	if err := deletePod(ctx, c, pod.Namespace, pod.Name, req); err != nil {
		return nil, err
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return nil, fmt.Errorf("cannot create the probe pod %s: %w; nothing was changed", pod.Name, apply.APIError(c, err))
	}
	defer func() { _ = deletePod(context.WithoutCancel(ctx), c, pod.Namespace, pod.Name, req) }()
	fmt.Fprintf(w, "probe pod %s started\n", pod.Name)
	var phase corev1.PodPhase
	err := kube.WaitFor(ctx, req.poll(), req.Timeout, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, apply.WaitAPIError(err)
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the probe pod %s did not end (%s): %w; nothing was changed", pod.Name, orUnknown(string(phase)), err)
	}
	raw, err := pods.GetLogs(pod.Name, &corev1.PodLogOptions{Container: jobs.RepoHostContainer}).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read the log of the probe pod %s: %w; nothing was changed", pod.Name, err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for _, l := range lines {
		fmt.Fprintf(w, "  probe: %s\n", l)
	}
	if phase != corev1.PodSucceeded || !strings.Contains(string(raw), jobs.ProbeOK) {
		failure := lines[len(lines)-1]
		for _, l := range lines {
			if strings.HasPrefix(l, jobs.ProbeFailed) {
				failure = strings.TrimSpace(strings.TrimPrefix(l, jobs.ProbeFailed))
			}
		}
		return lines, fmt.Errorf("the new keys were refused: %s; nothing was changed (the cluster still uses its old keys)", failure)
	}
	return lines, nil
}

// deletePod deletes a pod and waits until it is gone.
func deletePod(ctx context.Context, c *apply.Clients, ns, name string, req Request) error {
	pods := c.Client.CoreV1().Pods(ns)
	err := pods.Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot delete pod %s: %w", name, apply.APIError(c, err))
	}
	return kube.WaitFor(ctx, req.poll(), req.Timeout, func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func storageTypes(spec cluster.Spec) string {
	var out []string
	for _, t := range spec.StorageType {
		out = append(out, string(t))
	}
	return strings.Join(out, ",")
}

func orUnknown(s string) string {
	if s == "" {
		return "phase unknown"
	}
	return s
}
