package lifecycle

import (
	"context"
	"fmt"
	"io"
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
	material, err := readMaterial(ctx, c, spec, true, true, time.Now())
	if err != nil {
		return err
	}
	objects, err := changedObjects(o.Stored, spec, material)
	if err != nil {
		return err
	}
	before, err := apply.CurrentObjects(ctx, c, name, objects)
	if err != nil {
		return err
	}
	if _, err := applyObjects(ctx, c, objects, before, false, o.Progress, ""); err != nil {
		return fmt.Errorf("%w\n(run kubectl pgo upgrade again: it goes on from the upgraded data directory)", err)
	}
	var steps []apply.WaitStep
	for _, r := range restartedWorkloads(spec, objects) {
		steps = append(steps, r.steps(c, o.Exec, spec.Namespace, name)...)
	}
	return apply.RunWaitSteps(ctx, o.Progress, o.Poll, time.Now().Add(o.Timeout), steps,
		fmt.Sprintf("The settings of cluster %q were changed to PostgreSQL %d", name, spec.PostgresVersion))
}
