package cmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube/kubefake"
)

func TestCompletion(t *testing.T) {
	tests := []struct {
		shell string
		// Each generated script names the executable it completes.
		want []string
	}{
		{shell: "bash", want: []string{"# bash completion V2 for kubectl-pgo", "__start_kubectl-pgo"}},
		{shell: "zsh", want: []string{"#compdef kubectl-pgo", "compdef _kubectl-pgo kubectl-pgo"}},
		{shell: "fish", want: []string{"# fish completion for kubectl-pgo", "complete -c kubectl-pgo"}},
		{shell: "powershell", want: []string{"# powershell completion for kubectl-pgo", "Register-ArgumentCompleter"}},
	}
	for _, tc := range tests {
		t.Run(tc.shell, func(t *testing.T) {
			out, errOut, err := executeRoot(t, "completion", tc.shell)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s script lacks %q", tc.shell, w)
				}
			}
			if errOut != "" {
				t.Errorf("unexpected stderr: %q", errOut)
			}
		})
	}
}

func TestCompletionErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{
			name:    "unsupported shell",
			args:    []string{"tcsh"},
			wantErr: "unsupported shell \"tcsh\": choose one of bash, zsh, fish, powershell\nSee 'kubectl pgo completion --help' for usage.",
		},
		{
			name:    "no shell",
			args:    nil,
			wantErr: "shell not specified: choose one of bash, zsh, fish, powershell\nSee 'kubectl pgo completion --help' for usage.",
		},
		{
			name:    "two shells",
			args:    []string{"bash", "zsh"},
			wantErr: "too many arguments: expected one shell, got [\"bash\" \"zsh\"]\nSee 'kubectl pgo completion --help' for usage.",
		},
		{
			name:    "case matters",
			args:    []string{"Bash"},
			wantErr: "unsupported shell \"Bash\": choose one of bash, zsh, fish, powershell\nSee 'kubectl pgo completion --help' for usage.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := executeRoot(t, append([]string{"completion"}, tc.args...)...)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if out != "" {
				t.Errorf("printed a script despite the error")
			}
		})
	}
}

