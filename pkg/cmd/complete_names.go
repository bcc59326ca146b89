// Shell completion of a cluster NAME argument, shared by the commands that
// take one.

package cmd

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

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
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, err := clusterNames(cmd, f)
		if err != nil {
			cobra.CompDebugln("listing clusters: "+err.Error(), false)
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

// clusterNames lists the distinct cluster names in the selected namespace,
// sorted.
func clusterNames(cmd *cobra.Command, f kube.Factory) ([]string, error) {
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
	// A TAB press should not hang on an unreachable server.
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
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

// clusterNameCompletion completes a cluster NAME argument from the
// clusters of the namespace.
func clusterNameCompletion(f kube.Factory) cobra.CompletionFunc {
	return CompleteClusterNames(f)
}
