package cmd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

const updateClusterLong = `Change the settings of an existing cluster that may change: the retention of
its pgBackRest repositories, the image, and the CPU and memory of PostgreSQL.

update reads the settings that create stored (ConfigMap NAME-pgo-config),
applies only the flags given on the command line (the others keep their stored
values), checks the result, prints each setting that changes, and applies with
server-side apply the objects whose rendering changes. A setting that cannot
change (the storage type, the sizes and the storage classes) is refused with
the reason before anything is touched.

pgBackRest reads its configuration when a command starts. The retention is
rendered, for every repository, into the repository host's pgbackrest.conf
(ConfigMap NAME-pgbackrest-config); the new file changes the config hash on the
repository host's pod template, so the repository host restarts (a few
seconds; WAL archiving retries meanwhile). The database does not restart for a
retention change; a new image, CPU or memory restarts it. Unless --wait=false,
update waits until the restarted pods are ready and the repository host reads
the new pgbackrest.conf: from then on every backup (its Job mounts the same
file) and every expire (after each backup, and delete backup) uses the new
retention. Nothing is expired by update itself: the next backup does it. A
backup that is already running keeps the retention it started with.

With --dry-run=client nothing is written, but unlike create the cluster must
exist: its stored settings and Secrets are read to render the objects. With -o
yaml or -o json the objects that change are printed.`

const updateClusterExample = `  # Keep one full backup instead of two; the next backup expires the older ones
  kubectl pgo update cluster hippo --pgbackrest-repo-retention-full=1

  # Keep the full backups of the last 14 days, and 3 differential backups
  kubectl pgo update cluster hippo --pgbackrest-repo-retention-full=14 \
    --pgbackrest-repo-retention-full-type=time --pgbackrest-repo-retention-diff=3

  # Print the objects a change would apply, changing nothing
  kubectl pgo update cluster hippo --memory-limit=2Gi --dry-run=client -o yaml`

// UpdateClusterOptions holds the flags and clients of `kubectl pgo update
// cluster`.
type UpdateClusterOptions struct {
	// settings holds the setting flags, as create cluster has them, with
	// which of them were given, and merges them into the stored Spec.
	settings *CreateClusterOptions

	Wait    bool
	Timeout time.Duration
	DryRun  string
	Output  string

	factory      kube.Factory
	exec         execFunc
	now          func() time.Time
	pollInterval time.Duration
	genericiooptions.IOStreams
}

// NewUpdateClusterOptions returns options with the defaults of the flags.
func NewUpdateClusterOptions(streams genericiooptions.IOStreams) *UpdateClusterOptions {
	return &UpdateClusterOptions{
		settings:     NewCreateClusterOptions(streams),
		Wait:         true,
		Timeout:      apply.DefaultWaitTimeout,
		DryRun:       apply.DryRunNone,
		now:          time.Now,
		pollInterval: 2 * time.Second,
		IOStreams:    streams,
	}
}

// NewCmdUpdate returns `kubectl pgo update`, the parent of commands that
// change existing things (update cluster).
func NewCmdUpdate(streams genericiooptions.IOStreams) *cobra.Command {
	return newGroup(streams, "update", "Change the settings of a PostgreSQL cluster")
}

// NewCmdUpdateCluster returns `kubectl pgo update cluster NAME`.
func NewCmdUpdateCluster(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdUpdateCluster(f, NewUpdateClusterOptions(streams))
}

func newCmdUpdateCluster(f kube.Factory, o *UpdateClusterOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cluster NAME",
		Short:   "Change the retention, image or resources of a cluster",
		Long:    updateClusterLong,
		Example: updateClusterExample,
		Args:    cobra.ArbitraryArgs, // checked in Complete, with a clearer message
		RunE:    runOptions(f, o),
	}
	cmd.SetOut(o.Out)
	cmd.SetErr(o.ErrOut)
	addSettingFlags(cmd, o.settings)
	fl := cmd.Flags()
	fl.BoolVar(&o.Wait, "wait", o.Wait, "Wait until the restarted pods are ready and read the new configuration, printing progress.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits.")
	fl.StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", "client" (read the cluster, render and print, write nothing) or "server" (the API server validates, nothing is stored).`)
	fl.StringVarP(&o.Output, "output", "o", "", "Print the objects that change, as applied, as yaml or json.")
	_ = cmd.RegisterFlagCompletionFunc("dry-run", fixedCompletions(apply.DryRunNone, apply.DryRunClient, apply.DryRunServer))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions("yaml", "json"))
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Complete takes the name, records which flags were given, and finds the
// namespace. Even with --dry-run=client a usable kubeconfig is needed: the
// stored settings are read.
func (o *UpdateClusterOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
	if o.exec == nil {
		o.exec = factoryExec(f)
	}
	name, err := clusterNameArg(cmd, args)
	if err != nil {
		return err
	}
	o.settings.Name = name
	o.settings.recordGiven(cmd)
	o.settings.namespace, err = resolveNamespace(f)
	return err
}

