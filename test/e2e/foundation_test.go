package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// kubectl finds the plugin on PATH and `kubectl pgo version` reports both versions.
func TestVersionThroughPluginDiscovery(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)

	list := env.Run(t, "kubectl", "plugin", "list")
	if !strings.Contains(list.Stdout, "kubectl-pgo") {
		t.Fatalf("kubectl plugin list does not show kubectl-pgo:\n%s", list)
	}

	res := env.PGO(t, "version")
	if res.ExitCode != 0 {
		t.Fatalf("kubectl pgo version failed:\n%s", res)
	}
	t.Logf("kubectl pgo version:\n%s", res.Stdout)
	if !regexp.MustCompile(`(?m)^client\s+\S+`).MatchString(res.Stdout) ||
		!regexp.MustCompile(`(?m)^server\s+v1\.\d+\.\d+`).MatchString(res.Stdout) {
		t.Errorf("the table lacks a client or a server row:\n%s", res.Stdout)
	}

	res = env.PGO(t, "version", "-o", "json")
	if res.ExitCode != 0 {
		t.Fatalf("kubectl pgo version -o json failed:\n%s", res)
	}
	var v struct {
		ClientVersion struct{ Version, GoVersion string }
		ServerVersion struct{ GitVersion string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
		t.Fatalf("version -o json is not JSON: %v\n%s", err, res.Stdout)
	}
	server, err := env.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.ServerVersion.GitVersion != server.GitVersion {
		t.Errorf("server version %q, want %q", v.ServerVersion.GitVersion, server.GitVersion)
	}
	if v.ClientVersion.Version == "" || v.ClientVersion.GoVersion == "" {
		t.Errorf("client version incomplete: %+v", v.ClientVersion)
	}
}

// Against an unreachable server: the client version, a clear error, a non-zero exit.
func TestVersionUnreachableServer(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	res := env.Run(t, "kubectl", "pgo", "version", "--kubeconfig", kubeconfig, "--request-timeout", "5s")
	if res.ExitCode == 0 {
		t.Fatalf("version succeeded against an unreachable server:\n%s", res)
	}
	if !regexp.MustCompile(`(?m)^client\s+\S+`).MatchString(res.Stdout) {
		t.Errorf("the client version is missing:\n%s", res)
	}
	if !strings.Contains(res.Stderr, "https://127.0.0.1:1") || !strings.Contains(res.Stderr, "could not reach") {
		t.Errorf("the error does not name the unreachable server:\n%s", res.Stderr)
	}
}

// The project's exec helper runs commands in a pod of the PostgreSQL image.
func TestExecInPostgresImage(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	env.Pod(t, ns, "tools", nil, []string{"sleep", "3600"}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"postgres", "--version"}, fmt.Sprintf(`postgres \(PostgreSQL\) %d\.\d+`, cluster.DefaultPostgresVersion)},
		{[]string{"pgbackrest", "version"}, `pgBackRest 2\.\d+`},
	} {
		out, _, err := kube.ExecCapture(ctx, env.Config, env.Client, ns, "tools", "main", c.cmd)
		if err != nil {
			t.Fatalf("exec %v: %v", c.cmd, err)
		}
		t.Logf("%s: %s", strings.Join(c.cmd, " "), strings.TrimSpace(out))
		if !regexp.MustCompile(c.want).MatchString(out) {
			t.Errorf("%v printed %q, want a match for %s", c.cmd, out, c.want)
		}
	}
	// A failing command reports its exit code.
	_, _, err := kube.ExecCapture(ctx, env.Config, env.Client, ns, "tools", "main", []string{"bash", "-c", "exit 7"})
	if ee, ok := err.(*kube.ExecError); !ok || ee.ExitCode() != 7 {
		t.Errorf("exit 7 gave %v, want an ExecError with code 7", err)
	}
}

// Cluster DNS resolves a Service, and kube-proxy routes a connection to the pod behind it.
func TestServiceDNSAndRouting(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	ctx := context.Background()

	env.Pod(t, ns, "server", map[string]string{"app": "server"}, []string{"bash", "-c",
		"initdb -D /tmp/pg >/dev/null && exec postgres -D /tmp/pg -c listen_addresses='*' -k /tmp"}, nil)
	svc, err := env.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "server"},
			Ports: []corev1.ServicePort{{Port: 5432, TargetPort: intstr.FromInt32(5432)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Pod(t, ns, "client", nil, []string{"sleep", "3600"}, nil)

	fqdn := "db." + ns + ".svc.cluster.local"
	out, _, err := kube.ExecCapture(ctx, env.Config, env.Client, ns, "client", "main", []string{"getent", "hosts", fqdn})
	if err != nil {
		t.Fatalf("resolving %s: %v", fqdn, err)
	}
	if got := strings.Fields(out); len(got) == 0 || got[0] != svc.Spec.ClusterIP {
		t.Fatalf("%s resolved to %q, want the Service IP %s", fqdn, out, svc.Spec.ClusterIP)
	}
	// The server needs a moment to accept connections; the short name goes through the search path.
	var ready string
	err = kube.WaitFor(ctx, time.Second, time.Minute, func(ctx context.Context) (bool, error) {
		ready, _, err = kube.ExecCapture(ctx, env.Config, env.Client, ns, "client", "main", []string{"pg_isready", "-h", "db", "-p", "5432"})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no connection through the Service: %q", ready)
	}
	t.Logf("%s -> %s; %s", fqdn, svc.Spec.ClusterIP, strings.TrimSpace(ready))
}

// A PVC with no storage class binds through the default class, and the data outlives the pod.
func TestPVCBindsWithoutStorageClass(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	_, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	withData := func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	}
	succeeded := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }

	env.Pod(t, ns, "writer", nil, []string{"bash", "-c", "echo written-by-writer > /data/proof"}, withData)
	env.WaitPod(t, ns, "writer", 2*time.Minute, succeeded)
	pvc, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		t.Fatalf("PVC is %s with class %v, want Bound through the default class", pvc.Status.Phase, pvc.Spec.StorageClassName)
	}

	env.Pod(t, ns, "reader", nil, []string{"bash", "-c", "grep -qx written-by-writer /data/proof"}, withData)
	env.WaitPod(t, ns, "reader", 2*time.Minute, succeeded)
	t.Logf("PVC bound to %s through class %s; data read back by a second pod", pvc.Spec.VolumeName, *pvc.Spec.StorageClassName)
}
