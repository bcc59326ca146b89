package cmd

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

const createClusterLong = `Create a PostgreSQL 15 cluster with its own pgBackRest repository host.

The cluster is a StatefulSet of one PostgreSQL pod (with a pgBackRest TLS
server beside it) on the PVC NAME, the Service NAME, and the repository host:
the Deployment and Service NAME-backrest-shared-repo on the PVC NAME-pgbr-repo.
The database archives its WAL to the repository host over mutual TLS, with a
CA and certificates made for this cluster (Secret NAME-backrest-repo-config).
The superuser's password is in the Secret NAME-postgres-secret. The settings
are stored in the ConfigMap NAME-pgo-config, so later commands need no local
state. Every object is rendered from templates built into the plugin and
applied with server-side apply under the field manager "kubectl-pgo".

Running create again for an existing cluster applies the same objects: with
the same settings nothing changes ("cluster NAME unchanged"). Settings not
given keep their stored values. The image and the CPU and memory may change;
the storage type, the sizes and the storage classes may not, and such a
request is refused before anything is touched.

With --dry-run=client nothing is sent to the API server, not even reads: the
objects are rendered with new certificates and a new password, which a real
create would not use for an existing cluster. With --dry-run=server the API
server validates the objects without storing them. With -o yaml or -o json
the objects are printed (as applied), Secrets included.

With --restore-from, the new cluster's data directory is restored from the
backups of another cluster, running or deleted with --keep-backups, to the
latest point or to --pitr-target; the new cluster then archives into its own
repository. A cluster whose only repository is S3 is read from its bucket
by a temporary pod NEW-restore-source. Once that cluster is gone for good
(no ConfigMap OLD-pgo-config), give the new cluster an S3 repository in the
same bucket: OLD's backups are looked for there, under
backrestrepo/OLD-backrest-shared-repo, with the new cluster's keys.`

const createClusterExample = `  # A cluster with a local pgBackRest repository, waiting until it is ready
  kubectl pgo create cluster hippo --wait

  # Bigger volumes on a given storage class, and resources for PostgreSQL
  kubectl pgo create cluster hippo --storage-size=20Gi --storage-class=fast \
    --pgbackrest-pvc-size=50Gi --cpu=500m --memory=1Gi --memory-limit=2Gi

  # Restore an S3-only cluster that was deleted, from its bucket, to a point in time
  kubectl pgo create cluster hippo2 --restore-from=hippo --pitr-target='2026-11-24 12:00:00+00' \
    --pgbackrest-storage-type=s3 --pgbackrest-s3-bucket=backups --pgbackrest-s3-endpoint=s3.example:9000 \
    --pgbackrest-s3-credentials-secret=s3-keys --wait

  # Print the objects without creating anything (no cluster needed)
  kubectl pgo create cluster hippo --dry-run=client -o yaml`

// CreateClusterOptions holds the flags and clients of `kubectl pgo create
// cluster`.
type CreateClusterOptions struct {
	Name string

	StorageType      string
	StorageSize      string
	StorageClass     string
	RepoPVCSize      string
	RepoStorageClass string
	Image            string
	CPU              string
	Memory           string
	CPULimit         string
	MemoryLimit      string
	Retention        RetentionFlags
	// S3 holds the S3 repository's and encryption's flags.
	S3 s3Flags

	Wait    bool
	Timeout time.Duration
	DryRun  string
	Output  string

	// RestoreFrom bootstraps the new cluster from another cluster's
	// backups (--restore-from, restore_from.go).
	RestoreFrom RestoreFromOptions

	// extraLabels are added to every object rendered: restore-drill
	// marks its temporary clusters with them.
	extraLabels map[string]string

	// given holds the flags set on the command line: for an existing
	// cluster the others keep their stored values.
	given     map[string]bool
	namespace string
	// spec is the Spec from the flags alone, defaulted and validated.
	spec cluster.Spec

	factory      kube.Factory
	exec         execFunc
	now          func() time.Time
	pollInterval time.Duration
	genericiooptions.IOStreams
}