// Validate checks every flag. It sends no request.
func (o *UpdateClusterOptions) Validate(cmd *cobra.Command) error {
	if err := validateApplyFlags(cmd, o.DryRun, o.Output, o.Timeout); err != nil {
		return err
	}
	if o.DryRun != apply.DryRunNone {
		if cmd.Flags().Changed("wait") && o.Wait {
			return usageErrorf(cmd, "--wait cannot be used with --dry-run: nothing would change to wait for")
		}
		o.Wait = false
	}
	if !slices.ContainsFunc(settingFlagNames, func(f string) bool { return o.settings.given[f] }) {
		return usageErrorf(cmd, "nothing to update: give at least one setting, e.g. --%s=1 (see the flags in --help)", flagRetentionFull)
	}
	spec, err := o.settings.flagSpec(cmd)
	if err != nil {
		return err
	}
	o.settings.spec = spec
	return nil
}

// updatePermissions are what update needs: read every kind it renders and,
// unless nothing is written, apply them; for --wait, list pods and exec
// into them.
func updatePermissions(clientDryRun, wait bool) []apply.Permission {
	var perms []apply.Permission
	for _, gr := range apply.RenderedResources {
		perms = append(perms, apply.Permission{Verb: "get", Group: gr.Group, Resource: gr.Resource})
		if !clientDryRun {
			perms = append(perms, apply.Permission{Verb: "patch", Group: gr.Group, Resource: gr.Resource})
		}
	}
	if wait {
		perms = append(perms,
			apply.Permission{Verb: "list", Resource: "pods"},
			apply.Permission{Verb: "create", Resource: "pods", Subresource: "exec"})
	}
	return perms
}

