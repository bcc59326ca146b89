package lifecycle

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
)

// Bootstrap fills a new cluster's data directory from elsewhere: create
// cluster --restore-from restores another cluster's backups. Create calls
// Prepare after its own checks, AdjustObjects before the first apply,
// Restore once every object is applied, and Cleanup when it stops between
// Prepare and Restore.
type Bootstrap interface {
	Prepare(ctx context.Context, existing bool, spec cluster.Spec, m cluster.Material) error
	AdjustObjects(objects []*unstructured.Unstructured) error
	Restore(ctx context.Context) error
	Cleanup(ctx context.Context)
}

// Request is what Create and Update share: the settings given, how to
// apply them, and where to print.
type Request struct {
	// Spec holds the settings given, defaulted and validated, with the
	// cluster's name and namespace; Given says which were given.
	Spec  cluster.Spec
	Given Given
	// DryRun is one of apply.DryRunNone, DryRunClient (print, write
	// nothing) and DryRunServer.
	DryRun string
	// Output is "" (one line per object) or a format for
	// apply.PrintObjects.
	Output string
	// Wait follows the cluster until it is ready (Create) or the pods
	// restarted (Update), for at most Timeout, polling every Poll.
	Wait    bool
	Timeout time.Duration
	Poll    time.Duration
	Now     func() time.Time
	// Out takes the objects, or one line each; ErrOut the progress when
	// the objects are printed.
	Out, ErrOut io.Writer
}

// CreateOptions are what Create needs besides the clients.
type CreateOptions struct {
	Request
	// S3Key and S3KeySecret are S3 keys given for the repository Secret;
	// without them the stored ones stay.
	S3Key, S3KeySecret string
	// Labels are added to every object rendered: restore-drill marks its
	// temporary clusters with them.
	Labels map[string]string
	// Exec reads the stanza and the database's system identifier in the
	// pods, the last step of Wait: required with it.
	Exec apply.ExecFunc
	// Bootstrap, when not nil, restores the new cluster's data.
	Bootstrap Bootstrap
}

