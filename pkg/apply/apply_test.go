package apply

import (
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

func TestPodProgress(t *testing.T) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hippo-0"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "database"}, {Name: "pgbackrest"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "database", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s"}}},
			{Name: "pgbackrest", Ready: true},
		}},
	}
	want := "pod hippo-0 Running, 1 of 2 containers ready (database: CrashLoopBackOff (back-off 10s))"
	if got := PodProgress(p); got != want {
		t.Errorf("PodProgress = %q, want %q", got, want)
	}
}

// RenderedResources, which create checks permissions for, are the kinds
// Render makes.
func TestRenderedResources(t *testing.T) {
	spec := cluster.Spec{Name: "hippo", Namespace: "pg"}
	spec.Default()
	m, err := cluster.LoadOrGenerateMaterial(spec, nil, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	objects, err := cluster.Render(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	mapper := kubefake.NewFactory().Mapper
	rendered := map[schema.GroupResource]bool{}
	for _, obj := range objects {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		rendered[mapping.Resource.GroupResource()] = true
	}
	listed := map[schema.GroupResource]bool{}
	for _, gr := range RenderedResources {
		listed[gr] = true
	}
	if !maps.Equal(rendered, listed) {
		t.Errorf("Render makes %v, RenderedResources lists %v", rendered, listed)
	}
}
