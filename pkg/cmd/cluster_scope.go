// NAME, --selector or --all-namespaces: the clusters a show command reads,
// read a few at a time, and the error that names those that could not be
// read.

package cmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// clusterScope are the flags that choose the clusters of a show command.
type clusterScope struct {
	Name          string
	AllNamespaces bool
	Selector      string
	namespace     string
	// storageTypes are the listed clusters', from the settings that
	// targets reads anyway; not known for a NAME.
	storageTypes map[clusterTarget][]cluster.StorageType
}

func (s *clusterScope) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&s.AllNamespaces, "all-namespaces", "A", false, "Every cluster, in every namespace.")
	cmd.Flags().StringVarP(&s.Selector, "selector", "l", "", "The clusters whose labels match this selector (e.g. env=prod), in the namespace (every namespace with -A).")
}

// complete takes NAME, if given, and the namespace.
func (s *clusterScope) complete(f kube.Factory, cmd *cobra.Command, args []string) (err error) {
	if len(args) > 0 {
		if s.Name, err = clusterNameArg(cmd, args); err != nil {
			return err
		}
	}
	ns, _, err := f.Namespace()
	if err != nil {
		return kubeconfigError(err)
	}
	s.namespace = ns
	return nil
}

func (s *clusterScope) validate(cmd *cobra.Command) error {
	switch {
	case s.Name != "" && (s.AllNamespaces || s.Selector != ""):
		return usageErrorf(cmd, "a cluster NAME cannot be combined with -A or --selector")
	case s.Name == "" && !s.AllNamespaces && s.Selector == "":
		return usageErrorf(cmd, "a cluster name is required, or -A or --selector: %s NAME", cmd.CommandPath())
	case s.Name != "":
		if err := validateClusterName(s.Name); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
	}
	if s.Selector != "" {
		if _, err := labels.Parse(s.Selector); err != nil {
			return usageErrorf(cmd, "invalid --selector %q: %v", s.Selector, err)
		}
	}
	return nil
}

// multi tells whether the command shows a list of clusters.
func (s *clusterScope) multi() bool { return s.Name == "" }

// clusterTarget is a cluster to show.
type clusterTarget struct{ Name, Namespace string }

// targets returns the clusters to show, sorted by namespace and name; a
// selector that matches nothing is an empty list. A NAME is taken as
// given, without a request: whether it exists is asked only when reading
// it fails (see missing), which keeps a show command at three requests.
func (s *clusterScope) targets(ctx context.Context, client kubernetes.Interface) ([]clusterTarget, error) {
	if s.Name != "" {
		return []clusterTarget{{Name: s.Name, Namespace: s.namespace}}, nil
	}
	ns := s.namespace
	if s.AllNamespaces {
		ns = ""
	}
	// The settings ConfigMaps mark the clusters; the user's selector
	// narrows them down (every object of a cluster has its labels).
	selector, err := labels.Parse(s.Selector)
	if err != nil {
		return nil, err
	}
	for key, value := range map[string]string{cluster.LabelManagedBy: cluster.FieldManager, cluster.LabelComponent: cluster.ComponentConfig} {
		r, err := labels.NewRequirement(key, selection.Equals, []string{value})
		if err != nil {
			return nil, err
		}
		selector = selector.Add(*r)
	}
	list, err := client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		where := fmt.Sprintf("in namespace %q", ns)
		if ns == "" {
			where = "in any namespace"
		}
		return nil, fmt.Errorf("cannot list the clusters %s: %w%s", where, err, unreachableHint(err))
	}
	var out []clusterTarget
	for _, cm := range list.Items {
		if name := cm.Labels[cluster.LabelCluster]; name != "" && cm.Name == cluster.SettingsConfigMapName(name) {
			t := clusterTarget{Name: name, Namespace: cm.Namespace}
			if spec, err := cluster.SpecFromConfigMap(&cm); err == nil {
				if s.storageTypes == nil {
					s.storageTypes = map[clusterTarget][]cluster.StorageType{}
				}
				s.storageTypes[t] = spec.StorageType
			}
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b clusterTarget) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out, nil
}

// missing is the error for a NAME whose cluster does not exist, or nil
// when it exists (or that cannot be told): called after reading it failed,
// it replaces the error of the read, which would only say that no pod
// was found.
func (s *clusterScope) missing(ctx context.Context, client kubernetes.Interface) error {
	var notFound *clusterNotFoundError
	if _, err := readClusterSpec(ctx, client, s.namespace, s.Name); errors.As(err, &notFound) {
		return err
	}
	return nil
}

// describe names what the scope selected, for "no clusters" messages.
func (s *clusterScope) describe() string {
	where := fmt.Sprintf("in namespace %q", s.namespace)
	if s.AllNamespaces {
		where = "in any namespace"
	}
	if s.Selector != "" {
		return fmt.Sprintf("matching %q %s", s.Selector, where)
	}
	return where
}

// forEachCluster calls fn for each target, a few at a time, and returns
// the results in the order of the targets.
func forEachCluster[T any](targets []clusterTarget, fn func(clusterTarget) T) []T {
	out := make([]T, len(targets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, showBackupConcurrency)
	for i, t := range targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = fn(t)
		})
	}
	wg.Wait()
	return out
}

// clustersNotRead is the error of a show command when some clusters could not
// be read: each is named, after the output of the others.
func clustersNotRead[T any](results []T, get func(T) (ns, name, err string)) error {
	var failed []string
	for _, r := range results {
		if ns, name, err := get(r); err != "" {
			failed = append(failed, fmt.Sprintf("cluster %s/%s: %s", ns, name, err))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d clusters could not be read:\n  %s", len(failed), len(results), strings.Join(failed, "\n  "))
}

// showBackupConcurrency bounds the clusters read at once.
const showBackupConcurrency = 10