// NewCreateClusterOptions returns options with the defaults of the flags.
func NewCreateClusterOptions(streams genericiooptions.IOStreams) *CreateClusterOptions {
	return &CreateClusterOptions{
		StorageType:  string(cluster.StorageLocal),
		Timeout:      apply.DefaultWaitTimeout,
		DryRun:       apply.DryRunNone,
		given:        map[string]bool{},
		now:          time.Now,
		pollInterval: 2 * time.Second,
		IOStreams:    streams,
	}
}

// NewCmdCreateCluster returns `kubectl pgo create cluster NAME`.
func NewCmdCreateCluster(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCreateCluster(f, NewCreateClusterOptions(streams))
}

func newCmdCreateCluster(f kube.Factory, o *CreateClusterOptions) *cobra.Command {
	streams := o.IOStreams
	cmd := &cobra.Command{
		Use:     "cluster NAME",
		Short:   "Create a PostgreSQL cluster with a pgBackRest repository host",
		Long:    createClusterLong,
		Example: createClusterExample,
		Args:    cobra.ArbitraryArgs, // checked in Complete, with a clearer message
		RunE:    runOptions(f, o),
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	addSettingFlags(cmd, o)
	fl := cmd.Flags()
	fl.BoolVar(&o.Wait, "wait", false, "Wait until the database and the repository host are ready and the stanza exists, printing progress.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits.")
	fl.StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", "client" (render and print, contact no server) or "server" (the API server validates, nothing is stored).`)
	fl.StringVarP(&o.Output, "output", "o", "", "Print the objects as applied, as yaml or json, instead of one line per object.")
	o.S3.AddFlags(fl)
	o.S3.registerCompletions(cmd)
	o.RestoreFrom.AddFlags(fl)
	_ = cmd.RegisterFlagCompletionFunc("dry-run", fixedCompletions(apply.DryRunNone, apply.DryRunClient, apply.DryRunServer))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions("yaml", "json"))
	cmd.ValidArgsFunction = cobra.NoFileCompletions
	return cmd
}

// recordGiven notes which setting flags were given on the command line:
// for an existing cluster the others keep their stored values.
func (o *CreateClusterOptions) recordGiven(cmd *cobra.Command) {
	for _, flag := range settingFlagNames {
		o.given[flag] = cmd.Flags().Changed(flag)
	}
	o.S3.complete(cmd)
	o.given[flagRepoCipher] = cmd.Flags().Changed(flagRepoCipher)
}

// Complete takes the name, records which flags were given, and finds the
// namespace. It reads the kubeconfig but sends no request; with
// --dry-run=client a missing or broken kubeconfig is not an error.
func (o *CreateClusterOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	o.factory = f
	if o.exec == nil {
		o.exec = factoryExec(f)
	}
	name, err := clusterNameArg(cmd, args)
	if err != nil {
		return err
	}
	o.Name = name
	o.recordGiven(cmd)

	if o.DryRun == apply.DryRunClient {
		// No server: -n, else the kubeconfig's namespace if there is a
		// usable kubeconfig, else "default".
		if nsFlag := cmd.Flag("namespace"); nsFlag != nil && nsFlag.Changed {
			o.namespace = nsFlag.Value.String()
		} else if ns, _, err := f.Namespace(); err == nil && ns != "" {
			o.namespace = ns
		} else {
			o.namespace = metav1.NamespaceDefault
		}
		return nil
	}
	o.namespace, err = resolveNamespace(f)
	return err
}

// Validate checks every flag, and builds the Spec they describe. It sends
// no request.
func (o *CreateClusterOptions) Validate(cmd *cobra.Command) error {
	if err := validateApplyFlags(cmd, o.DryRun, o.Output, o.Timeout); err != nil {
		return err
	}
	if o.Wait && o.DryRun != apply.DryRunNone {
		return usageErrorf(cmd, "--wait cannot be used with --dry-run: nothing would be created to wait for")
	}
	spec, err := o.flagSpec(cmd)
	if err != nil {
		return err
	}
	o.spec = spec
	if err := o.RestoreFrom.Validate(o.Name, o.namespace); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if o.RestoreFrom.Enabled() && o.DryRun == apply.DryRunServer {
		return usageErrorf(cmd, "--restore-from cannot be used with --dry-run=server: the restore runs a Job; use --dry-run=client to see the objects")
	}
	return nil
}

