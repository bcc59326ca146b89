package fakecluster

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Material is the secret material the fake cluster's objects are rendered
// with: placeholder certificates and password "p".
func Material() cluster.Material {
	return cluster.Material{
		PKI: cluster.PKI{CACert: []byte("ca"), CAKey: []byte("k"), DBCert: []byte("c"), DBKey: []byte("k"),
			RepoCert: []byte("c"), RepoKey: []byte("k")},
		Password: "p",
	}
}

// FixtureVersion is the PostgreSQL major of the fake cluster when its spec
// names none: that of the pgbackrest and psql outputs in pkg/repo/testdata,
// which a restore checks against the major it starts.
const FixtureVersion = 15

// Defaulted is spec with the defaults, of FixtureVersion unless it names
// its major.
func Defaulted(spec cluster.Spec) cluster.Spec {
	if spec.PostgresVersion == 0 {
		spec.PostgresVersion = FixtureVersion
	}
	spec.Default()
	return spec
}

// Render renders the objects create cluster applies for spec (with its
// defaults, of FixtureVersion unless it names its major) and m.
func Render(t testing.TB, spec cluster.Spec, m cluster.Material) []*unstructured.Unstructured {
	t.Helper()
	spec = Defaulted(spec)
	objects, err := cluster.Render(spec, m)
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

// Typed converts a rendered object to its typed kind (a *corev1.ConfigMap
// for a ConfigMap, ...), as the typed clientset holds it.
func Typed(t testing.TB, u *unstructured.Unstructured) runtime.Object {
	t.Helper()
	obj, err := scheme.Scheme.New(u.GroupVersionKind())
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TypedOfKinds are the rendered objects of the given kinds, typed.
func TypedOfKinds(t testing.TB, rendered []*unstructured.Unstructured, kinds ...string) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	for _, u := range rendered {
		for _, k := range kinds {
			if u.GetKind() == k {
				out = append(out, Typed(t, u))
			}
		}
	}
	return out
}

// RenderedOfKind is the first object of kind that create cluster renders
// for spec, typed as T (appsv1.StatefulSet for "StatefulSet", ...).
func RenderedOfKind[T any](t testing.TB, spec cluster.Spec, kind string) *T {
	t.Helper()
	for _, u := range Render(t, spec, Material()) {
		if u.GetKind() == kind {
			obj := new(T)
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
				t.Fatal(err)
			}
			return obj
		}
	}
	t.Fatalf("no %s rendered for cluster %s", kind, spec.Name)
	return nil
}

// AddRendered adds the ConfigMaps, Secrets, PVCs and Deployments that
// create cluster renders for spec and m to the fake clientset c.
func AddRendered(t testing.TB, c *fake.Clientset, spec cluster.Spec, m cluster.Material) {
	t.Helper()
	for _, obj := range TypedOfKinds(t, Render(t, spec, m), "ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment") {
		if err := c.Tracker().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
}

// SettingsConfigMap is the settings ConfigMap of cluster name in ns with
// the defaults (of FixtureVersion), as create cluster writes it.
func SettingsConfigMap(t testing.TB, name, ns string) *corev1.ConfigMap {
	t.Helper()
	s := Defaulted(cluster.Spec{Name: name, Namespace: ns})
	data, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: cluster.SettingsConfigMapName(name), Namespace: ns, Labels: cluster.Labels(name, cluster.ComponentConfig)},
		Data:       map[string]string{cluster.SettingsKey: string(data)},
	}
}
