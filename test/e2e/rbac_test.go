package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// The ClusterRole in deploy/rbac is enough for the plugin: a ServiceAccount bound to it in one
// namespace (and to nothing else) runs every command there, from create cluster to delete
// cluster, and every command fails with a clear refusal without the binding.
func TestUserRoleIsEnough(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	ctx := context.Background()

	// A copy under a name of this test's own, so parallel runs and the real role do not clash.
	role, user := userAccount(t, env, ns)
	as := "--as=" + user
	const name = "rbac-check"
	pgo := func(t *testing.T, args ...string) framework.Result {
		t.Helper()
		return env.PGOWithin(t, 10*time.Minute, append([]string{"-n", ns, as}, args...)...)
	}
	// Every command, in the order a user would run them; a pgBackRest label is filled in
	// once the backup exists.
	const labelArg = "--target=LABEL"
	commands := [][]string{
		{"create", "cluster", name, "--wait"},
		{"show", "cluster", name},
		{"show", "cluster"},
		{"backup", name, "--type=full", "--wait"},
		{"backup", name, "--type=incr", "--wait"},
		{"show", "backup", name},
		{"show", "archive", name},
		{"verify", name},
		{"doctor", name},
		{"backup", name, "--backup-type=pgdump", "--wait"},
		{"show", "backup", name, "--backup-type=pgdump"},
		{"restore", name, "--backup-type=pgdump", "--yes"},
		{"backup", name, "--backup-type=pgbasebackup", "--wait"},
		{"show", "backup", name, "--backup-type=pgbasebackup"},
		{"restore", name, "--yes"},
		{"create", "schedule", name, "--schedule=0 1 1 1 *", "--pgbackrest-backup-type=full"},
		{"show", "schedule", name},
		{"update", "cluster", name, "--pgbackrest-repo-retention-full=3"},
		{"restore-drill", name},
		{"delete", "schedule", name, "--yes"},
		{"delete", "backup", name, labelArg, "--yes"},
		{"delete", "cluster", name, "--yes"},
	}

	// Without the binding the account may do nothing: each command is refused, and says so.
	if res := env.Run(t, "kubectl", "get", "configmaps", "-n", ns, as); res.ExitCode == 0 || !strings.Contains(res.Stderr, "forbidden") {
		t.Fatalf("the unbound account could list ConfigMaps:\n%s", res)
	}
	// The refusal names what is missing: the permissions (checked first by create), or the
	// API server's answer, with the resource and the verb.
	refused := regexp.MustCompile(`forbidden: you may not .*; missing permissions: |is forbidden: User "` + regexp.QuoteMeta(user) + `" cannot \w+ resource "\w+"`)
	t.Run("without the role", func(t *testing.T) {
		for _, args := range commands {
			args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--wait" })
			if j := slices.Index(args, labelArg); j >= 0 {
				args[j] = "--target=20200101-000000F"
			}
			res := pgo(t, args...)
			t.Logf("%s", strings.TrimSpace(res.Stderr))
			if res.ExitCode == 0 || !refused.MatchString(res.Stderr) {
				t.Errorf("kubectl pgo %s without the role: want a refusal that says forbidden:\n%s", strings.Join(args, " "), res)
			}
		}
	})

	bindUser(t, env, ns, role)

	// With the role, every command works: exit 0, nothing refused.
	incr := ""
	for i, args := range commands {
		if args[0] == "delete" && args[1] == "cluster" {
			// Before the cluster goes: completion, and the pods' accounts.
			t.Run("completion of cluster names", func(t *testing.T) {
				flags := genericclioptions.NewConfigFlags(false)
				flags.KubeConfig, flags.Namespace, flags.Impersonate = &env.Kubeconfig, &ns, &user
				c := &cobra.Command{}
				c.SetContext(ctx)
				if got, _ := cmd.CompleteClusterNames(kube.NewFactory(flags))(c, nil, ""); len(got) != 1 || got[0] != name {
					t.Errorf("as %s: got %q, want [%s]", user, got, name)
				}
			})
			t.Run("no pod gets an API token", func(t *testing.T) { assertNoTokens(t, env, ns) })
		}
		args = slices.Clone(args)
		if j := slices.Index(args, labelArg); j >= 0 {
			args[j] = "--target=" + incr
		}
		ok := t.Run(fmt.Sprintf("%02d %s", i, strings.Join(args, " ")), func(t *testing.T) {
			res := pgo(t, args...)
			if res.ExitCode != 0 || strings.Contains(res.Stderr, "forbidden") {
				t.Fatalf("kubectl pgo %s failed with the role:\n%s", strings.Join(args, " "), res)
			}
			if m := bkLabelLine.FindStringSubmatch(res.Stdout); m != nil && m[2] == "incr" {
				incr = m[1]
			}
		})
		if !ok && i == 0 {
			t.Fatal("no cluster: the other commands cannot run")
		}
	}
}

// assertNoTokens checks that no pod of the namespace (database, repository
// host, Jobs) can call the Kubernetes API: none needs to, so none gets a
// ServiceAccount token, and all run as the default account.
func assertNoTokens(t *testing.T, env *framework.Env, ns string) {
	t.Helper()
	pods, err := env.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) < 4 {
		t.Errorf("%d pods, want the database, the repository host and the Jobs'", len(pods.Items))
	}
	for _, p := range pods.Items {
		if tok := p.Spec.AutomountServiceAccountToken; tok == nil || *tok {
			t.Errorf("pod %s: automountServiceAccountToken is %v, want false", p.Name, tok)
		}
		if p.Spec.ServiceAccountName != "default" {
			t.Errorf("pod %s runs as ServiceAccount %s, want default", p.Name, p.Spec.ServiceAccountName)
		}
		for _, v := range p.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil {
					t.Errorf("pod %s mounts a ServiceAccount token (volume %s)", p.Name, v.Name)
				}
			}
		}
	}
	t.Logf("%d pods, none with a ServiceAccount token", len(pods.Items))
}

// userRole reads the ClusterRole kubectl-pgo-user from deploy/rbac.
func userRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "deploy", "rbac", "kubectl-pgo-user-role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var role rbacv1.ClusterRole
		if err := dec.Decode(&role); err != nil {
			t.Fatalf("no ClusterRole kubectl-pgo-user in deploy/rbac: %v", err)
		}
		if role.Kind == "ClusterRole" && role.Name == "kubectl-pgo-user" {
			role.ResourceVersion = ""
			return &role
		}
	}
}