// Run updates the cluster.
func (o *UpdateClusterOptions) Run(ctx context.Context) error {
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	name, ns := o.settings.Name, o.settings.namespace
	if err := apply.CheckNamespace(ctx, c, ns); err != nil {
		return err
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("update cluster %q", name), updatePermissions(o.DryRun == apply.DryRunClient, o.Wait)); err != nil {
		return err
	}

	settings, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("cluster %q not found in namespace %q (there is no ConfigMap %s): check the name and -n, or create it with kubectl pgo create cluster %s",
			name, ns, cluster.SettingsConfigMapName(name), name)
	case err != nil:
		return fmt.Errorf("cannot read the settings of cluster %q: %w", name, apply.APIError(c, err))
	}
	if err := cluster.CheckOwnership(name, "ConfigMap "+ns+"/"+settings.Name, settings.Labels); err != nil {
		return err
	}
	stored, err := cluster.SpecFromConfigMap(settings)
	if err != nil {
		return err
	}
	spec := o.settings.mergeSpec(stored)
	if err := cluster.CheckImmutable(stored, spec); err != nil {
		return fmt.Errorf("cluster %q cannot be updated: these settings cannot change; nothing was changed:\n  - %s",
			name, strings.ReplaceAll(err.Error(), "\n", "\n  - "))
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("the new settings of cluster %q are not valid; nothing was changed:\n  - %s", name, strings.ReplaceAll(err.Error(), "\n", "\n  - "))
	}
	if err := apply.CheckKeptBackups(ctx, c, ns, name); err != nil {
		return err
	}

	progress := o.Out
	if o.Output != "" {
		progress = o.ErrOut
	}
	changes := cluster.Changes(stored, spec)
	if len(changes) == 0 {
		fmt.Fprintf(progress, "cluster %s unchanged: its settings already are those given\n", name)
		return nil
	}

	material, err := o.storedMaterial(ctx, c, spec)
	if err != nil {
		return err
	}
	objects, err := changedObjects(stored, spec, material)
	if err != nil {
		return err
	}
	before, err := apply.CurrentObjects(ctx, c, name, objects)
	if err != nil {
		return err
	}

	suffix := map[string]string{apply.DryRunClient: " (dry run)", apply.DryRunServer: " (server dry run)"}[o.DryRun]
	fmt.Fprintf(progress, "cluster %s in namespace %s%s:\n", name, ns, suffix)
	for _, ch := range changes {
		fmt.Fprintf(progress, "  %s\n", ch)
	}
	restarts := restartedWorkloads(objects)
	for _, r := range restarts {
		fmt.Fprintf(progress, "  the %s restarts to read the new configuration\n", r.what)
	}

	applied := objects
	if o.DryRun == apply.DryRunClient {
		if o.Output == "" {
			for _, obj := range objects {
				fmt.Fprintf(o.Out, "%s configured%s\n", apply.ObjectRef(obj), suffix)
			}
		}
	} else {
		applied = nil
		for i, obj := range objects {
			after, err := kube.Apply(ctx, c.Dynamic, c.Mapper, obj, kube.DryRun(o.DryRun == apply.DryRunServer))
			if err != nil {
				return fmt.Errorf("%w\n(%d of %d changed objects of cluster %q were applied before this error; run the same command again once it is fixed)",
					apply.APIError(c, err), i, len(objects), name)
			}
			applied = append(applied, after)
			result := "configured"
			switch {
			case before[i] == nil:
				result = "created"
			case !apply.ObjectChanged(before[i], after, o.DryRun == apply.DryRunServer):
				result = "unchanged"
			}
			if o.Output == "" {
				fmt.Fprintf(o.Out, "%s %s%s\n", apply.ObjectRef(after), result, suffix)
			}
		}
	}
	if o.Output != "" {
		if err := apply.PrintObjects(o.Out, o.Output, applied); err != nil {
			return err
		}
	}
	if o.DryRun != apply.DryRunNone {
		fmt.Fprintf(progress, "cluster %s updated%s\n", name, suffix)
		return nil
	}
	if !o.Wait {
		fmt.Fprintf(progress, "cluster %s updated; not waiting for the restarts (kubectl pgo show cluster %s shows when the pods are ready)\n", name, name)
		return nil
	}
	start := time.Now()
	var steps []apply.WaitStep
	for _, r := range restarts {
		steps = append(steps, r.steps(c, o.exec, ns, name)...)
	}
	if err := apply.RunWaitSteps(ctx, progress, o.pollInterval, start.Add(o.Timeout), steps, fmt.Sprintf("The settings of cluster %q were applied", name)); err != nil {
		return err
	}
	fmt.Fprintf(progress, "cluster %s updated (%s): the next backup and expire use the new settings\n", name, time.Since(start).Round(time.Second))
	return nil
}

// storedMaterial reads the cluster's certificates and password. Unlike
// create, update never generates them: new ones would lock the pods out.
func (o *UpdateClusterOptions) storedMaterial(ctx context.Context, c *apply.Clients, spec cluster.Spec) (cluster.Material, error) {
	var secrets []*corev1.Secret
	for _, name := range []string{cluster.RepoConfigSecretName(spec.Name), cluster.PostgresSecretName(spec.Name)} {
		s, err := c.Client.CoreV1().Secrets(spec.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return cluster.Material{}, fmt.Errorf("cluster %q has no Secret %s/%s, without which its objects cannot be rendered; nothing was changed "+
				"(kubectl pgo create cluster %s makes what is missing)", spec.Name, spec.Namespace, name, spec.Name)
		case err != nil:
			return cluster.Material{}, fmt.Errorf("cannot read Secret %s/%s: %w", spec.Namespace, name, apply.APIError(c, err))
		}
		if err := cluster.CheckOwnership(spec.Name, "Secret "+spec.Namespace+"/"+name, s.Labels); err != nil {
			return cluster.Material{}, err
		}
		secrets = append(secrets, s)
	}
	return cluster.LoadOrGenerateMaterial(spec, secrets[0], secrets[1], o.now())
}

