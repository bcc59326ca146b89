package cluster

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// What the commands need to know about a cluster's objects once they
// exist: which kinds kubectl-pgo creates, how to find them, how to tell
// them from objects someone else made, and which ones --keep-backups keeps.

// The containers of the pods, as the templates name them, for exec.
const (
	// ContainerDatabase runs PostgreSQL in the database pod; psql works
	// there over the socket, as the postgres user.
	ContainerDatabase = "database"
	// ContainerPGBackRest runs `pgbackrest server`, in the database pod
	// and in the repository host's pod, where pgbackrest info, check and
	// backup run.
	ContainerPGBackRest = "pgbackrest"
)

// ManagedResources are the kinds of object kubectl-pgo creates for a
// cluster, in the order `delete cluster` removes them: what runs backups
// first, then the database, then the repository host, and last what they
// mount. Every object of these kinds that carries ManagedSelector is the
// cluster's. A command that creates a new kind adds it here, so that
// delete removes it too.
var ManagedResources = []schema.GroupVersionResource{
	{Group: "batch", Version: "v1", Resource: "cronjobs"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
	{Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	// Only pods without a controller: the others go with their workload.
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "persistentvolumeclaims"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "configmaps"},
}

// ManagedSelector selects every object kubectl-pgo made for the cluster.
func ManagedSelector(cluster string) labels.Set {
	l := ClusterSelector(cluster)
	l[LabelManagedBy] = FieldManager
	return l
}

// KeptWithBackups tells whether `delete cluster --keep-backups` keeps the
// object: the repository PVC, the Secret with the certificates the
// repository trusts, and the settings, which together are enough to
// restore the cluster later.
func KeptWithBackups(cluster string, gr schema.GroupResource, name string) bool {
	if gr.Group != "" {
		return false
	}
	switch gr.Resource {
	case "persistentvolumeclaims":
		return name == RepoPVCName(cluster)
	case "secrets":
		return name == RepoConfigSecretName(cluster)
	case "configmaps":
		return name == SettingsConfigMapName(cluster)
	}
	return false
}

// CheckOwnership refuses an existing object that kubectl-pgo did not make
// for this cluster: one without the managed-by label (made by hand or by
// another tool), or one that belongs to another cluster (whose derived
// names can collide with this one's). what names the object, e.g.
// "Service pg/hippo".
func CheckOwnership(cluster, what string, objLabels map[string]string) error {
	if objLabels[LabelManagedBy] != FieldManager {
		return fmt.Errorf("%s already exists and was not created by kubectl-pgo (it has no label %s=%s): "+
			"choose another cluster name, or delete or rename that object first", what, LabelManagedBy, FieldManager)
	}
	if owner := objLabels[LabelCluster]; owner != cluster {
		return fmt.Errorf("%s already exists and belongs to the kubectl-pgo cluster %q, not %q: choose another cluster name",
			what, owner, cluster)
	}
	return nil
}

// ValidateName checks a cluster name: a DNS-1035 label, short enough for
// every name derived from it. Commands that only read or delete a cluster
// check the argument with it before any request.
func ValidateName(name string) error {
	return validateName(name)
}