// flagSpec is the Spec of the setting flags alone, defaulted and
// validated: the flags are checked before the first request.
func (o *CreateClusterOptions) flagSpec(cmd *cobra.Command) (cluster.Spec, error) {
	spec := cluster.Spec{
		Name:             o.Name,
		Namespace:        o.namespace,
		Image:            strings.TrimSpace(o.Image),
		StorageSize:      strings.TrimSpace(o.StorageSize),
		StorageClass:     strings.TrimSpace(o.StorageClass),
		RepoPVCSize:      strings.TrimSpace(o.RepoPVCSize),
		RepoStorageClass: strings.TrimSpace(o.RepoStorageClass),
		StorageType:      cluster.ParseStorageType(o.StorageType),
		Resources: cluster.Resources{
			CPURequest:    strings.TrimSpace(o.CPU),
			CPULimit:      strings.TrimSpace(o.CPULimit),
			MemoryRequest: strings.TrimSpace(o.Memory),
			MemoryLimit:   strings.TrimSpace(o.MemoryLimit),
		},
	}
	if err := o.Retention.validate(cmd, o.given); err != nil {
		return cluster.Spec{}, err
	}
	o.Retention.setSpec(&spec)
	if o.given[flagStorageType] && len(spec.StorageType) == 0 {
		return cluster.Spec{}, usageErrorf(cmd, "--%s is empty: use local", flagStorageType)
	}
	o.S3.apply(&spec)
	spec.Default()
	if err := spec.Validate(); err != nil {
		return cluster.Spec{}, usageErrorf(cmd, "%s", indentErrors(err))
	}
	if err := o.S3.validate(spec); err != nil {
		return cluster.Spec{}, usageErrorf(cmd, "%v", err)
	}
	return spec, nil
}

// indentErrors puts each error of a joined error on its own line.
func indentErrors(err error) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	return "invalid settings:\n  - " + strings.Join(lines, "\n  - ")
}

// mergeSpec is the Spec for an existing cluster: the stored settings,
// with those given on the command line taking their place.
func (o *CreateClusterOptions) mergeSpec(stored cluster.Spec) cluster.Spec {
	s, f := stored, o.spec
	set := func(flag string, dst *string, src string) {
		if o.given[flag] {
			*dst = src
		}
	}
	if o.given[flagStorageType] {
		s.StorageType = f.StorageType
	}
	if o.S3.given {
		s.S3 = f.S3
	}
	if o.given[flagRepoCipher] {
		s.Cipher = f.Cipher
	}
	set(flagStorageSize, &s.StorageSize, f.StorageSize)
	set(flagStorageClass, &s.StorageClass, f.StorageClass)
	set(flagRepoPVCSize, &s.RepoPVCSize, f.RepoPVCSize)
	set(flagRepoStorageClass, &s.RepoStorageClass, f.RepoStorageClass)
	set(flagImage, &s.Image, f.Image)
	set(flagCPU, &s.Resources.CPURequest, f.Resources.CPURequest)
	set(flagMemory, &s.Resources.MemoryRequest, f.Resources.MemoryRequest)
	set(flagCPULimit, &s.Resources.CPULimit, f.Resources.CPULimit)
	set(flagMemoryLimit, &s.Resources.MemoryLimit, f.Resources.MemoryLimit)
	mergeRetention(&s, f, o.given)
	s.Default()
	return s
}

