package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
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

// Values of --dry-run.
const (
	dryRunNone   = "none"
	dryRunClient = "client"
	dryRunServer = "server"
)

// Flag names of create cluster, also the keys of CreateClusterOptions.given.
const (
	flagStorageType      = "pgbackrest-storage-type"
	flagStorageSize      = "storage-size"
	flagStorageClass     = "storage-class"
	flagRepoPVCSize      = "pgbackrest-pvc-size"
	flagRepoStorageClass = "pgbackrest-storage-class"
	flagImage            = "image"
	flagCPU              = "cpu"
	flagMemory           = "memory"
	flagCPULimit         = "cpu-limit"
	flagMemoryLimit      = "memory-limit"
)

// DefaultWaitTimeout is how long --wait waits by default.
const DefaultWaitTimeout = 5 * time.Minute

// execFunc runs a command in a container and returns its output; it is
// kube.ExecCapture, replaced in unit tests.
type execFunc func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)

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
		Timeout:      DefaultWaitTimeout,
		DryRun:       dryRunNone,
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
	_ = cmd.RegisterFlagCompletionFunc("dry-run", fixedCompletions(dryRunNone, dryRunClient, dryRunServer))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions("yaml", "json"))
	cmd.ValidArgsFunction = cobra.NoFileCompletions
	return cmd
}

// settingFlagNames are the flags of the cluster's settings, on create
// cluster and update cluster.
var settingFlagNames = append([]string{flagStorageType, flagStorageSize, flagStorageClass, flagRepoPVCSize, flagRepoStorageClass,
	flagImage, flagCPU, flagMemory, flagCPULimit, flagMemoryLimit}, retentionFlagNames...)

// addSettingFlags registers the flags of the cluster's settings (the Spec).
func addSettingFlags(cmd *cobra.Command, o *CreateClusterOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.StorageType, flagStorageType, o.StorageType, "pgBackRest repositories: local (a PVC on the repository host; posix is the same), s3 (a bucket only, no repository host), or local,s3 (repo1 local, repo2 in S3; WAL goes to both). Cannot change later.")
	fl.StringVar(&o.StorageSize, flagStorageSize, cluster.DefaultStorageSize, "Size of the PVC of the data directory. Cannot change later.")
	fl.StringVar(&o.StorageClass, flagStorageClass, "", "StorageClass of the data PVC; the cluster's default class if empty. Cannot change later.")
	fl.StringVar(&o.RepoPVCSize, flagRepoPVCSize, cluster.DefaultRepoPVCSize, "Size of the PVC of the pgBackRest repository. Cannot change later.")
	fl.StringVar(&o.RepoStorageClass, flagRepoStorageClass, "", "StorageClass of the repository PVC; the cluster's default class if empty. Cannot change later.")
	fl.StringVar(&o.Image, flagImage, cluster.DefaultImage, "Image with PostgreSQL 15 and pgBackRest, for every container.")
	fl.StringVar(&o.CPU, flagCPU, "", "CPU request of the PostgreSQL container, e.g. 500m.")
	fl.StringVar(&o.Memory, flagMemory, "", "Memory request of the PostgreSQL container, e.g. 1Gi.")
	fl.StringVar(&o.CPULimit, flagCPULimit, "", "CPU limit of the PostgreSQL container; backups then use one pgBackRest process per CPU of it (process-max, 2 without a limit).")
	fl.StringVar(&o.MemoryLimit, flagMemoryLimit, "", "Memory limit of the PostgreSQL container.")
	addRetentionFlags(cmd, &o.Retention)
	_ = cmd.RegisterFlagCompletionFunc(flagStorageType, fixedCompletions("local", "posix", "s3", "local,s3"))
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

