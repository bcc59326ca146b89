package lifecycle

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// The image is checked in the pod that runs it: a pod of the old template waits, an image
// without the cluster's major ends the wait saying what to do, one with it passes.
func TestImageMajorStep(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "default", PostgresVersion: 17}
	spec.Default()
	pod := func(image string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: spec.PrimaryPod(), Namespace: "default"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: cluster.ContainerPGBackRest, Image: image}}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: cluster.ContainerPGBackRest,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
		}
	}
	for _, tc := range []struct {
		name, image, majors string
		done                bool
		status, err         string
	}{
		{name: "old template", image: cluster.ImageFor(15), majors: "15\n", status: "does not run ghcr.io/kubectl-pgo/postgres:17 yet"},
		{name: "another major", image: spec.Image, majors: "15\n", err: "has PostgreSQL 15 (in /usr/lib/postgresql), not 17, the cluster's version"},
		{name: "none", image: spec.Image, majors: "", err: "has PostgreSQL none"},
		{name: "the major", image: spec.Image, majors: "15\n17\n", done: true, status: "has PostgreSQL 17"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clients(newClusterFactory(pod(tc.image)))
			var ran []string
			exec := func(_ context.Context, _, _, container string, command []string) (string, string, error) {
				ran = append(ran, container+": "+strings.Join(command, " "))
				return tc.majors, "", nil
			}
			done, status, err := imageMajorStep(c, exec, spec, spec.PrimaryPod()).Check(context.Background())
			if done != tc.done || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) || !strings.Contains(status, tc.status) {
				t.Errorf("= %v, %q, %v; want %v, %q, error %q", done, status, err, tc.done, tc.status, tc.err)
			}
			if tc.name == "old template" && len(ran) != 0 {
				t.Errorf("exec into a pod of the old template: %v", ran)
			}
		})
	}
}
