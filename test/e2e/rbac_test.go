package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// The ClusterRole in deploy/rbac is enough for the plugin: a ServiceAccount bound to it in one
// namespace (and to nothing else) runs the commands there, and fails without the binding.
func TestUserRoleIsEnough(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	ctx := context.Background()

	// A copy under a name of this test's own, so parallel runs and the real role do not clash.
	role := userRole(t)
	role.Name = "kubectl-pgo-user-" + ns
	if _, err := env.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "pgo-user", Namespace: ns}}
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	as := "--as=system:serviceaccount:" + ns + ":pgo-user"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hippo-pgo-config", Namespace: ns, Labels: map[string]string{
		"app.kubernetes.io/managed-by": "kubectl-pgo", "app.kubernetes.io/component": "config", "pg-cluster": "hippo",
	}}}
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Without the binding the account may do nothing, so the checks below prove the role.
	if res := env.Run(t, "kubectl", "get", "configmaps", "-n", ns, as); res.ExitCode == 0 || !strings.Contains(res.Stderr, "forbidden") {
		t.Fatalf("the unbound account could list ConfigMaps:\n%s", res)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pgo-user", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: ns}},
	}
	if _, err := env.Client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("completion of cluster names", func(t *testing.T) {
		flags := genericclioptions.NewConfigFlags(false)
		user := "system:serviceaccount:" + ns + ":pgo-user"
		flags.KubeConfig, flags.Namespace, flags.Impersonate = &env.Kubeconfig, &ns, &user
		c := &cobra.Command{}
		c.SetContext(ctx)
		if got, _ := cmd.CompleteClusterNames(kube.NewFactory(flags))(c, nil, ""); len(got) != 1 || got[0] != "hippo" {
			t.Errorf("as %s: got %q, want [hippo]", user, got)
		}
	})

	// Each command is tried once it exists, in the order a user would run them; only a refusal
	// by the API server fails the test, not the state of the pods.
	commands := [][]string{
		{"create", "cluster", "rbac-check"},
		{"show", "cluster", "rbac-check"},
		{"show", "cluster"},
		{"delete", "cluster", "rbac-check", "--yes"},
	}
	for _, args := range commands {
		name := strings.Join(args[:2], " ")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if help := env.PGO(t, args[0], args[1], "--help"); help.ExitCode != 0 || !strings.Contains(help.Stdout, "kubectl pgo "+name+" ") {
				t.Skipf("kubectl pgo %s does not exist yet", name)
			}
			res := env.PGO(t, append(args, "-n", ns, as)...)
			if strings.Contains(res.Stderr, "forbidden") {
				t.Errorf("kubectl pgo %s was refused with the role:\n%s", strings.Join(args, " "), res)
			}
		})
	}
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