// TestCompletionOfFlagValues exercises the hidden __complete command that
// the scripts (and kubectl_complete-pgo) call.
func TestCompletionOfFlagValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "subcommands", args: []string{"__complete", ""}, want: []string{"completion", "create", "delete", "show", "version"}},
		{name: "shells", args: []string{"__complete", "completion", ""}, want: []string{"bash", "zsh", "fish", "powershell"}},
		{name: "output formats", args: []string{"__complete", "version", "-o", ""}, want: []string{"table", "json", "yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := executeRoot(t, tc.args...)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w+"\t") && !strings.Contains(out, w+"\n") {
					t.Errorf("completions lack %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestCompleteClusterNames(t *testing.T) {
	configMap := func(ns, name string, labels map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	}
	// Each cluster has two config ConfigMaps; the name must be offered once.
	objects := []runtime.Object{
		configMap("default", "zebra-pgo-config", cluster.Labels("zebra", cluster.ComponentConfig)),
		configMap("default", "hippo-pgo-config", cluster.Labels("hippo", cluster.ComponentConfig)),
		configMap("default", "hippo-pgbackrest-config", cluster.Labels("hippo", cluster.ComponentConfig)),
		configMap("default", "hypnos-pgo-config", cluster.Labels("hypnos", cluster.ComponentConfig)),
		configMap("other", "elsewhere-pgo-config", cluster.Labels("elsewhere", cluster.ComponentConfig)),
		// Not ours, or not a cluster's config: never offered.
		configMap("default", "stranger", map[string]string{cluster.LabelCluster: "stranger"}),
		configMap("default", "half-made", map[string]string{
			cluster.LabelManagedBy: cluster.FieldManager, cluster.LabelCluster: "half-made",
		}),
		configMap("default", "unnamed", map[string]string{
			cluster.LabelManagedBy: cluster.FieldManager, cluster.LabelComponent: cluster.ComponentConfig,
		}),
	}
	tests := []struct {
		name       string
		namespace  string
		args       []string
		toComplete string
		err        error
		want       []string
	}{
		{name: "all clusters, sorted, once each", toComplete: "", want: []string{"hippo", "hypnos", "zebra"}},
		{name: "prefix", toComplete: "h", want: []string{"hippo", "hypnos"}},
		{name: "full name", toComplete: "zebra", want: []string{"zebra"}},
		{name: "no match", toComplete: "x", want: nil},
		{name: "other namespace", namespace: "other", want: []string{"elsewhere"}},
		{name: "empty namespace", namespace: "nothing-here", want: nil},
		{name: "name already given", args: []string{"hippo"}, want: nil},
		{name: "no kubeconfig", err: errors.New("no configuration has been provided"), want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.NewFactory(objects...)
			if tc.namespace != "" {
				f.NS = tc.namespace
			}
			f.Err = tc.err
			cmd := &cobra.Command{}
			cmd.SetContext(context.Background())
			got, directive := CompleteClusterNames(f)(cmd, tc.args, tc.toComplete)
			if !slices.Equal(got, tc.want) {
				t.Errorf("completions = %q, want %q", got, tc.want)
			}
			if directive != cobra.ShellCompDirectiveNoFileComp {
				t.Errorf("directive = %v, want NoFileComp", directive)
			}
		})
	}
}

// TestCompleteClusterNamesThroughCobra checks the function as the shell
// scripts see it: cobra's hidden __complete command on a command that uses
// it as its ValidArgsFunction.
func TestCompleteClusterNamesThroughCobra(t *testing.T) {
	f := kubefake.NewFactory(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: "default", Name: "hippo-pgo-config", Labels: cluster.Labels("hippo", cluster.ComponentConfig),
	}})
	root := &cobra.Command{Use: "kubectl-pgo"}
	root.AddCommand(&cobra.Command{
		Use:               "show NAME",
		ValidArgsFunction: CompleteClusterNames(f),
		Run:               func(*cobra.Command, []string) {},
	})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{cobra.ShellCompRequestCmd, "show", ""})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	// One candidate per line, then the directive (4 = no file completion).
	if want := "hippo\n:4\n"; out.String() != want {
		t.Errorf("__complete printed %q, want %q", out.String(), want)
	}
}

// The passphrase flags of create cluster offer the user's Secrets with a cipher-pass, not
// kubectl-pgo's nor those without one.
func TestCompletePassphraseSecrets(t *testing.T) {
	secret := func(name string, labels map[string]string, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: labels}, Data: data}
	}
	pass := map[string][]byte{cluster.KeyCipherPass: []byte("x")}
	f := kubefake.NewFactory(
		secret("hippo-passphrase", nil, pass), secret("vault-copy", nil, pass),
		secret("hippo-backrest-repo-config", cluster.Labels("hippo", cluster.ComponentRepo), pass),
		secret("s3-keys", nil, map[string][]byte{cluster.KeyS3Key: []byte("k")}))
	streams, _, _ := testStreams("")
	cmd := NewCmdCreateCluster(f, streams)
	for _, flag := range []string{"pgbackrest-repo-cipher-secret", "restore-from-cipher-secret"} {
		complete, ok := cmd.GetFlagCompletionFunc(flag)
		if !ok {
			t.Fatalf("--%s has no completion", flag)
		}
		got, directive := complete(cmd, []string{"new"}, "")
		if want := []string{"hippo-passphrase", "vault-copy"}; !slices.Equal(got, want) || directive != cobra.ShellCompDirectiveNoFileComp {
			t.Errorf("--%s: completions %v (%d), want %v", flag, got, directive, want)
		}
		if got, _ := complete(cmd, nil, "hip"); !slices.Equal(got, []string{"hippo-passphrase"}) {
			t.Errorf("--%s hip: completions %v", flag, got)
		}
	}
}
