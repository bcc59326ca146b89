package cmd

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

const showClusterLong = `Show PostgreSQL clusters made by kubectl pgo create cluster: their pods and
readiness, the repository host, the storage type, the pgBackRest stanza's
status and a summary of WAL archiving.

The stanza's status comes from "pgbackrest info" run in the repository host
(the pgbackrest container), and the archiving summary from pg_stat_archiver,
queried with psql in the database container; both through exec, so they need
the pods/exec permission.

Without NAME, every cluster of the namespace is listed; with -A, every
cluster of every namespace. A cluster that cannot be read is shown with its
errors, after the others, and the command then exits with status 1. A
cluster that is not ready is not an error.`

const showClusterExample = `  # One cluster, with its pods
  kubectl pgo show cluster hippo

  # Every cluster in every namespace
  kubectl pgo show cluster -A

  # One cluster as JSON, e.g. the number of archived WAL segments
  kubectl pgo show cluster hippo -o json | jq .archiving.archivedCount`

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

// ShowClusterOptions holds the flags and clients of `kubectl pgo show
// cluster`.
type ShowClusterOptions struct {
	Name          string
	AllNamespaces bool
	Output        *printers.OutputFlags

	namespace string
	factory   kube.Factory
	exec      execFunc
	now       func() time.Time
	genericiooptions.IOStreams
}

// NewShowClusterOptions returns options with defaults: table output, the
// current namespace.
func NewShowClusterOptions(streams genericiooptions.IOStreams) *ShowClusterOptions {
	return &ShowClusterOptions{
		Output:    printers.NewOutputFlags(printers.DefaultFormats...),
		now:       time.Now,
		IOStreams: streams,
	}
}

// NewCmdShowCluster returns `kubectl pgo show cluster [NAME | -A]`.
func NewCmdShowCluster(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdShowCluster(f, NewShowClusterOptions(streams))
}

