package cmd

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
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

// The types of show cluster -o json|yaml (pkg/inspect).
type (
	ClusterInfo = inspect.ClusterInfo
	ClusterList = inspect.ClusterList
)

// ShowClusterOptions holds the flags and clients of `kubectl pgo show
// cluster`.
type ShowClusterOptions struct {
	Name          string
	AllNamespaces bool
	// listing is -o and the clock of the ages.
	listing

	namespace string
	factory   kube.Factory
	exec      execFunc
	genericiooptions.IOStreams
}

// NewShowClusterOptions returns options with defaults: table output, the
// current namespace.
func NewShowClusterOptions(streams genericiooptions.IOStreams) *ShowClusterOptions {
	return &ShowClusterOptions{listing: newListing(), IOStreams: streams}
}

// NewCmdShowCluster returns `kubectl pgo show cluster [NAME | -A]`.
func NewCmdShowCluster(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdShowCluster(f, NewShowClusterOptions(streams))
}

func newCmdShowCluster(f kube.Factory, o *ShowClusterOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"cluster [NAME | -A]",
		"Show PostgreSQL clusters: pods, repository host, stanza and WAL archiving",
		showClusterLong, showClusterExample})
	fl := cmd.Flags()
	fl.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Show the clusters of every namespace.")
	o.Output.AddFlags(cmd)
	cmd.ValidArgsFunction = clusterNameCompletion(f)
	return cmd
}

// Complete takes the optional NAME and the namespace; it sends no request.
func (o *ShowClusterOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
	o.exec = execOr(o.exec, factoryExec(f))
	var err error
	if o.Name, err = optionalClusterName(cmd, args, "at most one"); err != nil {
		return err
	}
	if o.AllNamespaces {
		_, err := f.RESTConfig()
		if err != nil {
			return kubeconfigError(err)
		}
		return nil
	}
	o.namespace, err = resolveNamespace(f)
	return err
}

// Validate checks the flags and the name.
func (o *ShowClusterOptions) Validate(cmd *cobra.Command) error {
	return validateNameOrAll(cmd, o.Output, o.Name, o.AllNamespaces, "cluster")
}

// Run reads the clusters and prints them.
func (o *ShowClusterOptions) Run(ctx context.Context) error {
	c, err := newTypedClients(o.factory)
	if err != nil {
		return err
	}
	infos, err := inspect.Clusters(ctx, c, o.exec, o.namespace, o.Name)
	if err != nil {
		return err
	}
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
		for _, p := range info.Pods {
			if p.Problem != "" {
				fmt.Fprintf(o.Out, "pod %s: %s\n", p.Name, p.Problem)
			}
		}
	}
	if len(info.Instances) > 0 {
		fmt.Fprintln(o.Out)
		if err := printInstances(o.Out, info.Instances); err != nil {
			return err
		}
	}
	if sb := info.Standby; sb != nil {
		fmt.Fprintf(o.Out, "\nStandby of cluster %s, through its repository: %s\n", sb.Source, sb.Describe(now))
		if problem := sb.Problem(); problem != "" {
			fmt.Fprintf(o.ErrOut, "Warning: standby: %s\n", problem)
		}
	}
	var passphraseNote string
	if p := info.Passphrase; p != nil {
		fmt.Fprintf(o.Out, "\nRepository passphrase: %s\n", p.Describe())
		passphraseNote = firstNonEmpty(p.Problem, p.SaveAdvice(info.Name))
	}
	for _, note := range []struct{ what, msg string }{
		{"stanza", firstNonEmpty(info.Stanza.Error, stanzaProblem(info.Stanza))},
		{"archiving", firstNonEmpty(info.Archiving.Error, archiveProblem(info.Archiving))},
		{"passphrase", passphraseNote},
	} {
		if note.msg != "" {
			fmt.Fprintf(o.ErrOut, "Warning: %s: %s\n", note.what, note.msg)
		}
	}
	return nil
}

func stanzaProblem(s inspect.StanzaInfo) string {
	if s.Usable() || s.Status == inspect.StatusUnknown {
		return ""
	}
	return s.Message
}

func archiveProblem(a inspect.ArchiveInfo) string {
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
func podReadiness(pods []inspect.PodInfo, name string) string {
	for _, p := range pods {
		if p.Name == name {
			return p.Containers
		}
	}
	return "-"
}

// printInstances prints the primary and the replicas: the role the
// settings give each, what its PostgreSQL is, and the replication as the
// primary sees it.
func printInstances(w io.Writer, instances []inspect.InstanceInfo) error {
	t := printers.NewTable("Instance", "Role", "Node", "PostgreSQL", "Timeline", "Replication", "Lag")
	for _, i := range instances {
		pg, tl := "unknown", "-"
		switch {
		case i.Error != "":
			pg = i.Error
		case i.InRecovery != nil && *i.InRecovery:
			pg = "standby"
		case i.InRecovery != nil:
			pg = "accepts writes"
		}
		if i.Timeline > 0 {
			tl = strconv.Itoa(i.Timeline)
		}
		lag := "-"
		if i.LagBytes != nil && i.LagSeconds != nil {
			lag = fmt.Sprintf("%d bytes, %.1fs", *i.LagBytes, *i.LagSeconds)
		}
		t.AddRow(i.Name, i.Role, i.Node, pg, tl, firstNonEmpty(i.State, "-"), lag)
	}
	return t.Render(w)
}
