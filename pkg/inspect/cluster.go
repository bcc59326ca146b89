// What show cluster reports of a cluster: its workloads, pods, stanza and
// archiving, read from the API server and by exec.

package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// showConcurrency bounds how many clusters are read at once.
const showConcurrency = 4

// ClusterInfo is what show cluster reports about one cluster.
type ClusterInfo struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Status sums up the rest: ready, not ready, archiving failing,
	// stanza error, not running (no database workload, e.g. after delete
	// --keep-backups) or unknown (it could not be read).
	Status          string `json:"status"`
	StorageType     string `json:"storageType"`
	Image           string `json:"image,omitempty"`
	PostgresVersion int    `json:"postgresVersion,omitempty"`

	Database  DatabaseInfo `json:"database"`
	RepoHost  RepoHostInfo `json:"repoHost"`
	Pods      []PodInfo    `json:"pods"`
	Stanza    StanzaInfo   `json:"stanza"`
	Archiving ArchiveInfo  `json:"archiving"`
	// Instances are the primary and the replicas, with replicas only.
	Instances []InstanceInfo `json:"instances,omitempty"`
	// Standby is the replay of a standby cluster (nil for another).
	Standby *StandbyInfo `json:"standby,omitempty"`
	// Passphrase is where an encrypted cluster's passphrase lives (nil
	// without a cipher).
	Passphrase *Passphrase `json:"passphrase,omitempty"`

	// Errors are what could not be read (API errors, exec refused); they
	// make the command exit non-zero.
	Errors []string `json:"errors,omitempty"`
}

// DatabaseInfo is the database workload.
type DatabaseInfo struct {
	StatefulSet string `json:"statefulSet"`
	Service     string `json:"service"`
	Pod         string `json:"pod"`
	Ready       bool   `json:"ready"`
	DataPVC     string `json:"dataPVC"`
	StorageSize string `json:"storageSize,omitempty"`
	// SystemID is the database's system identifier (pg_control_system),
	// which the stanza must match; 0 when unknown.
	SystemID uint64 `json:"systemId,omitempty"`
}

// RepoHostInfo is the pgBackRest repository host.
type RepoHostInfo struct {
	Deployment string `json:"deployment"`
	Service    string `json:"service"`
	Pod        string `json:"pod,omitempty"`
	Ready      bool   `json:"ready"`
	PVC        string `json:"pvc"`
	PVCSize    string `json:"pvcSize,omitempty"`
	RepoPath   string `json:"repoPath,omitempty"`
}

// ClusterList is what -o json|yaml prints without NAME.
type ClusterList struct {
	Items []ClusterInfo `json:"items"`
}

// Clusters reads the cluster NAME of the namespace, or without a name
// every cluster of the namespace ("" for all), a few at a time, sorted by
// namespace and name. Only a cluster that cannot be found or listed is an
// error; what cannot be read of a cluster is in its Errors.
func Clusters(ctx context.Context, c *apply.Clients, exec Exec, namespace, name string) ([]ClusterInfo, error) {
	var settings []corev1.ConfigMap
	if name != "" {
		cm, err := c.Client.CoreV1().ConfigMaps(namespace).Get(ctx, cluster.SettingsConfigMapName(name), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if err := apply.CheckNamespace(ctx, c, namespace); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("cluster %q not found in namespace %q (no ConfigMap %s): list the clusters with kubectl pgo show cluster -A",
				name, namespace, cluster.SettingsConfigMapName(name))
		case err != nil:
			return nil, fmt.Errorf("cannot read cluster %q: %w", name, apply.APIError(c, err))
		}
		if err := cluster.CheckOwnership(name, "ConfigMap "+namespace+"/"+cm.Name, cm.Labels); err != nil {
			return nil, err
		}
		settings = append(settings, *cm)
	} else {
		var err error
		settings, err = listClusterSettings(ctx, c, namespace)
		if err != nil {
			return nil, err
		}
	}

	infos := make([]ClusterInfo, len(settings))
	var wg sync.WaitGroup
	sem := make(chan struct{}, showConcurrency)
	for i := range settings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			infos[i] = readCluster(ctx, c, exec, &settings[i])
		}()
	}
	wg.Wait()
	slices.SortFunc(infos, func(a, b ClusterInfo) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return infos, nil
}

// listClusterSettings finds the clusters of a namespace ("" for all) by
// their settings ConfigMaps, in one request.
func listClusterSettings(ctx context.Context, c *apply.Clients, ns string) ([]corev1.ConfigMap, error) {
	selector := labels.Set{cluster.LabelManagedBy: cluster.FieldManager, cluster.LabelComponent: cluster.ComponentConfig}.String()
	list, err := c.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		where := fmt.Sprintf("in namespace %q", ns)
		if ns == "" {
			where = "in all namespaces"
		}
		return nil, fmt.Errorf("cannot list the clusters %s: %w", where, apply.APIError(c, err))
	}
	var out []corev1.ConfigMap
	for _, cm := range list.Items {
		if name := cm.Labels[cluster.LabelCluster]; name != "" && cm.Name == cluster.SettingsConfigMapName(name) {
			out = append(out, cm)
		}
	}
	return out, nil
}

// Values of ClusterInfo.Status.
const (
	StatusReady            = "ready"
	StatusNotReady         = "not ready"
	StatusArchivingFailing = "archiving failing"
	StatusStanzaError      = "stanza error"
	StatusNotRunning       = "not running"
	StatusUnknown          = "unknown"
)