// changedObjects renders the cluster with the old and the new settings and
// returns the new objects that differ, in the order to apply them.
func changedObjects(old, new cluster.Spec, m cluster.Material) ([]*unstructured.Unstructured, error) {
	before, err := cluster.Render(old, m)
	if err != nil {
		return nil, fmt.Errorf("the stored settings cannot be rendered: %w", err)
	}
	after, err := cluster.Render(new, m)
	if err != nil {
		return nil, err
	}
	key := func(u *unstructured.Unstructured) string { return u.GetKind() + "/" + u.GetName() }
	previous := map[string]*unstructured.Unstructured{}
	for _, obj := range before {
		previous[key(obj)] = obj
	}
	var out []*unstructured.Unstructured
	for _, obj := range after {
		if prev, ok := previous[key(obj)]; !ok || !equality.Semantic.DeepEqual(prev.Object, obj.Object) {
			out = append(out, obj)
		}
	}
	return out, nil
}

// restart is a workload whose pod template changed, so its pod restarts.
type restart struct {
	what  string
	steps func(c *apply.Clients, exec execFunc, ns, name string) []apply.WaitStep
}

// restartedWorkloads are the workloads among objects, database first.
func restartedWorkloads(objects []*unstructured.Unstructured) []restart {
	var out []restart
	for _, obj := range objects {
		switch obj.GetKind() {
		case "StatefulSet":
			out = append(out, restart{what: "database pod", steps: databaseRestartSteps})
		case "Deployment":
			out = append(out, restart{what: "repository host", steps: repoHostRestartSteps})
		}
	}
	slices.SortStableFunc(out, func(a, b restart) int { return strings.Compare(a.what, b.what) })
	return out
}

func databaseRestartSteps(c *apply.Clients, _ execFunc, ns, name string) []apply.WaitStep {
	return []apply.WaitStep{apply.DatabaseStep(c, ns, name, "the database pod to restart")}
}

func repoHostRestartSteps(c *apply.Clients, exec execFunc, ns, name string) []apply.WaitStep {
	return []apply.WaitStep{
		apply.RepoHostStep(c, ns, name, "the repository host to restart"),
		{
			What:  "the repository host to read the new pgbackrest.conf",
			Check: func(ctx context.Context) (bool, string, error) { return repoHostConfigCurrent(ctx, c, exec, ns, name) },
			Hint:  apply.RepoHostHint(ns, name),
		},
	}
}

// repoHostConfigCurrent compares the pgbackrest.conf that the repository
// host's pod sees with the one in the ConfigMap. A new pod normally gets
// the current file, but the kubelet's copy of a ConfigMap may lag; once
// the pod has it, so does every later pod on that node (the backup Jobs
// run beside the repository host).
func repoHostConfigCurrent(ctx context.Context, c *apply.Clients, exec execFunc, ns, name string) (bool, string, error) {
	cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.PGBackRestConfigMapName(name), metav1.GetOptions{})
	if err != nil {
		if e := apply.WaitAPIError(err); e != nil {
			return false, "", e
		}
		return false, err.Error(), nil
	}
	want := cm.Data[cluster.FileRepoConf]
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.RepoSelector(name).String()})
	if err != nil {
		if e := apply.WaitAPIError(err); e != nil {
			return false, "", e
		}
		return false, err.Error(), nil
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || !kube.IsPodReady(p) {
			continue
		}
		got, stderr, err := exec(ctx, ns, p.Name, cluster.ContainerPGBackRest, []string{"cat", cluster.PGBackRestConfigFile})
		switch {
		case err != nil:
			return false, fmt.Sprintf("reading %s in pod %s: %v %s", cluster.PGBackRestConfigFile, p.Name, err, strings.TrimSpace(stderr)), nil
		case got != want:
			return false, fmt.Sprintf("pod %s still sees the old %s", p.Name, cluster.PGBackRestConfigFile), nil
		}
		return true, fmt.Sprintf("repository host pod %s reads the new %s", p.Name, cluster.PGBackRestConfigFile), nil
	}
	return false, "no ready repository host pod", nil
}