// checkStorageClasses refuses a storage class that does not exist: its
// PVC would stay Pending, and the cluster never start. A user who may not
// read storage classes is let through, as by apply.CheckNamespace.
func checkStorageClasses(ctx context.Context, c *apply.Clients, spec cluster.Spec) error {
	for _, sc := range []struct{ flag, name string }{
		{"--storage-class", spec.StorageClass}, {"--pgbackrest-storage-class", spec.RepoStorageClass},
	} {
		if sc.name == "" {
			continue
		}
		_, err := c.Client.StorageV1().StorageClasses().Get(ctx, sc.name, metav1.GetOptions{})
		switch {
		case err == nil, apierrors.IsForbidden(err):
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%s: storage class %q does not exist, so the PVC would never be bound: choose one of kubectl get storageclass, or leave it out for the default class; nothing was created", sc.flag, sc.name)
		default:
			return fmt.Errorf("cannot read storage class %q: %w", sc.name, apply.APIError(c, err))
		}
	}
	return nil
}

// createPermissions are what create needs: read and apply every kind it
// renders, and for --wait read pods and exec into them.
func createPermissions(wait bool) []apply.Permission {
	var perms []apply.Permission
	for _, gr := range apply.RenderedResources {
		perms = append(perms,
			apply.Permission{Verb: "get", Group: gr.Group, Resource: gr.Resource},
			apply.Permission{Verb: "patch", Group: gr.Group, Resource: gr.Resource})
	}
	if wait {
		perms = append(perms,
			apply.Permission{Verb: "list", Resource: "pods"},
			apply.Permission{Verb: "create", Resource: "pods", Subresource: "exec"})
	}
	return perms
}