func fixedCompletions(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
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

	if o.DryRun == dryRunClient {
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

// clusterNameArg is the one NAME argument of a cluster command.
func clusterNameArg(cmd *cobra.Command, args []string) (string, error) {
	switch len(args) {
	case 0:
		return "", usageErrorf(cmd, "a cluster name is required: %s NAME", cmd.CommandPath())
	case 1:
		return args[0], nil
	default:
		return "", usageErrorf(cmd, "%s takes one cluster name, got %d arguments: %s", cmd.CommandPath(), len(args), strings.Join(args, " "))
	}
}

// clusterAndNamespace is the one NAME argument and the namespace, for the
// Complete of commands on one cluster.
func clusterAndNamespace(f kube.Factory, cmd *cobra.Command, args []string) (name, namespace string, err error) {
	if name, err = clusterNameArg(cmd, args); err != nil {
		return "", "", err
	}
	namespace, err = resolveNamespace(f)
	return name, namespace, err
}

// resolveNamespace is -n or the kubeconfig's namespace; an unusable
// kubeconfig (missing file, unknown context) is reported here, before any
// request.
func resolveNamespace(f kube.Factory) (string, error) {
	ns, _, err := f.Namespace()
	if err != nil {
		return "", kubeconfigError(err)
	}
	if _, err := f.RESTConfig(); err != nil {
		return "", kubeconfigError(err)
	}
	return ns, nil
}

func kubeconfigError(err error) error {
	return fmt.Errorf("cannot use the kubeconfig: %w (check --kubeconfig, KUBECONFIG and --context)", err)
}

// Validate checks every flag, and builds the Spec they describe. It sends
// no request.
func (o *CreateClusterOptions) Validate(cmd *cobra.Command) error {
	if err := validateApplyFlags(cmd, o.DryRun, o.Output, o.Timeout); err != nil {
		return err
	}
	if o.Wait && o.DryRun != dryRunNone {
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
	if o.RestoreFrom.Enabled() && o.DryRun == dryRunServer {
		return usageErrorf(cmd, "--restore-from cannot be used with --dry-run=server: the restore runs a Job; use --dry-run=client to see the objects")
	}
	return nil
}

// validateApplyFlags checks --dry-run, -o and --timeout of a command that
// applies the cluster's objects.
func validateApplyFlags(cmd *cobra.Command, dryRun, output string, timeout time.Duration) error {
	if !slices.Contains([]string{dryRunNone, dryRunClient, dryRunServer}, dryRun) {
		return usageErrorf(cmd, `invalid --dry-run value %q: use "none", "client" or "server"`, dryRun)
	}
	if output != "" && output != string(printers.FormatYAML) && output != string(printers.FormatJSON) {
		return usageErrorf(cmd, "invalid output format %q: allowed formats are yaml, json", output)
	}
	if timeout <= 0 {
		return usageErrorf(cmd, "invalid --timeout %s: it must be more than zero", timeout)
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

// apiClients are what a command needs to talk to the API server.
type apiClients struct {
	config *rest.Config
	client kubernetes.Interface
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func newAPIClients(f kube.Factory) (*apiClients, error) {
	c, err := newTypedClients(f)
	if err != nil {
		return nil, err
	}
	if c.dyn, err = f.DynamicClient(); err != nil {
		return nil, kubeconfigError(err)
	}
	if c.mapper, err = f.RESTMapper(); err != nil {
		return nil, kubeconfigError(err)
	}
	return c, nil
}

// newTypedClients are the config and the typed client only, for commands
// that read: no RESTMapper, whose discovery would cost requests.
func newTypedClients(f kube.Factory) (*apiClients, error) {
	var c apiClients
	var err error
	if c.config, err = f.RESTConfig(); err != nil {
		return nil, kubeconfigError(err)
	}
	if c.client, err = f.KubernetesClient(); err != nil {
		return nil, kubeconfigError(err)
	}
	return &c, nil
}

func factoryExec(f kube.Factory) execFunc {
	return func(ctx context.Context, namespace, pod, container string, command []string) (string, string, error) {
		config, err := f.RESTConfig()
		if err != nil {
			return "", "", err
		}
		client, err := f.KubernetesClient()
		if err != nil {
			return "", "", err
		}
		return kube.ExecCapture(ctx, config, client, namespace, pod, container, command)
	}
}

// checkNamespace fails clearly when the namespace does not exist. A user
// who may not read namespaces is let through: the requests that follow
// say what is wrong, if anything.
func checkNamespace(ctx context.Context, c *apiClients, ns string) error {
	_, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case err == nil, apierrors.IsForbidden(err):
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("namespace %q does not exist: create it (kubectl create namespace %s) or choose another with -n", ns, ns)
	default:
		return apiError(c, err)
	}
}

// checkStorageClasses refuses a storage class that does not exist: its
// PVC would stay Pending, and the cluster never start. A user who may not
// read storage classes is let through, as by checkNamespace.
func checkStorageClasses(ctx context.Context, c *apiClients, spec cluster.Spec) error {
	for _, sc := range []struct{ flag, name string }{
		{"--storage-class", spec.StorageClass}, {"--pgbackrest-storage-class", spec.RepoStorageClass},
	} {
		if sc.name == "" {
			continue
		}
		_, err := c.client.StorageV1().StorageClasses().Get(ctx, sc.name, metav1.GetOptions{})
		switch {
		case err == nil, apierrors.IsForbidden(err):
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%s: storage class %q does not exist, so the PVC would never be bound: choose one of kubectl get storageclass, or leave it out for the default class; nothing was created", sc.flag, sc.name)
		default:
			return fmt.Errorf("cannot read storage class %q: %w", sc.name, apiError(c, err))
		}
	}
	return nil
}

// apiError says whether the API server was reached at all: a status error
// is its answer, anything else a failure to reach it.
func apiError(c *apiClients, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	hint := ""
	if strings.TrimSuffix(c.config.Host, "/") == "http://localhost:8080" {
		// client-go's default when no kubeconfig was found at all.
		hint = " (no kubeconfig was found: set --kubeconfig or KUBECONFIG, or create ~/.kube/config)"
	}
	return fmt.Errorf("cannot reach the Kubernetes API server at %s%s: %w", c.config.Host, hint, err)
}

// permission is one thing a command needs to be allowed to do.
type permission struct {
	verb, group, resource, subresource string
}

func (p permission) String() string {
	r := p.resource
	if p.group != "" {
		r += "." + p.group
	}
	if p.subresource != "" {
		r += "/" + p.subresource
	}
	return p.verb + " " + r
}

// checkPermissions asks the API server (SelfSubjectAccessReview) whether
// the user may do all of perms in the namespace, and lists what is
// missing. It is a courtesy: it turns a create that would fail halfway
// into one that fails before the first change. When the review itself
// cannot be made, the check is skipped and the requests speak for
// themselves.
func checkPermissions(ctx context.Context, c *apiClients, ns, doing string, perms []permission) error {
	var mu sync.Mutex
	var denied []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, p := range perms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: p.verb, Group: p.group, Resource: p.resource, Subresource: p.subresource,
				},
			}}
			res, err := c.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil || res.Status.Allowed || res.Status.EvaluationError != "" {
				return
			}
			mu.Lock()
			denied = append(denied, p.String())
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(denied) == 0 {
		return nil
	}
	slices.Sort(denied)
	return fmt.Errorf("forbidden: you may not %s in namespace %q; missing permissions: %s (check with kubectl auth can-i --list -n %s, and ask your cluster administrator for a Role that allows them)",
		doing, ns, strings.Join(denied, ", "), ns)
}

// objectRef names an object the way kubectl's messages do:
// "statefulset.apps/hippo".
func objectRef(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	return kindRef(gvk.GroupKind()) + "/" + obj.GetName()
}

func kindRef(gk schema.GroupKind) string {
	s := strings.ToLower(gk.Kind)
	if gk.Group != "" {
		s += "." + gk.Group
	}
	return s
}

// describeObject names an object for an error: "Service pg/hippo".
func describeObject(obj *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s/%s", obj.GetKind(), obj.GetNamespace(), obj.GetName())
}

// renderedResources are the kinds of object cluster.Render makes (a
// unit test keeps the list in step).
var renderedResources = []schema.GroupResource{
	{Resource: "secrets"},
	{Resource: "configmaps"},
	{Resource: "persistentvolumeclaims"},
	{Resource: "services"},
	{Group: "apps", Resource: "statefulsets"},
	{Group: "apps", Resource: "deployments"},
}

// createPermissions are what create needs: read and apply every kind it
// renders, and for --wait read pods and exec into them.
func createPermissions(wait bool) []permission {
	var perms []permission
	for _, gr := range renderedResources {
		perms = append(perms,
			permission{verb: "get", group: gr.Group, resource: gr.Resource},
			permission{verb: "patch", group: gr.Group, resource: gr.Resource})
	}
	if wait {
		perms = append(perms,
			permission{verb: "list", resource: "pods"},
			permission{verb: "create", resource: "pods", subresource: "exec"})
	}
	return perms
}

// Run creates or updates the cluster.
func (o *CreateClusterOptions) Run(ctx context.Context) error {
	if o.DryRun == dryRunClient {
		return o.runClientDryRun()
	}
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	ns := o.namespace
	if err := checkNamespace(ctx, c, ns); err != nil {
		return err
	}
	if err := checkPermissions(ctx, c, ns, fmt.Sprintf("create cluster %q", o.Name), createPermissions(o.Wait)); err != nil {
		return err
	}

	// The stored settings, if the cluster exists.
	spec := o.spec
	existing := false
	settings, err := c.client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(o.Name), metav1.GetOptions{})
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
		if err := checkKeptBackups(ctx, c, ns, o.Name); err != nil {
			return err
		}
		existing = true
	case apierrors.IsNotFound(err):
	default:
		return fmt.Errorf("cannot read the settings of cluster %q: %w", o.Name, apiError(c, err))
	}
	if !existing {
		if err := checkStorageClasses(ctx, c, spec); err != nil {
			return err
		}
	}

	// The secret material: reused when the Secrets exist.
	secrets := map[string]*corev1.Secret{}
	for _, name := range []string{cluster.RepoConfigSecretName(o.Name), cluster.PostgresSecretName(o.Name)} {
		s, err := c.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			if err := cluster.CheckOwnership(o.Name, "Secret "+ns+"/"+name, s.Labels); err != nil {
				return err
			}
			secrets[name] = s
		case apierrors.IsNotFound(err):
		default:
			return fmt.Errorf("cannot read Secret %s/%s: %w", ns, name, apiError(c, err))
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
	before, err := currentObjects(ctx, c, o.Name, objects)
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

	dryRun := o.DryRun == dryRunServer
	suffix := ""
	if dryRun {
		suffix = " (server dry run)"
	}
	var applied []*unstructured.Unstructured
	created, changed := 0, 0
	for i, obj := range objects {
		after, err := kube.Apply(ctx, c.dyn, c.mapper, obj, kube.DryRun(dryRun))
		if err != nil {
			if o.RestoreFrom.Enabled() {
				o.RestoreFrom.Cleanup(context.WithoutCancel(ctx))
			}
			return fmt.Errorf("%w\n(%d of %d objects of cluster %q were applied before this error; run the same command again once it is fixed)",
				apiError(c, err), i, len(objects), o.Name)
		}
		applied = append(applied, after)
		result := "unchanged"
		switch {
		case before[i] == nil:
			result = "created"
			created++
		case objectChanged(before[i], after, dryRun):
			result = "configured"
			changed++
		}
		if o.Output == "" {
			fmt.Fprintf(o.Out, "%s %s%s\n", objectRef(after), result, suffix)
		}
	}
	if o.Output != "" {
		if err := printObjects(o.Out, o.Output, applied); err != nil {
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

// currentObjects reads the current state of each object (nil where it does
// not exist), and refuses objects that are not the cluster's.
func currentObjects(ctx context.Context, c *apiClients, name string, objects []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	before := make([]*unstructured.Unstructured, len(objects))
	for i, obj := range objects {
		cur, err := getObject(ctx, c, obj)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			if err := cluster.CheckOwnership(name, describeObject(obj), cur.GetLabels()); err != nil {
				return nil, err
			}
		}
		before[i] = cur
	}
	return before, nil
}

// objectChanged compares an object before and after an apply. A real
// apply changes the resourceVersion only when it writes; a dry run leaves
// it, so the objects are compared instead.
func objectChanged(before, after *unstructured.Unstructured, dryRun bool) bool {
	if !dryRun {
		return before.GetResourceVersion() != after.GetResourceVersion()
	}
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		c.SetManagedFields(nil)
		c.SetResourceVersion("")
		c.SetGeneration(0)
		unstructured.RemoveNestedField(c.Object, "status")
		return c.Object
	}
	return !equality.Semantic.DeepEqual(strip(before), strip(after))
}

// getObject reads the current state of obj, or nil if it does not exist.
func getObject(ctx context.Context, c *apiClients, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("the server does not know %s: %w", gvk, apiError(c, err))
	}
	cur, err := c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case err == nil:
		return cur, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	default:
		return nil, fmt.Errorf("cannot read %s: %w", describeObject(obj), apiError(c, err))
	}
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
		return printObjects(o.Out, o.Output, objects)
	}
	for _, obj := range objects {
		fmt.Fprintf(o.Out, "%s created (dry run)\n", objectRef(obj))
	}
	fmt.Fprintf(o.Out, "cluster %s created (dry run)\n", o.Name)
	return nil
}

