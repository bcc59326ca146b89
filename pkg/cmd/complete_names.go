// Shell completion of a cluster NAME argument, shared by the commands that
// take one, and of the flags that name a Secret of the user's (a
// passphrase, rotate keys' new keys).

package cmd

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// clusterConfigSelector matches the settings and pgBackRest ConfigMaps that
// every cluster has, so listing them names the clusters of a namespace with
// one small request.
var clusterConfigSelector = labels.Set{
	cluster.LabelManagedBy: cluster.FieldManager,
	cluster.LabelComponent: cluster.ComponentConfig,
}.String()

// completionTimeout bounds the API requests made to complete an argument.
const completionTimeout = 5 * time.Second

// CompleteClusterNames returns a ValidArgsFunction for commands that take one
// cluster NAME: it offers the clusters in the namespace selected by -n (or the
// kubeconfig) that start with what was typed. Completion must never fail
// loudly, so an error yields no suggestions (BASH_COMP_DEBUG_FILE shows it).
func CompleteClusterNames(f kube.Factory) cobra.CompletionFunc {
	names := completeFrom(f, "clusters", clusterNamesIn)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names(cmd, args, toComplete)
	}
}

// passphraseSecretCompletion completes a flag that names a passphrase
// Secret: the Secrets of the namespace with a cipher-pass that kubectl-pgo
// did not make.
func passphraseSecretCompletion(f kube.Factory) cobra.CompletionFunc {
	return userSecretCompletion(f, cluster.KeyCipherPass)
}

// userSecretCompletion completes a flag that names a Secret of the user's
// with key: the Secrets of the namespace that hold it and that kubectl-pgo
// did not make (rotate keys' new keys, the passphrase flags).
func userSecretCompletion(f kube.Factory, key string) cobra.CompletionFunc {
	return completeFrom(f, "Secrets", func(ctx context.Context, client kubernetes.Interface, ns string) ([]string, error) {
		return userSecretsIn(ctx, client, ns, key)
	})
}

// completeFrom offers the names list returns for the selected namespace
// that start with what was typed; what names the things listed, for the
// debug log of an error.
func completeFrom(f kube.Factory, what string, list func(context.Context, kubernetes.Interface, string) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		names, err := completionNames(cmd, f, list)
		if err != nil {
			cobra.CompDebugln("listing "+what+": "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		matching := names[:0]
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				matching = append(matching, n)
			}
		}
		return matching, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionNames runs list in the selected namespace, bounded by
// completionTimeout: a TAB press should not hang on an unreachable server.
func completionNames(cmd *cobra.Command, f kube.Factory, list func(context.Context, kubernetes.Interface, string) ([]string, error)) ([]string, error) {
	ns, _, err := f.Namespace()
	if err != nil {
		return nil, err
	}
	client, err := f.KubernetesClient()
	if err != nil {
		return nil, err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	return list(ctx, client, ns)
}

// clusterNamesIn lists the distinct cluster names of namespace ns, sorted.
func clusterNamesIn(ctx context.Context, client kubernetes.Interface, ns string) ([]string, error) {
	list, err := client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: clusterConfigSelector})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, cm := range list.Items {
		if n := cm.Labels[cluster.LabelCluster]; n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// userSecretsIn lists the Secrets of namespace ns that hold key and that
// kubectl-pgo did not make, sorted.
func userSecretsIn(ctx context.Context, client kubernetes.Interface, ns, key string) ([]string, error) {
	list, err := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range list.Items {
		if len(s.Data[key]) > 0 && s.Labels[cluster.LabelManagedBy] != cluster.FieldManager {
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// clusterNameCompletion completes a cluster NAME argument from the
// clusters of the namespace.
func clusterNameCompletion(f kube.Factory) cobra.CompletionFunc {
	return CompleteClusterNames(f)
}
