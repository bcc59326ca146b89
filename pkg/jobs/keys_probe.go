package jobs

import (
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// ComponentKeysProbe labels the pod of KeysProbe.
const ComponentKeysProbe = "keys-probe"

// DefaultKeysProbeDeadline bounds the life of a probe pod whose command
// was interrupted before it removed the pod.
const DefaultKeysProbeDeadline = 10 * time.Minute

// KeysProbePodName is the name of the probe pod of the cluster.
func KeysProbePodName(clusterName string) string { return clusterName + "-keys-probe" }

// Lines the probe's script prints: ProbeOK once every repository was
// read and written with the new keys, ProbeFailed with what failed.
const (
	ProbeOK     = "@@probe ok"
	ProbeFailed = "@@probe failed"
)

// KeysProbe is a pod that proves an object store's new keys before a
// cluster switches to them (kubectl pgo rotate keys): a copy of the
// repository host's pod as the new settings render it (RepoHost: the same
// image, pgbackrest.conf, TLS files and object-store CA, the keys from
// the new Secret), without the repository PVC, that reads each of Repos
// (repo-get of backup.info, decrypted with the passphrase) and writes to
// it: an annotation on its newest backup (pgbackrest annotate, which
// rewrites backup.info and the backup's manifest), or, in a repository
// without a backup, repo-put, repo-get and repo-rm of a small object. A
// pgBackRest without repo-put (2.60, in PostgreSQL 18's image) cannot prove
// a write to a repository without a backup: the probe then fails and asks
// for a backup first.
type KeysProbe struct {
	Cluster, Namespace string
	// RepoHost is cluster.RepoHostDeployment of the settings with the new
	// Secret.
	RepoHost *appsv1.Deployment
	// Repos are the indexes of the repositories the keys are for.
	Repos    []int
	Deadline time.Duration
}

// Render returns the pod.
func (p KeysProbe) Render() (*corev1.Pod, error) {
	if p.Cluster == "" || p.Namespace == "" || p.RepoHost == nil || len(p.Repos) == 0 {
		return nil, fmt.Errorf("keys probe: the cluster, its namespace, its repository host and the repositories are required")
	}
	podSpec := p.RepoHost.Spec.Template.Spec
	container, volumes, err := mountsOf(podSpec, RepoHostContainer, "Deployment "+p.RepoHost.Name)
	if err != nil {
		return nil, err
	}
	var keep []corev1.Volume
	dropped := map[string]bool{}
	for _, v := range volumes {
		if v.PersistentVolumeClaim != nil {
			dropped[v.Name] = true
			continue
		}
		keep = append(keep, v)
	}
	var mounts []corev1.VolumeMount
	for _, m := range container.VolumeMounts {
		if !dropped[m.Name] {
			mounts = append(mounts, m)
		}
	}
	script := "set -u\n" + keysProbeScript
	args := []string{"bash", "-c", script, "keys-probe"}
	for _, r := range p.Repos {
		args = append(args, strconv.Itoa(r))
	}
	deadline := int64(positiveOr(p.Deadline, DefaultKeysProbeDeadline) / time.Second)
	podSC, sc := securityContexts(podSpec, container)
	no := false
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: KeysProbePodName(p.Cluster), Namespace: p.Namespace,
			Labels: cluster.Labels(p.Cluster, ComponentKeysProbe)},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:        &deadline,
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			SecurityContext:              podSC,
			Containers: []corev1.Container{{
				Name: RepoHostContainer, Image: container.Image, ImagePullPolicy: container.ImagePullPolicy,
				Command: args, Env: container.Env, Resources: container.Resources,
				SecurityContext: sc, VolumeMounts: mounts,
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			}},
			Volumes: keep,
		},
	}, nil
}

// keysProbeScript takes the repositories' indexes as arguments.
var keysProbeScript = `stanza=` + repo.StanzaName + `
for r in "$@"; do
  if ! pgbackrest --repo="$r" --log-level-console=warn repo-get "backup/$stanza/backup.info" > /tmp/backup.info; then
    echo "` + ProbeFailed + ` repo$r: cannot read backup/$stanza/backup.info with the new keys"; exit 1
  fi
  label=$(sed -n '/^\[backup:current\]/,/^\[/p' /tmp/backup.info | sed -n 's/^\([0-9]\{8\}-[0-9]\{6\}F[^=]*\)=.*/\1/p' | tail -n 1)
  if [ -n "$label" ]; then
    if ! pgbackrest --stanza="$stanza" --repo="$r" --log-level-console=warn --set="$label" \
        --annotation="kubectl-pgo-keys-checked=$(date -u +%Y-%m-%dT%H:%M:%SZ)" annotate; then
      echo "` + ProbeFailed + ` repo$r: cannot write (annotate backup $label) with the new keys"; exit 1
    fi
    echo "repo$r: read backup.info, wrote an annotation on backup $label"
    continue
  fi
  name="kubectl-pgo-keys-probe-$(hostname)"
  if ! put=$(echo probe | pgbackrest --repo="$r" --log-level-console=warn repo-put "$name" 2>&1); then
    case "$put" in *"invalid command"*)
      echo "` + ProbeFailed + ` repo$r has no backup to annotate, and this pgBackRest has no other command that writes (no repo-put): take a backup into repo$r first, then rotate again"; exit 1 ;;
    esac
    echo "` + ProbeFailed + ` repo$r: cannot write an object with the new keys (repo$r has no backup to annotate): $put"; exit 1
  fi
  if [ "$(pgbackrest --repo="$r" --log-level-console=warn repo-get "$name")" != probe ] ||
     ! pgbackrest --repo="$r" --log-level-console=warn repo-rm "$name"; then
    echo "` + ProbeFailed + ` repo$r: cannot write, read and remove an object with the new keys (repo$r has no backup to annotate)"; exit 1
  fi
  echo "repo$r: read backup.info, wrote, read and removed $name"
done
echo "` + ProbeOK + `"
`