// Run creates or updates the cluster.
func (o *CreateClusterOptions) Run(ctx context.Context) error {
	if o.DryRun == apply.DryRunClient {
		return o.runClientDryRun()
	}
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	ns := o.namespace
	if err := apply.CheckNamespace(ctx, c, ns); err != nil {
		return err
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("create cluster %q", o.Name), createPermissions(o.Wait)); err != nil {
		return err
	}

	// The stored settings, if the cluster exists.
	spec := o.spec
	existing := false
	settings, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(o.Name), metav1.GetOptions{})
	switch {
	case err == nil:
		if err := cluster.CheckOwnership(o.Name, "ConfigMap "+ns+"/"+settings.Name, settings.Labels); err != nil {
			return err
		}
		stored, err := cluster.SpecFromConfigMap(settings)
		if err != nil {
			return err
		}
		spec = o.mergeSpec(stored)
		if err := spec.Validate(); err != nil {
			return fmt.Errorf("the settings of cluster %q are not valid (ConfigMap %s/%s): %w", o.Name, ns, settings.Name, err)
		}
		if err := cluster.CheckImmutable(stored, spec); err != nil {
			return fmt.Errorf("cluster %q already exists in namespace %q with settings that cannot change; nothing was changed:\n  - %s",
				o.Name, ns, strings.ReplaceAll(err.Error(), "\n", "\n  - "))
		}
		if err := apply.CheckKeptBackups(ctx, c, ns, o.Name); err != nil {
			return err
		}
		existing = true
	case apierrors.IsNotFound(err):
	default:
		return fmt.Errorf("cannot read the settings of cluster %q: %w", o.Name, apply.APIError(c, err))
	}
	if !existing {
		if err := checkStorageClasses(ctx, c, spec); err != nil {
			return err
		}
	}

	// The secret material: reused when the Secrets exist.
	secrets := map[string]*corev1.Secret{}
	for _, name := range []string{cluster.RepoConfigSecretName(o.Name), cluster.PostgresSecretName(o.Name)} {
		s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			if err := cluster.CheckOwnership(o.Name, "Secret "+ns+"/"+name, s.Labels); err != nil {
				return err
			}
			secrets[name] = s
		case apierrors.IsNotFound(err):
		default:
			return fmt.Errorf("cannot read Secret %s/%s: %w", ns, name, apply.APIError(c, err))
		}
	}
	material, err := cluster.LoadOrGenerateMaterial(spec, secrets[cluster.RepoConfigSecretName(o.Name)], secrets[cluster.PostgresSecretName(o.Name)], o.now())
	if err != nil {
		return err
	}
	o.S3.setKeys(&material)
	if err := checkS3Secrets(ctx, c, spec, material); err != nil {
		return err
	}
	objects, err := cluster.Render(spec, material)
	if err != nil {
		return err
	}
	for _, obj := range objects {
		if len(o.extraLabels) > 0 {
			l := obj.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			maps.Copy(l, o.extraLabels)
			obj.SetLabels(l)
		}
	}

	// Every object that exists must be this cluster's, checked before
	// the first change.
	before, err := apply.CurrentObjects(ctx, c, o.Name, objects)
	if err != nil {
		return err
	}

	// --restore-from checks the source and its backups, and may start a
	// temporary repository host for it: after every check of ours.
	if o.RestoreFrom.Enabled() {
		if err := o.RestoreFrom.Prepare(ctx, o.factory, existing, spec, material, o.IOStreams); err != nil {
			return err
		}
		if err := o.RestoreFrom.AdjustObjects(objects); err != nil {
			o.RestoreFrom.Cleanup(context.WithoutCancel(ctx))
			return err
		}
	}

	dryRun := o.DryRun == apply.DryRunServer
	suffix := ""
	if dryRun {
		suffix = " (server dry run)"
	}
	var applied []*unstructured.Unstructured
	created, changed := 0, 0
	for i, obj := range objects {
		after, err := kube.Apply(ctx, c.Dynamic, c.Mapper, obj, kube.DryRun(dryRun))
		if err != nil {
			if o.RestoreFrom.Enabled() {
				o.RestoreFrom.Cleanup(context.WithoutCancel(ctx))
			}
			return fmt.Errorf("%w\n(%d of %d objects of cluster %q were applied before this error; run the same command again once it is fixed)",
				apply.APIError(c, err), i, len(objects), o.Name)
		}
		applied = append(applied, after)
		result := "unchanged"
		switch {
		case before[i] == nil:
			result = "created"
			created++
		case apply.ObjectChanged(before[i], after, dryRun):
			result = "configured"
			changed++
		}
		if o.Output == "" {
			fmt.Fprintf(o.Out, "%s %s%s\n", apply.ObjectRef(after), result, suffix)
		}
	}
	if o.Output != "" {
		if err := apply.PrintObjects(o.Out, o.Output, applied); err != nil {
			return err
		}
	}
	summary := "unchanged"
	switch {
	case !existing && created == len(objects):
		summary = "created"
	case created > 0 || changed > 0:
		summary = "configured"
	}
	progress := o.Out
	if o.Output != "" {
		progress = o.ErrOut
	}
	fmt.Fprintf(progress, "cluster %s %s%s\n", o.Name, summary, suffix)

	if o.RestoreFrom.Enabled() {
		if err := o.RestoreFrom.Restore(ctx); err != nil {
			return err
		}
	}
	if !o.Wait {
		return nil
	}
	return o.waitReady(ctx, c, spec, progress)
}

// runClientDryRun renders and prints without contacting any server. It
// cannot read the cluster's Secrets, so the certificates and the password
// are new ones: a real create reuses those of an existing cluster.
func (o *CreateClusterOptions) runClientDryRun() error {
	material, err := cluster.LoadOrGenerateMaterial(o.spec, nil, nil, o.now())
	if err != nil {
		return err
	}
	o.S3.setKeys(&material)
	objects, err := cluster.Render(o.spec, material)
	if err != nil {
		return err
	}
	if o.RestoreFrom.Enabled() {
		if err := o.RestoreFrom.AdjustObjects(objects); err != nil {
			return err
		}
	}
	if o.Output != "" {
		return apply.PrintObjects(o.Out, o.Output, objects)
	}
	for _, obj := range objects {
		fmt.Fprintf(o.Out, "%s created (dry run)\n", apply.ObjectRef(obj))
	}
	fmt.Fprintf(o.Out, "cluster %s created (dry run)\n", o.Name)
	return nil
}