func newCmdShowCluster(f kube.Factory, o *ShowClusterOptions) *cobra.Command {
	streams := o.IOStreams
	cmd := &cobra.Command{
		Use:     "cluster [NAME | -A]",
		Short:   "Show PostgreSQL clusters: pods, repository host, stanza and WAL archiving",
		Long:    showClusterLong,
		Example: showClusterExample,
		Args:    cobra.ArbitraryArgs,
		RunE:    runOptions(f, o),
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Show the clusters of every namespace.")
	o.Output.AddFlags(cmd)
	cmd.ValidArgsFunction = clusterNameCompletion(f)
	return cmd
}

// Complete takes the optional NAME and the namespace; it sends no request.
func (o *ShowClusterOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
	if o.exec == nil {
		o.exec = factoryExec(f)
	}
	switch len(args) {
	case 0:
	case 1:
		o.Name = args[0]
	default:
		return usageErrorf(cmd, "%s takes at most one cluster name, got %d arguments: %s", cmd.CommandPath(), len(args), strings.Join(args, " "))
	}
	if o.AllNamespaces {
		_, err := f.RESTConfig()
		if err != nil {
			return kubeconfigError(err)
		}
		return nil
	}
	var err error
	o.namespace, err = resolveNamespace(f)
	return err
}

// Validate checks the flags and the name.
func (o *ShowClusterOptions) Validate(cmd *cobra.Command) error {
	if err := o.Output.Validate(); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if o.Name != "" && o.AllNamespaces {
		return usageErrorf(cmd, "a cluster NAME and -A cannot be used together: -A lists every cluster")
	}
	if o.Name != "" {
		if err := cluster.ValidateName(o.Name); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
	}
	return nil
}

// Run reads the clusters and prints them.
func (o *ShowClusterOptions) Run(ctx context.Context) error {
	c, err := newTypedClients(o.factory)
	if err != nil {
		return err
	}
	var settings []corev1.ConfigMap
	if o.Name != "" {
		cm, err := c.Client.CoreV1().ConfigMaps(o.namespace).Get(ctx, cluster.SettingsConfigMapName(o.Name), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if err := apply.CheckNamespace(ctx, c, o.namespace); err != nil {
				return err
			}
			return fmt.Errorf("cluster %q not found in namespace %q (no ConfigMap %s): list the clusters with kubectl pgo show cluster -A",
				o.Name, o.namespace, cluster.SettingsConfigMapName(o.Name))
		case err != nil:
			return fmt.Errorf("cannot read cluster %q: %w", o.Name, apply.APIError(c, err))
		}
		if err := cluster.CheckOwnership(o.Name, "ConfigMap "+o.namespace+"/"+cm.Name, cm.Labels); err != nil {
			return err
		}
		settings = append(settings, *cm)
	} else {
		settings, err = listClusterSettings(ctx, c, o.namespace)
		if err != nil {
			return err
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
			infos[i] = readCluster(ctx, c, o.exec, &settings[i])
		}()
	}
	wg.Wait()
	slices.SortFunc(infos, func(a, b ClusterInfo) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})

	if err := o.print(infos); err != nil {
		return err
	}
	var failed []string
	for _, info := range infos {
		if len(info.Errors) > 0 {
			failed = append(failed, fmt.Sprintf("cluster %s/%s: %s", info.Namespace, info.Name, strings.Join(info.Errors, "; ")))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not read everything:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
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

func (o *ShowClusterOptions) print(infos []ClusterInfo) error {
	if o.Output.Format() != printers.FormatTable {
		if o.Name != "" && len(infos) == 1 {
			return o.Output.Print(o.Out, nil, infos[0])
		}
		if infos == nil {
			infos = []ClusterInfo{}
		}
		return o.Output.Print(o.Out, nil, ClusterList{Items: infos})
	}
	if len(infos) == 0 {
		where := fmt.Sprintf("in namespace %q", o.namespace)
		if o.AllNamespaces {
			where = "in any namespace"
		}
		fmt.Fprintf(o.ErrOut, "No clusters found %s.\n", where)
		return nil
	}
	now := o.now()
	headers := []string{"Name", "Status", "Storage", "Database", "Repo Host", "Stanza", "Archived", "Failed", "Last Archived WAL", "Last Archived"}
	if o.AllNamespaces {
		headers = append([]string{"Namespace"}, headers...)
	}
	t := printers.NewTable(headers...)
	for _, info := range infos {
		row := []string{
			info.Name, info.Status, info.StorageType,
			podReadiness(info.Pods, info.Database.Pod), podReadiness(info.Pods, info.RepoHost.Pod),
			info.Stanza.Status,
		}
		a := info.Archiving
		if a.Error != "" {
			row = append(row, "-", "-", "-", "-")
		} else {
			row = append(row, strconv.FormatInt(a.ArchivedCount, 10), strconv.FormatInt(a.FailedCount, 10), orDash(a.LastArchivedWAL), age(now, a.LastArchivedTime))
		}
		if o.AllNamespaces {
			row = append([]string{info.Namespace}, row...)
		}
		t.AddRow(row...)
	}
	if err := t.Render(o.Out); err != nil {
		return err
	}
	if o.Name == "" || len(infos) != 1 {
		return nil
	}
	// One cluster: its pods, and what could not be determined.
	info := infos[0]
	if len(info.Pods) > 0 {
		fmt.Fprintln(o.Out)
		pods := printers.NewTable("Pod", "Component", "Ready", "Status", "Restarts", "Age")
		for _, p := range info.Pods {
			pods.AddRow(p.Name, p.Component, p.Containers, p.Phase, strconv.Itoa(int(p.Restarts)), age(now, &p.Created))
		}
		if err := pods.Render(o.Out); err != nil {
			return err
		}
	}
	for _, note := range []struct{ what, msg string }{
		{"stanza", firstNonEmpty(info.Stanza.Error, stanzaProblem(info.Stanza))},
		{"archiving", firstNonEmpty(info.Archiving.Error, archiveProblem(info.Archiving))},
	} {
		if note.msg != "" {
			fmt.Fprintf(o.ErrOut, "Warning: %s: %s\n", note.what, note.msg)
		}
	}
	return nil
}

func stanzaProblem(s StanzaInfo) string {
	if s.usable() || s.Status == StatusUnknown {
		return ""
	}
	return s.Message
}

func archiveProblem(a ArchiveInfo) string {
	if !a.Failing {
		return ""
	}
	return fmt.Sprintf("the last attempt to archive WAL %s failed (%d failures in all); see the database container's log", a.LastFailedWAL, a.FailedCount)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(now time.Time, t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(*t))
}

// podReadiness is "2/2" for the named pod, "-" when there is none.
func podReadiness(pods []PodInfo, name string) string {
	for _, p := range pods {
		if p.Name == name {
			return p.Containers
		}
	}
	return "-"
}

// readCluster gathers everything about one cluster. It never fails: what
// cannot be read is recorded in the result.
func readCluster(ctx context.Context, c *apply.Clients, exec execFunc, cm *corev1.ConfigMap) ClusterInfo {
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
	if spec, err := cluster.SpecFromConfigMap(cm); err != nil {
		addErr(err)
	} else {
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

	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.ClusterSelector(name).String()})
	if err != nil {
		addErr(fmt.Errorf("cannot list the pods: %w", apply.APIError(c, err)))
		info.Stanza.Error = "unknown: the pods could not be listed"
		info.Archiving.Error = info.Stanza.Error
		return info
	}
	slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	var dbPod, repoPod *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		info.Pods = append(info.Pods, podInfo(p))
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
	case containerRunning(dbPod, databaseContainer) && (!localRepo || containerRunning(repoPod, repoContainer)):
		// One exec: pgBackRest in the database container reaches every
		// repository, through the repository host for a local one.
		var err error
		info.Archiving, info.Stanza, err = queryArchiverAndStanza(ctx, exec, dbPod)
		errs = append(errs, err)
	case !localRepo:
		var err error
		info.Archiving, err = queryArchiver(ctx, exec, dbPod)
		errs = append(errs, err)
		info.Stanza.Error = "unknown: the database pod, which reads the S3 repository, is not running"
	default:
		// Either pod is down: ask the one that runs, side by side.
		var wg sync.WaitGroup
		var stanzaErr, archiveErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			info.Stanza, stanzaErr = queryStanza(ctx, exec, repoPod)
		}()
		go func() {
			defer wg.Done()
			info.Archiving, archiveErr = queryArchiver(ctx, exec, dbPod)
		}()
		wg.Wait()
		errs = append(errs, stanzaErr, archiveErr)
	}
	for _, err := range errs {
		if err != nil {
			addErr(err)
		}
	}
	info.Database.SystemID = info.Archiving.systemID
	if err := checkSystemID(info.Stanza, info.Database.SystemID); err != nil {
		info.Stanza.Status, info.Stanza.Message = "error", err.Error()
	}

	switch {
	case len(info.Errors) > 0 && dbPod == nil && repoPod == nil:
		info.Status = StatusUnknown
	case dbPod == nil && !workloadExists(ctx, c, ns, name):
		info.Status = StatusNotRunning
	case info.Stanza.Error == "" && !info.Stanza.usable() && info.Stanza.Status != "missing":
		info.Status = StatusStanzaError
	case info.Archiving.Failing:
		info.Status = StatusArchivingFailing
	case info.Database.Ready && (!localRepo || info.RepoHost.Ready) && info.Stanza.usable():
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
