package lifecycle

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

func TestRepoHostConfigCurrent(t *testing.T) {
	conf := "[global]\nrepo1-retention-full=1\n"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cluster.PGBackRestConfigMapName("hippo"), Namespace: "default"},
		Data: map[string]string{cluster.FileRepoConf: conf}}
	pod := func(name string, ready, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: cluster.RepoSelector("hippo")}}
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
		if deleting {
			p.DeletionTimestamp = &metav1.Time{}
			p.Finalizers = []string{"test"}
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		pods   []*corev1.Pod
		seen   string // what cat prints
		done   bool
		status string
	}{
		{"new file", []*corev1.Pod{pod("new", true, false)}, conf, true, "repository host pod new reads the new /etc/pgbackrest/pgbackrest.conf"},
		{"old file", []*corev1.Pod{pod("new", true, false)}, "[global]\nrepo1-retention-full=2\n", false, "pod new still sees the old"},
		{"not ready yet", []*corev1.Pod{pod("new", false, false)}, conf, false, "no ready repository host pod"},
		{"only the old pod, terminating", []*corev1.Pod{pod("old", true, true)}, conf, false, "no ready repository host pod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory(cm)
			for _, p := range tc.pods {
				if err := f.Clientset.Tracker().Add(p); err != nil {
					t.Fatal(err)
				}
			}
			c := clients(f)
			exec := func(_ context.Context, ns, pod, container string, command []string) (string, string, error) {
				if container != cluster.ContainerPGBackRest || strings.Join(command, " ") != "cat /etc/pgbackrest/pgbackrest.conf" {
					t.Errorf("exec %s %v in %s", container, command, pod)
				}
				return tc.seen, "", nil
			}
			done, status, err := repoHostConfigCurrent(context.Background(), c, exec, "default", "hippo")
			if err != nil || done != tc.done || !strings.Contains(status, tc.status) {
				t.Errorf("got %v %q %v, want %v %q", done, status, err, tc.done, tc.status)
			}
		})
	}
}

// The last step of create --wait: the stanza exists and belongs to the
// database that runs.
func TestStanzaCreated(t *testing.T) {
	info, err := os.ReadFile("../repo/testdata/info-no-backups.json")
	if err != nil {
		t.Fatal(err)
	}
	pod := func(name string, labels map[string]string, container string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: container}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: container, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	}
	repoLabels := cluster.RepoSelector("hippo")
	repoLabels[cluster.LabelPGBackRestCommands] = "true"
	spec := cluster.Spec{Name: "hippo", Namespace: "default"}
	spec.Default()
	for _, tc := range []struct {
		name     string
		info     string
		systemID string
		done     bool
		status   string
		err      string
	}{
		{name: "created", info: string(info), systemID: "7712371840594409285", done: true, status: "stanza db created (no valid backups)"},
		{name: "not yet", info: "[]", systemID: "7712371840594409285", status: "stanza db: pgbackrest info does not list the stanza"},
		{name: "another database's", info: string(info), systemID: "7712375608805392399", err: "the stanza belongs to another database: system identifier 7712371840594409285 in the repository, 7712375608805392399 in the running database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newClusterFactory(
				pod("hippo-backrest-shared-repo-abc", repoLabels, cluster.ContainerPGBackRest),
				pod(cluster.PodName("hippo"), cluster.Labels("hippo", cluster.ComponentDatabase), cluster.ContainerDatabase))
			exec := func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
				switch {
				case container == cluster.ContainerPGBackRest && slices.Contains(command, "info"):
					return tc.info, "", nil
				case container == cluster.ContainerDatabase && command[0] == "psql":
					return `{"archived_count" : 1, "failed_count" : 0, "system_identifier" : "` + tc.systemID + `"}`, "", nil
				}
				t.Errorf("exec %s %v in %s", container, command, pod)
				return "", "", nil
			}
			done, status, err := stanzaCreated(context.Background(), clients(f), exec, spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || done != tc.done || status != tc.status {
				t.Errorf("got %v %q %v, want %v %q", done, status, err, tc.done, tc.status)
			}
		})
	}
}
