// The completion of backup schedule (CronJob) names, shared by show
// schedule and delete schedule; pkg/backup lists and describes them.

package cmd

import (
	"context"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// completeScheduleNames completes --schedule-name with the schedules of
// the cluster given as argument (of every cluster without one).
func completeScheduleNames(f kube.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		ns, _, err := f.Namespace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		client, err := f.KubernetesClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmdContext(cmd), completionTimeout)
		defer cancel()
		clusterName := ""
		if len(args) > 0 {
			clusterName = args[0]
		}
		list, err := client.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: jobs.ScheduleSelector(clusterName).String()})
		if err != nil {
			cobra.CompDebugln("listing schedules: "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, cj := range list.Items {
			if strings.HasPrefix(cj.Name, toComplete) {
				names = append(names, cj.Name)
			}
		}
		slices.Sort(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// validateScheduleName checks --schedule-name, when it is given.
func validateScheduleName(cmd *cobra.Command, name string) error {
	if name == "" {
		return nil
	}
	if err := jobs.ValidateScheduleName(name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return nil
}