// readCluster gathers everything about one cluster. It never fails: what
// cannot be read is recorded in the result.
func readCluster(ctx context.Context, c *apply.Clients, exec Exec, cm *corev1.ConfigMap) ClusterInfo {
	name, ns := cm.Labels[cluster.LabelCluster], cm.Namespace
	info := ClusterInfo{
		Name:      name,
		Namespace: ns,
		Status:    StatusUnknown,
		Database: DatabaseInfo{
			StatefulSet: cluster.StatefulSetName(name), Service: cluster.ServiceName(name),
			Pod: cluster.PodName(name), DataPVC: cluster.DataPVCName(name),
		},
		RepoHost: RepoHostInfo{
			Deployment: cluster.RepoHostName(name), Service: cluster.RepoHostName(name), PVC: cluster.RepoPVCName(name),
		},
		Pods:      []PodInfo{},
		Stanza:    StanzaInfo{Name: repo.StanzaName, Status: StatusUnknown},
		Archiving: ArchiveInfo{},
	}
	addErr := func(err error) { info.Errors = append(info.Errors, err.Error()) }

	localRepo := true
	spec, err := cluster.SpecFromConfigMap(cm)
	if err != nil {
		addErr(err)
	} else {
		info.Database.Pod = spec.PrimaryPod()
		localRepo = spec.HasLocalRepo()
		info.StorageType = storageTypes(spec.StorageType)
		info.Image = spec.Image
		info.PostgresVersion = spec.PostgresVersion
		info.Database.StorageSize = spec.StorageSize
		info.RepoHost.PVCSize = spec.RepoPVCSize
		info.RepoHost.RepoPath = spec.RepoPath
	}
	if !localRepo {
		info.RepoHost = RepoHostInfo{}
	}
	if info.Passphrase, err = ReadPassphrase(ctx, c.Client, spec, false); err != nil {
		addErr(apply.APIError(c, err))
	}

	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.ClusterSelector(name).String()})
	if err != nil {
		addErr(fmt.Errorf("cannot list the pods: %w", apply.APIError(c, err)))
		info.Stanza.Error = "unknown: the pods could not be listed"
		info.Archiving.Error = info.Stanza.Error
		return info
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	var dbPod, repoPod *corev1.Pod
	all := make([]*corev1.Pod, len(pods.Items))
	for i := range pods.Items {
		all[i] = &pods.Items[i]
	}
	problems := kube.PodProblems(ctx, c.Client, all)
	for i := range pods.Items {
		p := &pods.Items[i]
		pi := PodInfoOf(p)
		pi.Problem = problems[p.Name]
		info.Pods = append(info.Pods, pi)
		switch {
		case p.Name == info.Database.Pod:
			dbPod = p
		case localRepo && p.Labels[cluster.LabelComponent] == cluster.ComponentRepo && p.DeletionTimestamp == nil:
			if repoPod == nil || (!kube.IsPodReady(repoPod) && kube.IsPodReady(p)) {
				repoPod = p
			}
		}
	}
	info.Database.Ready = dbPod != nil && dbPod.DeletionTimestamp == nil && kube.IsPodReady(dbPod)
	if repoPod != nil {
		info.RepoHost.Pod = repoPod.Name
		info.RepoHost.Ready = kube.IsPodReady(repoPod)
	}

	var errs []error
	switch {
	case ContainerRunning(dbPod, databaseContainer) && (!localRepo || ContainerRunning(repoPod, repoContainer)):
		// One exec: pgBackRest in the database container reaches every
		// repository, through the repository host for a local one.
		var err error
		info.Archiving, info.Stanza, err = QueryArchiverAndStanza(ctx, exec, dbPod)
		errs = append(errs, err)
	case !localRepo:
		var err error
		info.Archiving, err = QueryArchiver(ctx, exec, dbPod)
		errs = append(errs, err)
		info.Stanza.Error = "unknown: the database pod, which reads the S3 repository, is not running"
	default:
		// Either pod is down: ask the one that runs, side by side.
		var wg sync.WaitGroup
		var stanzaErr, archiveErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			info.Stanza, stanzaErr = QueryStanza(ctx, exec, repoPod)
		}()
		go func() {
			defer wg.Done()
			info.Archiving, archiveErr = QueryArchiver(ctx, exec, dbPod)
		}()
		wg.Wait()
		errs = append(errs, stanzaErr, archiveErr)
	}
	for _, err := range errs {
		if err != nil {
			addErr(err)
		}
	}
	if spec.Replicas > 0 {
		info.Instances = Instances(ctx, exec, spec, pods.Items)
	}
	if spec.Standby != nil && dbPod != nil {
		s := Standby(ctx, exec, spec, dbPod)
		info.Standby = &s
	}
	info.Database.SystemID = info.Archiving.SystemID
	if err := CheckSystemID(info.Stanza, info.Database.SystemID); err != nil {
		info.Stanza.Status, info.Stanza.Message = "error", err.Error()
	}

	switch {
	case len(info.Errors) > 0 && dbPod == nil && repoPod == nil:
		info.Status = StatusUnknown
	case dbPod == nil && !workloadExists(ctx, c, ns, name):
		info.Status = StatusNotRunning
	case info.Stanza.Error == "" && !info.Stanza.Usable() && info.Stanza.Status != "missing":
		info.Status = StatusStanzaError
	case info.Archiving.Failing:
		info.Status = StatusArchivingFailing
	case info.Database.Ready && (!localRepo || info.RepoHost.Ready) && info.Stanza.Usable():
		info.Status = StatusReady
	default:
		info.Status = StatusNotReady
	}
	return info
}

// workloadExists tells whether the database StatefulSet exists; without
// it the cluster is not running (deleted with --keep-backups).
func workloadExists(ctx context.Context, c *apply.Clients, ns, name string) bool {
	_, err := c.Client.AppsV1().StatefulSets(ns).Get(ctx, cluster.StatefulSetName(name), metav1.GetOptions{})
	return err == nil || !apierrors.IsNotFound(err)
}

func storageTypes(types []cluster.StorageType) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}
