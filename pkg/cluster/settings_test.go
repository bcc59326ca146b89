package cluster

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Spec stored by Render reads back the same.
func TestSpecRoundTripsThroughTheConfigMap(t *testing.T) {
	for name, spec := range goldenSpecs() {
		t.Run(name, func(t *testing.T) {
			spec.Default()
			configMaps, _, _, _ := typed(t, renderSpec(t, spec))
			cm := configMaps[SettingsConfigMapName(spec.Name)]
			if cm == nil {
				t.Fatal("no settings ConfigMap")
			}
			got, err := SpecFromConfigMap(cm)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, spec) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, spec)
			}
			if err := CheckImmutable(got, spec); err != nil {
				t.Errorf("CheckImmutable(stored, same request) = %v", err)
			}
		})
	}
}

func TestSpecFromConfigMapErrors(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "hippo-pgo-config", Namespace: "pgo"}
	for _, tc := range []struct {
		name string
		data map[string]string
		want string
	}{
		{"no key", map[string]string{}, "has no cluster.yaml"},
		{"not yaml", map[string]string{SettingsKey: "name: [hippo"}, "cannot read cluster.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SpecFromConfigMap(&corev1.ConfigMap{ObjectMeta: meta, Data: tc.data})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SpecFromConfigMap() = %v, want %q", err, tc.want)
			}
		})
	}
}
