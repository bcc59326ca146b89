package lifecycle

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// ChangeMajorOptions are what ChangeMajor needs.
type ChangeMajorOptions struct {
	// Stored are the cluster's settings before, Upgraded the same with the
	// new major and its image.
	Stored, Upgraded cluster.Spec
	Exec             apply.ExecFunc
	Poll, Timeout    time.Duration
	// Progress takes a line per object applied and per step waited for.
	Progress io.Writer
}

// ChangeMajor stores the settings of a cluster whose data directory was
// upgraded to a new PostgreSQL major (kubectl pgo upgrade), applies every
// object that changes (the database's and the repository host's image and
// binaries; the database StatefulSet back to its replicas), and waits
// until the database runs the new major and the repository host its
// pgBackRest. The one place a cluster's major changes:
// cluster.CheckImmutable refuses it to create and update.
func ChangeMajor(ctx context.Context, c *apply.Clients, o ChangeMajorOptions) error {
	spec, name := o.Upgraded, o.Upgraded.Name
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("the upgraded settings of cluster %q are not valid: %w", name, err)
	}
	return applyAndWait(ctx, c, o.Stored, spec, o.Exec, o.Poll, o.Timeout, o.Progress,
		"\n(run kubectl pgo upgrade again: it goes on from the upgraded data directory)",
		fmt.Sprintf("The settings of cluster %q were changed to PostgreSQL %d", name, spec.PostgresVersion))
}

// ChangeCredentialsOptions are what ChangeCredentials needs.
type ChangeCredentialsOptions struct {
	// Stored are the cluster's settings before, Next the same with an
	// object store's new credentials Secret.
	Stored, Next  cluster.Spec
	Exec          apply.ExecFunc
	Poll, Timeout time.Duration
	Progress      io.Writer
}

// ChangeCredentials stores the settings of a cluster whose object store
// takes its keys from another Secret (kubectl pgo rotate keys, which has
// proven them), applies what changes (the settings, and the pod templates
// that read the keys into their environment: the database and the
// repository host restart), and waits until they are ready. The one place
// a credentials Secret changes: cluster.CheckImmutable refuses it to
// update cluster. Nothing but the credentials Secrets may differ.
func ChangeCredentials(ctx context.Context, c *apply.Clients, o ChangeCredentialsOptions) error {
	name := o.Next.Name
	if changes := cluster.Changes(o.Stored, withCredentialsOf(o.Next, o.Stored)); len(changes) > 0 {
		var list []string
		for _, ch := range changes {
			list = append(list, ch.String())
		}
		return fmt.Errorf("cluster %q: only the credentials Secrets may change here, not %s", name, strings.Join(list, "; "))
	}
	if err := o.Next.Validate(); err != nil {
		return fmt.Errorf("the new settings of cluster %q are not valid: %w", name, err)
	}
	return applyAndWait(ctx, c, o.Stored, o.Next, o.Exec, o.Poll, o.Timeout, o.Progress,
		fmt.Sprintf("\n(the new keys were proven; run the same rotation again to finish switching cluster %q to them)", name),
		fmt.Sprintf("The new credentials of cluster %q were applied", name))
}

// withCredentialsOf is next with the credentials Secrets of from.
func withCredentialsOf(next, from cluster.Spec) cluster.Spec {
	if next.S3 != nil && from.S3 != nil {
		s := *next.S3
		s.CredentialsSecret = from.S3.CredentialsSecret
		next.S3 = &s
	}
	if next.GCS != nil && from.GCS != nil {
		g := *next.GCS
		g.CredentialsSecret = from.GCS.CredentialsSecret
		next.GCS = &g
	}
	if next.Azure != nil && from.Azure != nil {
		a := *next.Azure
		a.CredentialsSecret = from.Azure.CredentialsSecret
		next.Azure = &a
	}
	return next
}

// applyAndWait applies the objects whose rendering differs between stored
// and next, and waits for the restarts that causes; again is added to an
// error of the apply, done names the change in a timeout.
func applyAndWait(ctx context.Context, c *apply.Clients, stored, next cluster.Spec, exec apply.ExecFunc, poll, timeout time.Duration, progress io.Writer, again, done string) error {
	name := next.Name
	material, err := readMaterial(ctx, c, next, true, true, time.Now())
	if err != nil {
		return err
	}
	objects, err := changedObjects(stored, next, material)
	if err != nil {
		return err
	}
	before, err := apply.CurrentObjects(ctx, c, name, objects)
	if err != nil {
		return err
	}
	if _, err := applyObjects(ctx, c, objects, before, false, progress, ""); err != nil {
		return fmt.Errorf("%w%s", err, again)
	}
	var steps []apply.WaitStep
	for _, r := range restartedWorkloads(next, objects) {
		steps = append(steps, r.steps(c, exec, next.Namespace, name)...)
	}
	return apply.RunWaitSteps(ctx, progress, poll, time.Now().Add(timeout), steps, done)
}