// printObjects prints objects as YAML documents or as a JSON List,
// without their managedFields, as kubectl does; either can be fed to
// kubectl apply -f.
func printObjects(w io.Writer, format string, objects []*unstructured.Unstructured) error {
	items := make([]any, len(objects))
	for i, obj := range objects {
		c := obj.DeepCopy()
		c.SetManagedFields(nil)
		items[i] = c.Object
	}
	if format == string(printers.FormatJSON) {
		return printers.PrintJSON(w, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	for _, item := range items {
		if _, err := io.WriteString(w, "---\n"); err != nil {
			return err
		}
		if err := printers.PrintYAML(w, item); err != nil {
			return err
		}
	}
	return nil
}

// waitStep is one thing --wait waits for. check returns whether it is
// done, and a line saying where it stands (or what was reached).
type waitStep struct {
	what  string
	check func(ctx context.Context) (done bool, status string, err error)
	// hint says where to look when the step times out.
	hint string
}

// waitReady waits, step by step, until the cluster is ready, printing a
// line when a step's status changes, as kubectl rollout status does.
func (o *CreateClusterOptions) waitReady(ctx context.Context, c *apiClients, spec cluster.Spec, w io.Writer) error {
	start := time.Now()
	deadline := start.Add(o.Timeout)
	ns, name := spec.Namespace, spec.Name
	steps := []waitStep{
		{
			what:  "the PersistentVolumeClaims to be bound",
			check: func(ctx context.Context) (bool, string, error) { return pvcsBound(ctx, c, ns, clusterPVCs(spec)) },
			hint:  fmt.Sprintf("kubectl -n %s describe pvc %s", ns, strings.Join(clusterPVCs(spec), " ")),
		},
		databaseStep(c, ns, name, "the database pod to be ready"),
		repoHostStep(c, ns, name, "the repository host to be ready"),
		{
			what: "the stanza to be created",
			check: func(ctx context.Context) (bool, string, error) {
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
				pod, err := c.client.CoreV1().Pods(ns).Get(ctx, cluster.PodName(name), metav1.GetOptions{})
				if err != nil {
					if e := waitAPIError(err); e != nil {
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
			hint: stanzaHint(spec),
		},
	}
	if !spec.HasLocalRepo() {
		// No repository host: the database pod creates the stanza.
		steps = slices.Delete(steps, 2, 3)
	}
	if err := runWaitSteps(ctx, w, o.pollInterval, deadline, steps, fmt.Sprintf("The cluster %q was created", name)); err != nil {
		return err
	}
	fmt.Fprintf(w, "cluster %s is ready (%s)\n", name, time.Since(start).Round(time.Second))
	return nil
}

// databaseStep waits for the database pod of the current template to be
// ready.
func databaseStep(c *apiClients, ns, name, what string) waitStep {
	return waitStep{
		what:  what,
		check: func(ctx context.Context) (bool, string, error) { return databaseReady(ctx, c, ns, name) },
		hint:  fmt.Sprintf("kubectl -n %s describe pod %s; kubectl -n %s logs %s -c database", ns, cluster.PodName(name), ns, cluster.PodName(name)),
	}
}

// repoHostStep waits for the repository host's pod of the current
// template to be ready.
func repoHostStep(c *apiClients, ns, name, what string) waitStep {
	return waitStep{
		what:  what,
		check: func(ctx context.Context) (bool, string, error) { return repoHostReady(ctx, c, ns, name) },
		hint:  repoHostHint(ns, name),
	}
}

func repoHostHint(ns, name string) string {
	return fmt.Sprintf("kubectl -n %s describe pod -l %s; kubectl -n %s logs deployment/%s", ns, cluster.RepoSelector(name), ns, cluster.RepoHostName(name))
}

// runWaitSteps waits for each step in turn until deadline, printing a line
// when a step's status changes. done says what was already done, for the
// timeout error.
func runWaitSteps(ctx context.Context, w io.Writer, poll time.Duration, deadline time.Time, steps []waitStep, done string) error {
	timeout := time.Until(deadline).Round(time.Second)
	for _, step := range steps {
		last := ""
		var status string
		err := kube.WaitFor(ctx, poll, time.Until(deadline), func(ctx context.Context) (bool, error) {
			done, s, err := step.check(ctx)
			if err != nil {
				return false, err
			}
			status = s
			if done {
				fmt.Fprintln(w, s)
				return true, nil
			}
			if s != last {
				fmt.Fprintf(w, "Waiting for %s: %s\n", step.what, s)
				last = s
			}
			return false, nil
		})
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
				return fmt.Errorf("timed out after %s waiting for %s: %s\n%s; to see why it is not ready: %s",
					timeout, step.what, status, done, step.hint)
			}
			var refused *s3RefusedError
			if errors.As(err, &refused) {
				return err
			}
			return fmt.Errorf("waiting for %s: %w", step.what, err)
		}
	}
	return nil
}

// waitAPIError stops a wait on an error that polling will not fix
// (forbidden, unauthorized); other errors are reported as the status and
// polled again.
func waitAPIError(err error) error {
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return err
	}
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

func pvcsBound(ctx context.Context, c *apiClients, ns string, pvcs []string) (bool, string, error) {
	var states, done []string
	all := true
	for _, pvc := range pvcs {
		p, err := c.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc, metav1.GetOptions{})
		if err != nil {
			if e := waitAPIError(err); e != nil {
				return false, "", e
			}
			all = false
			states = append(states, fmt.Sprintf("%s: %v", pvc, err))
			continue
		}
		if p.Status.Phase != corev1.ClaimBound {
			all = false
		}
		states = append(states, fmt.Sprintf("%s %s", pvc, orUnknown(string(p.Status.Phase))))
		done = append(done, "persistentvolumeclaim/"+pvc)
	}
	if all {
		return true, strings.Join(done, " and ") + " bound", nil
	}
	return false, strings.Join(states, ", "), nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// databaseReady: the StatefulSet has rolled out its current template and
// its pod is ready.
func databaseReady(ctx context.Context, c *apiClients, ns, name string) (bool, string, error) {
	sts, err := c.client.AppsV1().StatefulSets(ns).Get(ctx, cluster.StatefulSetName(name), metav1.GetOptions{})
	if err != nil {
		if e := waitAPIError(err); e != nil {
			return false, "", e
		}
		return false, err.Error(), nil
	}
	pod, err := c.client.CoreV1().Pods(ns).Get(ctx, cluster.PodName(name), metav1.GetOptions{})
	podStatus := ""
	switch {
	case err == nil:
		podStatus = podProgress(pod)
	case apierrors.IsNotFound(err):
		podStatus = fmt.Sprintf("pod %s not created yet", cluster.PodName(name))
	default:
		if e := waitAPIError(err); e != nil {
			return false, "", e
		}
		podStatus = err.Error()
	}
	s := sts.Status
	replicas := int32(1)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	switch {
	case s.ObservedGeneration < sts.Generation:
		return false, "the StatefulSet controller has not seen the new template yet", nil
	case s.UpdatedReplicas < replicas || (s.UpdateRevision != "" && s.CurrentRevision != s.UpdateRevision):
		return false, fmt.Sprintf("%d of %d pods updated; %s", s.UpdatedReplicas, replicas, podStatus), nil
	case s.ReadyReplicas < replicas || err != nil || !kube.IsPodReady(pod):
		return false, podStatus, nil
	}
	return true, fmt.Sprintf("database pod %s ready", pod.Name), nil
}

// repoHostReady: the Deployment has rolled out and its one pod is ready,
// which its readiness probe allows only once the stanza exists.
func repoHostReady(ctx context.Context, c *apiClients, ns, name string) (bool, string, error) {
	d, err := c.client.AppsV1().Deployments(ns).Get(ctx, cluster.RepoHostName(name), metav1.GetOptions{})
	if err != nil {
		if e := waitAPIError(err); e != nil {
			return false, "", e
		}
		return false, err.Error(), nil
	}
	pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.RepoSelector(name).String()})
	if err != nil {
		if e := waitAPIError(err); e != nil {
			return false, "", e
		}
		return false, err.Error(), nil
	}
	var podStates []string
	var ready *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		podStates = append(podStates, podProgress(p))
		if p.DeletionTimestamp == nil && kube.IsPodReady(p) {
			ready = p
		}
	}
	slices.Sort(podStates)
	podStatus := strings.Join(podStates, "; ")
	if podStatus == "" {
		podStatus = "no pod yet"
	}
	s := d.Status
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	switch {
	case s.ObservedGeneration < d.Generation:
		return false, "the Deployment controller has not seen the new template yet", nil
	case s.UpdatedReplicas < replicas || s.Replicas > s.UpdatedReplicas:
		return false, fmt.Sprintf("%d of %d pods updated; %s", s.UpdatedReplicas, replicas, podStatus), nil
	case s.ReadyReplicas < replicas || ready == nil:
		return false, podStatus + " (ready once the stanza exists)", nil
	}
	return true, fmt.Sprintf("repository host pod %s ready", ready.Name), nil
}

