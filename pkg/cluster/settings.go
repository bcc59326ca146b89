package cluster

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// SettingsKey is the key of the Spec in the settings ConfigMap.
const SettingsKey = "cluster.yaml"

// SpecFromConfigMap reads the Spec that create stored in the settings
// ConfigMap (<c>-pgo-config), with defaults applied.
func SpecFromConfigMap(cm *corev1.ConfigMap) (Spec, error) {
	data, ok := cm.Data[SettingsKey]
	if !ok {
		return Spec{}, fmt.Errorf("configmap %s/%s has no %s: it was not written by kubectl pgo create cluster", cm.Namespace, cm.Name, SettingsKey)
	}
	var s Spec
	if err := yaml.Unmarshal([]byte(data), &s); err != nil {
		return Spec{}, fmt.Errorf("configmap %s/%s: cannot read %s: %w", cm.Namespace, cm.Name, SettingsKey, err)
	}
	s.Default()
	return s, nil
}
