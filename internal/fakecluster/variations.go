package fakecluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// What tests change in the fake cluster of New.

// WithTimelines gives the repository the backups and timelines of a real
// cluster after a PITR between its full and its incremental backup, and a
// restore to the latest point: timelines 1, 2 and 3.
func WithTimelines(fx *Cluster) {
	data, err := os.ReadFile(filepath.Join(repoTestdata(), "info-timelines-3.txt"))
	if err != nil {
		panic(err)
	}
	fx.Info = string(data)
}

// StopDatabasePod makes the database pod not ready: its WAL is not
// archived before a restore.
func StopDatabasePod(fx *Cluster) {
	pods := fx.Factory.Clientset.CoreV1().Pods("pgo")
	p, err := pods.Get(context.Background(), "hippo-0", metav1.GetOptions{})
	if err != nil {
		panic(err)
	}
	p.Status.Conditions = nil
	if err := fx.Factory.Clientset.Tracker().Update(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, p, "pgo"); err != nil {
		panic(err)
	}
}

// AddSource adds a cluster name in namespace "pgo" to restore from: its
// rendered objects (its database certificate is "<name> db.crt") and its
// running repository host, which shares the repository of hippo's Exec.
func (fx *Cluster) AddSource(t testing.TB, name string) {
	t.Helper()
	c := fx.Factory.Clientset
	m := Material()
	m.PKI.DBCert, m.PKI.DBKey = []byte(name+" db.crt"), []byte(name+" db.key")
	AddRendered(t, c, cluster.Spec{Name: name, Namespace: "pgo"}, m)
	if err := c.Tracker().Add(RunningPod("pgo", name+"-backrest-shared-repo-abc", PodLabels(name, cluster.ComponentRepo), "pgbackrest")); err != nil {
		t.Fatal(err)
	}
}

// AddBootstrapped is what create cluster does for a new cluster name in
// namespace ns that a bootstrap fills (create cluster --restore-from): it
// renders its objects, lets adjust change them (the bootstrap's
// AdjustObjects), checks that its database is kept stopped, and adds its
// StatefulSet to the clientset.
func (fx *Cluster) AddBootstrapped(t testing.TB, name, ns string, adjust func([]*unstructured.Unstructured) error) {
	t.Helper()
	objects := Render(t, cluster.Spec{Name: name, Namespace: ns}, Material())
	if err := adjust(objects); err != nil {
		t.Fatal(err)
	}
	for _, obj := range TypedOfKinds(t, objects, "StatefulSet") {
		if replicas := obj.(*appsv1.StatefulSet).Spec.Replicas; replicas == nil || *replicas != 0 {
			t.Errorf("replicas = %v after AdjustObjects, want 0", replicas)
		}
		if err := fx.Factory.Clientset.Tracker().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
}

// EditSpec changes the settings of cluster name in namespace ns, as an
// update or an upgrade would have stored them.
func (fx *Cluster) EditSpec(t testing.TB, ns, name string, edit func(*cluster.Spec)) {
	t.Helper()
	ctx := context.Background()
	cms := fx.Factory.Clientset.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, cluster.SettingsConfigMapName(name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cluster.SpecFromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	edit(&spec)
	data, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cm.Data[cluster.SettingsKey] = string(data)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