// podProgress says where a pod stands: "pod hippo-0 Running, 1 of 2
// containers ready (pgbackrest: not ready)".
func podProgress(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return fmt.Sprintf("pod %s terminating", p.Name)
	}
	ready := 0
	var notes []string
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.Ready:
			ready++
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			note := cs.Name + ": " + cs.State.Waiting.Reason
			if cs.State.Waiting.Reason != "ContainerCreating" && cs.State.Waiting.Message != "" {
				note += " (" + cs.State.Waiting.Message + ")"
			}
			notes = append(notes, note)
		case cs.State.Terminated != nil:
			notes = append(notes, fmt.Sprintf("%s: exited with %d", cs.Name, cs.State.Terminated.ExitCode))
		default:
			notes = append(notes, cs.Name+": not ready")
		}
	}
	total := len(p.Spec.Containers)
	s := fmt.Sprintf("pod %s %s, %d of %d containers ready", p.Name, orUnknown(string(p.Status.Phase)), ready, total)
	if p.Status.Phase == corev1.PodPending {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Message != "" {
				notes = append(notes, "unschedulable: "+cond.Message)
			}
		}
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, "; ") + ")"
	}
	return s
}

// checkKeptBackups refuses to create a cluster again over the backups
// that delete --keep-backups kept: its repository holds the stanza of the
// old database, into which a new one cannot archive. Such a cluster has
// its settings and its repository PVC, but no data PVC and no StatefulSet.
func checkKeptBackups(ctx context.Context, c *apiClients, ns, name string) error {
	exists := func(get func() error) (bool, error) {
		err := get()
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		default:
			return false, apiError(c, err)
		}
	}
	pvcs := c.client.CoreV1().PersistentVolumeClaims(ns)
	repoPVC, err := exists(func() error { _, err := pvcs.Get(ctx, cluster.RepoPVCName(name), metav1.GetOptions{}); return err })
	if err != nil || !repoPVC {
		return err
	}
	dataPVC, err := exists(func() error { _, err := pvcs.Get(ctx, cluster.DataPVCName(name), metav1.GetOptions{}); return err })
	if err != nil || dataPVC {
		return err
	}
	sts, err := exists(func() error {
		_, err := c.client.AppsV1().StatefulSets(ns).Get(ctx, cluster.StatefulSetName(name), metav1.GetOptions{})
		return err
	})
	if err != nil || sts {
		return err
	}
	return fmt.Errorf("cluster %q was deleted with --keep-backups: its repository (PVC %s) holds the backups and the WAL of the old database, "+
		"and a new database cannot archive into it. Creating a cluster from kept backups is not supported yet; to start afresh, "+
		"delete the backups first (kubectl pgo delete cluster %s --yes), or choose another name. Nothing was changed",
		name, cluster.RepoPVCName(name), name)
}
