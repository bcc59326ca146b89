// The backup schedules (CronJobs) of a cluster: listing them and completing
// their names; shared by show schedule and delete schedule.

package cmd

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// listSchedules returns the schedule CronJobs, sorted by namespace and
// name: of the cluster (every cluster when empty), the one named (any when
// empty), matching sel; in every namespace when ns is empty.
func listSchedules(ctx context.Context, c *apply.Clients, ns, clusterName, name string, sel labels.Selector) ([]batchv1.CronJob, error) {
	reqs, _ := sel.Requirements()
	full := labels.SelectorFromSet(jobs.ScheduleSelector(clusterName)).Add(reqs...)
	list, err := c.Client.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: full.String()})
	if err != nil {
		return nil, fmt.Errorf("cannot list the schedules (CronJobs): %w", apply.APIError(c, err))
	}
	// One being deleted is gone already, as far as the user is concerned.
	items := slices.DeleteFunc(list.Items, func(cj batchv1.CronJob) bool {
		return (name != "" && cj.Name != name) || cj.DeletionTimestamp != nil
	})
	slices.SortFunc(items, func(a, b batchv1.CronJob) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return items, nil
}

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
