package kube

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: https://lab.example:6443
contexts:
- name: lab
  context:
    cluster: lab
    user: admin
    namespace: databases
users:
- name: admin
  user:
    token: t
current-context: lab
`

func TestFactoryFromConfigFlags(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		namespace    string
		timeout      string
		wantNS       string
		wantExplicit bool
		wantTimeout  time.Duration
	}{
		{name: "namespace from context", wantNS: "databases"},
		{name: "namespace from -n", namespace: "pg", wantNS: "pg", wantExplicit: true},
		{name: "request timeout", timeout: "7s", wantNS: "databases", wantTimeout: 7 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flags := genericclioptions.NewConfigFlags(false)
			flags.KubeConfig = &kubeconfig
			flags.Namespace = &tc.namespace
			if tc.timeout != "" {
				flags.Timeout = &tc.timeout
			}
			f := NewFactory(flags)

			ns, explicit, err := f.Namespace()
			if err != nil {
				t.Fatal(err)
			}
			if ns != tc.wantNS || explicit != tc.wantExplicit {
				t.Errorf("Namespace() = %q, %v; want %q, %v", ns, explicit, tc.wantNS, tc.wantExplicit)
			}
			config, err := f.RESTConfig()
			if err != nil {
				t.Fatal(err)
			}
			if config.Host != "https://lab.example:6443" || config.Timeout != tc.wantTimeout {
				t.Errorf("RESTConfig() host %q timeout %v; want https://lab.example:6443, %v", config.Host, config.Timeout, tc.wantTimeout)
			}
			if _, err := f.KubernetesClient(); err != nil {
				t.Errorf("KubernetesClient(): %v", err)
			}
			if _, err := f.DynamicClient(); err != nil {
				t.Errorf("DynamicClient(): %v", err)
			}
		})
	}
}
