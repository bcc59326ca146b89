package lifecycle

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Going from three replicas to one deletes the StatefulSets and the PVCs of the two dropped,
// and nothing of the primary or of the replica kept; a new replica is one the stored settings
// do not have.
func TestReplicasAddedAndRemoved(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "default", Labels: cluster.Labels("hippo", cluster.ComponentDatabase)}
	}
	var objs []runtime.Object
	for _, n := range []string{"hippo", "hippo-r1", "hippo-r2", "hippo-r3"} {
		objs = append(objs, &appsv1.StatefulSet{ObjectMeta: meta(n)}, &corev1.PersistentVolumeClaim{ObjectMeta: meta(n)})
	}
	f := newClusterFactory(objs...)
	stored := cluster.Spec{Name: "hippo", Namespace: "default", Replicas: 3}
	spec := stored
	spec.Replicas = 1
	if added := newReplicas(stored, spec); len(added) != 0 {
		t.Errorf("fewer replicas add %v", added)
	}
	if added := newReplicas(spec, stored); !slices.Equal(added, []string{"hippo-r2", "hippo-r3"}) {
		t.Errorf("from 1 to 3 replicas adds %v", added)
	}
	if added := newReplicas(cluster.Spec{}, spec); !slices.Equal(added, []string{"hippo-r1"}) {
		t.Errorf("a new cluster adds %v", added)
	}

	var out bytes.Buffer
	if err := removeInstances(context.Background(), clients(f), stored, spec, &out); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var sets, pvcs []string
	stsList, _ := f.Clientset.AppsV1().StatefulSets("default").List(ctx, metav1.ListOptions{})
	for _, s := range stsList.Items {
		sets = append(sets, s.Name)
	}
	pvcList, _ := f.Clientset.CoreV1().PersistentVolumeClaims("default").List(ctx, metav1.ListOptions{})
	for _, p := range pvcList.Items {
		pvcs = append(pvcs, p.Name)
	}
	slices.Sort(sets)
	slices.Sort(pvcs)
	if want := []string{"hippo", "hippo-r1"}; !slices.Equal(sets, want) || !slices.Equal(pvcs, want) {
		t.Errorf("left StatefulSets %v and PVCs %v, want %v of each", sets, pvcs, want)
	}
	for _, n := range []string{"hippo-r2", "hippo-r3"} {
		if !strings.Contains(out.String(), "replica "+n+" removed (statefulset/"+n+", persistentvolumeclaim/"+n+" and service/"+n+"-0 deleted)") {
			t.Errorf("the output does not say that %s was removed:\n%s", n, out.String())
		}
	}
}
