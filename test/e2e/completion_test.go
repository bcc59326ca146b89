package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// clusterNameCommands take the NAME of an existing cluster and so complete it (their
// ValidArgsFunction is cmd.CompleteClusterNames). Those not written yet are skipped.
var clusterNameCommands = [][]string{
	{"show", "cluster"},
	{"delete", "cluster"},
	{"restore"},
	{"backup"},
	{"show", "backup"},
	{"show", "archive"},
	{"delete", "backup"},
}

// Flag values complete from the cluster and the kubeconfig, through cobra's __complete.
func TestCompletionOfFlagValues(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	raw, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "namespaces", args: []string{"version", "-n", ""}, want: []string{ns, "default", "kube-system"}},
		{name: "contexts", args: []string{"version", "--context", ""}, want: []string{raw.CurrentContext}},
		{name: "output formats", args: []string{"version", "-o", ""}, want: []string{"table", "json", "yaml"}},
		{name: "subcommands", args: []string{"ver"}, want: []string{"version"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, directive := complete(t, env, tc.args...)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("__complete %q offers %q, which lacks %q", tc.args, got, w)
				}
			}
			if directive != ":4" {
				t.Errorf("directive %s, want :4 (no file completion)", directive)
			}
		})
	}
}

// Cluster names complete from the labelled config ConfigMaps of the namespace given with -n.
func TestCompletionOfClusterNames(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	configMap := func(name string, labels map[string]string) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}}
		if _, err := env.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating ConfigMap %s/%s: %v", ns, name, err)
		}
	}
	for _, c := range []string{"zebra", "hippo"} {
		configMap(c+"-pgo-config", map[string]string{
			"app.kubernetes.io/managed-by": "kubectl-pgo",
			"app.kubernetes.io/component":  "config",
			"pg-cluster":                   c,
		})
	}
	// Neither is a cluster's config.
	configMap("lookalike-pgo-config", map[string]string{"pg-cluster": "lookalike"})
	configMap("other-tool", map[string]string{"app.kubernetes.io/component": "config", "pg-cluster": "other"})
	want := []string{"hippo", "zebra"}

	t.Run("function", func(t *testing.T) {
		flags := genericclioptions.NewConfigFlags(false)
		flags.KubeConfig, flags.Namespace = &env.Kubeconfig, &ns
		c := &cobra.Command{}
		c.SetContext(ctx)
		complete := cmd.CompleteClusterNames(kube.NewFactory(flags))
		if got, _ := complete(c, nil, ""); !slices.Equal(got, want) {
			t.Errorf("all: got %q, want %q", got, want)
		}
		if got, _ := complete(c, nil, "hi"); !slices.Equal(got, []string{"hippo"}) {
			t.Errorf("prefix hi: got %q, want [hippo]", got)
		}
	})

	for _, path := range clusterNameCommands {
		name := strings.Join(path, " ")
		t.Run(name, func(t *testing.T) {
			if help := env.PGO(t, append(path, "--help")...); help.ExitCode != 0 ||
				!strings.Contains(help.Stdout, "kubectl pgo "+name+" ") {
				t.Skipf("kubectl pgo %s does not exist yet", name)
			}
			got, directive := complete(t, env, append(path, "-n", ns, "")...)
			if !slices.Equal(got, want) || directive != ":4" {
				t.Fatalf("kubectl pgo __complete %s -n %s \"\": got %q %s, want %q :4 (is cmd.CompleteClusterNames its ValidArgsFunction?)", name, ns, got, directive, want)
			}
			// The same through kubectl, as `kubectl pgo <TAB>` runs it.
			got, directive = completeThroughKubectl(t, env, append(append([]string{"pgo"}, path...), "-n", ns, "")...)
			if !slices.Equal(got, want) || directive != ":4" {
				t.Errorf("kubectl __complete pgo %s -n %s \"\": got %q %s, want %q :4", name, ns, got, directive, want)
			}
		})
	}
}

// kubectl completes `kubectl pgo ...` through hack/kubectl_complete-pgo.
func TestCompletionThroughKubectl(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	tests := []struct {
		args []string
		want []string
	}{
		{args: []string{"pgo", "ver"}, want: []string{"version"}},
		{args: []string{"pgo", "version", "-o", ""}, want: []string{"table", "json", "yaml"}},
		{args: []string{"pgo", "completion", ""}, want: []string{"bash", "zsh", "fish", "powershell"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, _ := completeThroughKubectl(t, env, tc.args...)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("kubectl __complete %q offers %q, which lacks %q", tc.args, got, w)
				}
			}
		})
	}
}

// complete runs `kubectl pgo __complete ARGS...` and returns the candidates (without their
// descriptions) and the directive line.
func complete(t *testing.T, env *framework.Env, args ...string) ([]string, string) {
	t.Helper()
	res := env.PGO(t, append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if res.ExitCode != 0 {
		t.Fatalf("__complete failed:\n%s", res)
	}
	return parseCompletions(t, res.Stdout)
}

// completeThroughKubectl runs `kubectl __complete ARGS...` with hack/kubectl_complete-pgo on
// PATH, the way kubectl's own shell completion asks.
func completeThroughKubectl(t *testing.T, env *framework.Env, args ...string) ([]string, string) {
	t.Helper()
	hack, err := filepath.Abs(filepath.Join("..", "..", "hack"))
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("kubectl", append([]string{cobra.ShellCompRequestCmd}, args...)...)
	c.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "PATH="+hack+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("kubectl __complete %q: %v\n%s", args, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "kubectl_complete-pgo") {
		t.Errorf("kubectl did not call kubectl_complete-pgo:\n%s", stderr.String())
	}
	return parseCompletions(t, stdout.String())
}

// parseCompletions splits cobra's __complete output: one candidate per line, optionally with a
// tab and a description, then ":<directive>".
func parseCompletions(t *testing.T, out string) ([]string, string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ":") {
		t.Fatalf("no directive line in:\n%s", out)
	}
	var got []string
	for _, l := range lines[:len(lines)-1] {
		got = append(got, strings.SplitN(l, "\t", 2)[0])
	}
	return got, last
}