// waitReady waits, step by step, until the cluster is ready, printing a
// line when a step's status changes, as kubectl rollout status does.
func (o *CreateClusterOptions) waitReady(ctx context.Context, c *apply.Clients, spec cluster.Spec, w io.Writer) error {
	start := time.Now()
	deadline := start.Add(o.Timeout)
	ns, name := spec.Namespace, spec.Name
	steps := []apply.WaitStep{
		{
			What:  "the PersistentVolumeClaims to be bound",
			Check: func(ctx context.Context) (bool, string, error) { return pvcsBound(ctx, c, ns, clusterPVCs(spec)) },
			Hint:  fmt.Sprintf("kubectl -n %s describe pvc %s", ns, strings.Join(clusterPVCs(spec), " ")),
		},
		apply.DatabaseStep(c, ns, name, "the database pod to be ready"),
		apply.RepoHostStep(c, ns, name, "the repository host to be ready"),
		{
			What: "the stanza to be created",
			Check: func(ctx context.Context) (bool, string, error) {
				info := stanzaInfo(ctx, c, o.exec, ns, name)
				if err := s3Refused(spec, info.Error+" "+info.Message); err != nil {
					return false, "", err
				}
				if info.Error != "" {
					return false, info.Error, nil
				}
				if !info.usable() {
					return false, fmt.Sprintf("stanza %s: %s", info.Name, info.Message), nil
				}
				// The stanza must be this database's: a repository kept
				// from an earlier one has a stanza too.
				pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, cluster.PodName(name), metav1.GetOptions{})
				if err != nil {
					if e := apply.WaitAPIError(err); e != nil {
						return false, "", e
					}
					return false, err.Error(), nil
				}
				a, err := queryArchiver(ctx, o.exec, pod)
				if err != nil {
					return false, "", err
				}
				if a.Error != "" {
					return false, "reading the database's system identifier: " + a.Error, nil
				}
				if err := checkSystemID(info, a.systemID); err != nil {
					return false, "", err
				}
				return true, fmt.Sprintf("stanza %s created (%s)", info.Name, info.Message), nil
			},
			Hint: stanzaHint(spec),
		},
	}
	if !spec.HasLocalRepo() {
		// No repository host: the database pod creates the stanza.
		steps = slices.Delete(steps, 2, 3)
	}
	if err := apply.RunWaitSteps(ctx, w, o.pollInterval, deadline, steps, fmt.Sprintf("The cluster %q was created", name)); err != nil {
		return err
	}
	fmt.Fprintf(w, "cluster %s is ready (%s)\n", name, time.Since(start).Round(time.Second))
	return nil
}

// clusterPVCs are the PVCs a cluster's pods mount.
func clusterPVCs(spec cluster.Spec) []string {
	if !spec.HasLocalRepo() {
		return []string{cluster.DataPVCName(spec.Name)}
	}
	return []string{cluster.DataPVCName(spec.Name), cluster.RepoPVCName(spec.Name)}
}

// stanzaHint says where the stanza-create log is.
func stanzaHint(spec cluster.Spec) string {
	if !spec.HasLocalRepo() {
		return fmt.Sprintf("kubectl -n %s logs %s -c %s", spec.Namespace, cluster.PodName(spec.Name), cluster.ContainerPGBackRest)
	}
	return fmt.Sprintf("kubectl -n %s logs deployment/%s", spec.Namespace, cluster.RepoHostName(spec.Name))
}

func pvcsBound(ctx context.Context, c *apply.Clients, ns string, pvcs []string) (bool, string, error) {
	var states, done []string
	all := true
	for _, pvc := range pvcs {
		p, err := c.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc, metav1.GetOptions{})
		if err != nil {
			if e := apply.WaitAPIError(err); e != nil {
				return false, "", e
			}
			all = false
			states = append(states, fmt.Sprintf("%s: %v", pvc, err))
			continue
		}
		if p.Status.Phase != corev1.ClaimBound {
			all = false
		}
		states = append(states, fmt.Sprintf("%s %s", pvc, firstNonEmpty(string(p.Status.Phase), "unknown")))
		done = append(done, "persistentvolumeclaim/"+pvc)
	}
	if all {
		return true, strings.Join(done, " and ") + " bound", nil
	}
	return false, strings.Join(states, ", "), nil
}
