// Package framework holds the helpers of the end-to-end tests: the connection to the local
// cluster, a namespace per test, running `kubectl pgo` through kubectl's plugin discovery, and
// test pods that pass the "restricted" Pod Security Standard.
package framework

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// KubeconfigEnv names the variable that points the tests at a cluster.
const KubeconfigEnv = "KPGO_E2E_KUBECONFIG"

// Image is the PostgreSQL + pgBackRest image imported into the local cluster.
const Image = cluster.DefaultImage

// Env is the connection to the cluster under test.
type Env struct {
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
}

// Setup connects to the cluster, or skips the test with the reason when none is configured.
func Setup(t *testing.T) *Env {
	t.Helper()
	path := os.Getenv(KubeconfigEnv)
	if path == "" {
		t.Skipf("no cluster: %s is not set (run `make cluster-up` and then `make e2e`)", KubeconfigEnv)
	}
	e, err := Connect(path)
	if err != nil {
		t.Fatalf("%s=%s: %v", KubeconfigEnv, path, err)
	}
	return e
}

// Connect connects to the cluster of a kubeconfig, outside a test (hack/s3/serve).
func Connect(kubeconfig string) (*Env, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Env{Kubeconfig: kubeconfig, Config: cfg, Client: client}, nil
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for this test that enforces the "restricted" Pod Security
// Standard, and deletes it (waiting for its pods to go) when the test ends, failed or not.
func (e *Env) Namespace(t *testing.T) string {
	t.Helper()
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	name := "e2e-" + strings.Trim(base, "-") + "-" + hex.EncodeToString(suffix)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
		"kubectl-pgo.io/e2e":                 "true",
	}}}
	ctx := context.Background()
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		e.checkNamespaceLeaks(t, name)
		e.deleteNamespace(t, name)
	})
	return name
}

func (e *Env) deleteNamespace(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := e.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting namespace %s: %v", name, err)
		return
	}
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := e.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("namespace %s still exists after 3m", name)
	}
}

// Result is the outcome of one command.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.ExitCode, r.Stdout, r.Stderr)
}

// PGO runs `kubectl pgo ARGS...` through kubectl, so the plugin is found by discovery on PATH.
// The output is recorded for the secret leak check.
func (e *Env) PGO(t *testing.T, args ...string) Result {
	t.Helper()
	res := e.Run(t, "kubectl", append([]string{"pgo"}, args...)...)
	Record(args, res)
	e.recordAfter(t, args)
	return res
}

// PGOWithin is PGO for a command that must end within d: one that runs past
// it (say, waiting for input it cannot get) is killed and fails the test.
func (e *Env) PGOWithin(t *testing.T, d time.Duration, args ...string) Result {
	t.Helper()
	res := e.run(t, d, "kubectl", append([]string{"pgo"}, args...)...)
	Record(args, res)
	e.recordAfter(t, args)
	return res
}

// Run runs a command with KUBECONFIG pointing at the cluster under test.
func (e *Env) Run(t *testing.T, name string, args ...string) Result {
	t.Helper()
	return e.run(t, 15*time.Minute, name, args...)
}

func (e *Env) run(t *testing.T, timeout time.Duration, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.Kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %v did not end within %s:\n%s", name, args, timeout, res)
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running %s %v: %v", name, args, err)
	}
	t.Logf("$ %s %s -> exit %d", name, strings.Join(args, " "), res.ExitCode)
	return res
}

// RestrictedSecurityContext is what every test container runs with.
func RestrictedSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To[int64](26),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// Pod starts a pod of the PostgreSQL image running command and waits until it has started
// (Running, or already Succeeded for a short command).
// Volumes and extra settings can be added by mutate.
func (e *Env) Pod(t *testing.T, ns, name string, labels map[string]string, command []string, mutate func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			AutomountServiceAccountToken:  ptr.To(false),
			Containers: []corev1.Container{{
				Name: "main", Image: Image, ImagePullPolicy: corev1.PullNever,
				Command: command, SecurityContext: RestrictedSecurityContext(),
			}},
		},
	}
	if mutate != nil {
		mutate(pod)
	}
	ctx := context.Background()
	if _, err := e.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s/%s: %v", ns, name, err)
	}
	return e.WaitPod(t, ns, name, 3*time.Minute, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded
	})
}

// WaitPod polls a pod until done returns true; it fails the test on timeout or when the pod fails.
func (e *Env) WaitPod(t *testing.T, ns, name string, timeout time.Duration, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		if done(p) {
			return true, nil
		}
		if p.Status.Phase == corev1.PodFailed {
			return false, fmt.Errorf("pod %s/%s failed: %s", ns, name, p.Status.Message)
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for pod %s/%s: %v (last status: %+v)", ns, name, err, statusOf(last))
	}
	return last
}

func statusOf(p *corev1.Pod) any {
	if p == nil {
		return nil
	}
	return p.Status
}