// Permissions are what create (write) or a client dry run of update
// (!write) needs: read, and unless !write apply, every kind rendered;
// for wait, list pods and exec into them.
func Permissions(write, wait bool) []apply.Permission {
	var perms []apply.Permission
	for _, gr := range apply.RenderedResources {
		perms = append(perms, apply.Permission{Verb: "get", Group: gr.Group, Resource: gr.Resource})
		if write {
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

// Create creates the cluster of o.Spec, or applies its objects again to
// an existing one with the settings given merged into the stored ones.
// With DryRunClient it sends no request (c may be nil).
func Create(ctx context.Context, c *apply.Clients, o CreateOptions) error {
	o.Spec = NewClusterDefaults(o.Spec, o.Given)
	if o.DryRun == apply.DryRunClient {
		return clientDryRun(o)
	}
	name, ns := o.Spec.Name, o.Spec.Namespace
	if err := apply.CheckNamespace(ctx, c, ns); err != nil {
		return err
	}
	if err := apply.CheckPermissions(ctx, c, ns, fmt.Sprintf("create cluster %q", name), Permissions(true, o.Wait)); err != nil {
		return err
	}

	spec, stored, existing, err := createSpec(ctx, c, o)
	if err != nil {
		return err
	}
	progress := progress(o.Output, o.Out, o.ErrOut)
	if added := newReplicas(stored, spec); len(added) > 0 && o.DryRun == apply.DryRunNone {
		if existing {
			chooseReplicaBootstrap(ctx, c, o.Exec, &spec, progress)
		} else {
			fmt.Fprintf(progress, "the replicas copy the new primary with pg_basebackup\n")
		}
	}
	objects, material, err := render(ctx, c, o, spec, existing)
	if err != nil {
		return err
	}

	// Every object that exists must be this cluster's, checked before
	// the first change.
	before, err := apply.CurrentObjects(ctx, c, name, objects)
	if err != nil {
		return err
	}

	// The bootstrap checks its source, and may start a temporary
	// repository host for it: after every check of ours.
	if o.Bootstrap != nil {
		if err := o.Bootstrap.Prepare(ctx, existing, spec, material); err != nil {
			return err
		}
		if err := o.Bootstrap.AdjustObjects(objects); err != nil {
			o.Bootstrap.Cleanup(context.WithoutCancel(ctx))
			return err
		}
	}

	serverDryRun := o.DryRun == apply.DryRunServer
	suffix := ""
	if serverDryRun {
		suffix = " (server dry run)"
	}
	res, err := applyObjects(ctx, c, objects, before, serverDryRun, lines(o.Output, o.Out), suffix)
	if err != nil {
		if o.Bootstrap != nil {
			o.Bootstrap.Cleanup(context.WithoutCancel(ctx))
		}
		return fmt.Errorf("%w\n(%d of %d objects of cluster %q were applied before this error; run the same command again once it is fixed)",
			err, len(res.applied), len(objects), name)
	}
	if err := printObjects(o.Output, o.Out, res.applied); err != nil {
		return err
	}
	summary := "unchanged"
	switch {
	case !existing && res.created == len(objects):
		summary = "created"
	case res.created > 0 || res.changed > 0:
		summary = "configured"
	}
	fmt.Fprintf(progress, "cluster %s %s%s\n", name, summary, suffix)
	if existing && !serverDryRun {
		if err := removeInstances(ctx, c, stored, spec, progress); err != nil {
			return err
		}
	}

	if o.Bootstrap != nil {
		if err := o.Bootstrap.Restore(ctx); err != nil {
			return err
		}
	}
	if !o.Wait {
		return nil
	}
	return waitReady(ctx, c, o, spec, progress)
}

// createSpec is the Spec to apply: the settings given for a new cluster,
// merged into the stored ones for an existing cluster (existing), which
// must allow the change.
func createSpec(ctx context.Context, c *apply.Clients, o CreateOptions) (spec, stored cluster.Spec, existing bool, err error) {
	name, ns := o.Spec.Name, o.Spec.Namespace
	stored, existing, err = readSettings(ctx, c, ns, name)
	if err != nil {
		return cluster.Spec{}, cluster.Spec{}, false, err
	}
	if !existing {
		if err := o.Spec.Validate(); err != nil {
			return cluster.Spec{}, cluster.Spec{}, false, fmt.Errorf("%w; nothing was created", err)
		}
		return o.Spec, cluster.Spec{}, false, CheckStorageClasses(ctx, c, o.Spec)
	}
	spec = MergeSpec(stored, o.Spec, o.Given)
	if err := spec.Validate(); err != nil {
		return cluster.Spec{}, stored, false, fmt.Errorf("the settings of cluster %q are not valid (ConfigMap %s/%s): %w", name, ns, cluster.SettingsConfigMapName(name), err)
	}
	if err := cluster.CheckImmutable(stored, spec); err != nil {
		return cluster.Spec{}, stored, false, fmt.Errorf("cluster %q already exists in namespace %q with settings that cannot change; nothing was changed:\n  - %s",
			name, ns, bulleted(err))
	}
	return spec, stored, true, CheckKeptBackups(ctx, c, ns, name)
}

// render renders the cluster's objects, with o.Labels, and with its
// secret material, reused when its Secrets exist. The object stores'
// Secrets it reads must exist and hold what pgBackRest takes.
func render(ctx context.Context, c *apply.Clients, o CreateOptions, spec cluster.Spec, existing bool) ([]*unstructured.Unstructured, cluster.Material, error) {
	material, err := readMaterial(ctx, c, spec, false, existing, o.Now())
	if err != nil {
		return nil, cluster.Material{}, err
	}
	o.setKeys(&material)
	if err := CheckS3Secrets(ctx, c, spec, material); err != nil {
		return nil, cluster.Material{}, err
	}
	if err := CheckObjectStoreSecrets(ctx, c, spec); err != nil {
		return nil, cluster.Material{}, err
	}
	if err := CheckCipherSecret(ctx, c, spec); err != nil {
		return nil, cluster.Material{}, err
	}
	objects, err := cluster.Render(spec, material)
	if err != nil {
		return nil, cluster.Material{}, err
	}
	if len(o.Labels) > 0 {
		for _, obj := range objects {
			l := obj.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			maps.Copy(l, o.Labels)
			obj.SetLabels(l)
		}
	}
	return objects, material, nil
}

// clientDryRun renders and prints without contacting any server. It
// cannot read the cluster's Secrets, so the certificates and the password
// are new ones: a real create reuses those of an existing cluster.
func clientDryRun(o CreateOptions) error {
	material, err := cluster.LoadOrGenerateMaterial(o.Spec, nil, nil, o.Now())
	if err != nil {
		return err
	}
	o.setKeys(&material)
	objects, err := cluster.Render(o.Spec, material)
	if err != nil {
		return err
	}
	if o.Bootstrap != nil {
		if err := o.Bootstrap.AdjustObjects(objects); err != nil {
			return err
		}
	}
	if o.Output != "" {
		return apply.PrintObjects(o.Out, o.Output, objects)
	}
	for _, obj := range objects {
		fmt.Fprintf(o.Out, "%s created (dry run)\n", apply.ObjectRef(obj))
	}
	fmt.Fprintf(o.Out, "cluster %s created (dry run)\n", o.Spec.Name)
	return nil
}

// setKeys puts the keys given into the material, for the repository
// Secret; without them the stored ones stay.
func (o CreateOptions) setKeys(m *cluster.Material) {
	if o.S3Key != "" {
		m.S3Key, m.S3KeySecret = o.S3Key, o.S3KeySecret
	}
}

// readSettings reads the stored settings of the cluster, if it exists.
func readSettings(ctx context.Context, c *apply.Clients, ns, name string) (cluster.Spec, bool, error) {
	settings, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, cluster.SettingsConfigMapName(name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return cluster.Spec{}, false, nil
	case err != nil:
		return cluster.Spec{}, false, fmt.Errorf("cannot read the settings of cluster %q: %w", name, apply.APIError(c, err))
	}
	if err := cluster.CheckOwnership(name, "ConfigMap "+ns+"/"+settings.Name, settings.Labels); err != nil {
		return cluster.Spec{}, false, err
	}
	stored, err := cluster.SpecFromConfigMap(settings)
	return stored, true, err
}

// readMaterial reads the cluster's certificates and password from its
// repository and postgres Secrets, and generates what is missing, unless
// they are required. The generated passphrase of an existing cluster is
// never made anew: it is taken back from its saved copy, or refused
// (savedPassphrase).
func readMaterial(ctx context.Context, c *apply.Clients, spec cluster.Spec, required, existing bool, now time.Time) (cluster.Material, error) {
	ns := spec.Namespace
	var secrets []*corev1.Secret
	for _, name := range []string{cluster.RepoConfigSecretName(spec.Name), cluster.PostgresSecretName(spec.Name)} {
		s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) && required:
			return cluster.Material{}, fmt.Errorf("cluster %q has no Secret %s/%s, without which its objects cannot be rendered; nothing was changed "+
				"(kubectl pgo create cluster %s makes what is missing)", spec.Name, ns, name, spec.Name)
		case apierrors.IsNotFound(err):
			s = nil
		case err != nil:
			return cluster.Material{}, fmt.Errorf("cannot read Secret %s/%s: %w", ns, name, apply.APIError(c, err))
		default:
			if err := cluster.CheckOwnership(spec.Name, "Secret "+ns+"/"+name, s.Labels); err != nil {
				return cluster.Material{}, err
			}
		}
		secrets = append(secrets, s)
	}
	m, err := cluster.LoadOrGenerateMaterial(spec, secrets[0], secrets[1], now)
	if err != nil {
		return m, err
	}
	if (required || existing) && spec.Cipher != "" && spec.CipherSecret == "" && (secrets[0] == nil || len(secrets[0].Data[cluster.KeyCipherPass]) == 0) {
		if m.CipherPass, err = savedPassphrase(ctx, c, spec); err != nil {
			return cluster.Material{}, err
		}
	}
	return m, nil
}

// savedPassphrase is the generated passphrase of an existing encrypted
// cluster whose repository Secret lost it, from the copy that
// cluster.SaveCipherPassCommand makes: a new passphrase could not read
// the backups, nor write to the stanza they are in.
func savedPassphrase(ctx context.Context, c *apply.Clients, spec cluster.Spec) (string, error) {
	ns, name, saved := spec.Namespace, spec.Name, cluster.SavedCipherPassSecret(spec.Name)
	s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, saved, metav1.GetOptions{})
	switch {
	case err == nil && len(s.Data[cluster.KeyCipherPass]) > 0:
		return string(s.Data[cluster.KeyCipherPass]), nil
	case err != nil && !apierrors.IsNotFound(err):
		return "", fmt.Errorf("cannot read Secret %s/%s: %w", ns, saved, apply.APIError(c, err))
	}
	return "", fmt.Errorf("cluster %q is encrypted, and its passphrase is gone from Secret %s/%s: a new one could not read its backups nor archive into its stanza, so none is made; nothing was changed. "+
		"Put a copy of the passphrase into Secret %s/%s under the key %s (kubectl -n %s create secret generic %s --from-literal=%s=...) and run this again; "+
		"if the cluster never took a backup, delete it (kubectl pgo delete cluster %s -n %s --discard-passphrase --yes) and create it anew",
		name, ns, cluster.RepoConfigSecretName(name), ns, saved, cluster.KeyCipherPass, ns, saved, cluster.KeyCipherPass, name, ns)
}

// lines is where the line of each applied object goes: nowhere when the
// objects are printed (-o).
func lines(output string, out io.Writer) io.Writer {
	if output != "" {
		return nil
	}
	return out
}

// progress is stdout, or stderr when stdout takes the objects (-o).
func progress(output string, out, errOut io.Writer) io.Writer {
	if output != "" {
		return errOut
	}
	return out
}

// printObjects prints the objects applied, with -o.
func printObjects(output string, out io.Writer, objects []*unstructured.Unstructured) error {
	if output == "" {
		return nil
	}
	return apply.PrintObjects(out, output, objects)
}

// applied is what applyObjects did.
type applied struct {
	applied          []*unstructured.Unstructured
	created, changed int
}

// applyObjects applies each object in turn with server-side apply,
// writing to lines (unless nil) whether it was created, configured or
// unchanged. On an error, what was applied before it is returned with
// it.
func applyObjects(ctx context.Context, c *apply.Clients, objects, before []*unstructured.Unstructured, serverDryRun bool, lines io.Writer, suffix string) (applied, error) {
	var res applied
	for i, obj := range objects {
		after, err := kube.Apply(ctx, c.Dynamic, c.Mapper, obj, kube.DryRun(serverDryRun))
		if err != nil {
			return res, apply.APIError(c, err)
		}
		res.applied = append(res.applied, after)
		result := "unchanged"
		switch {
		case before[i] == nil:
			result = "created"
			res.created++
		case apply.ObjectChanged(before[i], after, serverDryRun):
			result = "configured"
			res.changed++
		}
		if lines != nil {
			fmt.Fprintf(lines, "%s %s%s\n", apply.ObjectRef(after), result, suffix)
		}
	}
	return res, nil
}

// bulleted puts each line of a joined error after a bullet.
func bulleted(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "\n  - ")
}
