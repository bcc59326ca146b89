package cluster

import "k8s.io/apimachinery/pkg/labels"

// Label keys. LabelCluster is PGO v4's, kept so that v4 users' selectors
// still work; the others are Kubernetes' recommended labels.
const (
	LabelCluster   = "pg-cluster"
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"

	// FieldManager is the server-side apply field manager, and the
	// managed-by label's value.
	FieldManager = "kubectl-pgo"
	appName      = "postgres"
)

// AnnotationConfigHash on a pod template is a digest of the files the
// pod reads at start: a change of them rolls the pod.
const AnnotationConfigHash = "kubectl-pgo/config-hash"

// Values of LabelComponent.
const (
	ComponentDatabase = "database"
	ComponentRepo     = "pgbackrest-repo"
	ComponentConfig   = "config"
)

// Labels are the labels of an object of the cluster, for one component.
func Labels(cluster, component string) map[string]string {
	l := ClusterSelector(cluster)
	l[LabelName] = appName
	l[LabelComponent] = component
	l[LabelManagedBy] = FieldManager
	return l
}

// ClusterSelector selects every object of the cluster.
func ClusterSelector(cluster string) labels.Set {
	return labels.Set{LabelCluster: cluster, LabelInstance: cluster}
}

// DatabaseSelector selects the database pod. It is also the StatefulSet's
// selector, which cannot change once created.
func DatabaseSelector(cluster string) labels.Set {
	return componentSelector(cluster, ComponentDatabase)
}

// RepoSelector selects the repository host's pod. It is also the
// Deployment's selector, which cannot change once created.
func RepoSelector(cluster string) labels.Set {
	return componentSelector(cluster, ComponentRepo)
}

func componentSelector(cluster, component string) labels.Set {
	l := ClusterSelector(cluster)
	l[LabelComponent] = component
	return l
}

// LabelRole on a database pod says whether it runs as the primary or as a
// replica (RolePrimary, RoleReplica); it comes from its StatefulSet's
// template, so a pod that is recreated keeps it. The Services select on it.
const LabelRole = "kubectl-pgo/role"

// Values of LabelRole.
const (
	RolePrimary = "primary"
	RoleReplica = "replica"
)

// LabelInstanceName on a database pod names its instance (InstanceName).
const LabelInstanceName = "kubectl-pgo/instance"

// PrimarySelector selects the pod of the primary.
func PrimarySelector(cluster string) labels.Set {
	l := DatabaseSelector(cluster)
	l[LabelRole] = RolePrimary
	return l
}

// PrimaryPodSelector selects the primary's pod among the database pods:
// those that are not replicas, so that a pod made before the role label
// existed is found too.
func PrimaryPodSelector(cluster string) string {
	return DatabaseSelector(cluster).String() + "," + LabelRole + "!=" + RoleReplica
}

// ReplicaSelector selects the pods of the replicas.
func ReplicaSelector(cluster string) labels.Set {
	l := DatabaseSelector(cluster)
	l[LabelRole] = RoleReplica
	return l
}

// InstanceSelector is the selector of an instance's StatefulSet. The first
// instance's is DatabaseSelector, as it was before there were replicas (a
// StatefulSet's selector cannot change); it also matches the replicas'
// pods, which their own StatefulSets own.
func InstanceSelector(cluster, instance string) labels.Set {
	l := DatabaseSelector(cluster)
	if instance != StatefulSetName(cluster) {
		l[LabelInstanceName] = instance
	}
	return l
}

// LabelPGBackRestCommands marks the pod where pgBackRest's commands (info,
// expire, verify) run: the repository host's, or without one (S3 only) the
// database pod. Commands find it in one request, without the settings.
const LabelPGBackRestCommands = "kubectl-pgo/pgbackrest-commands"

// PGBackRestPodSelector selects the pod LabelPGBackRestCommands marks.
func PGBackRestPodSelector(cluster string) string {
	l := ClusterSelector(cluster)
	l[LabelPGBackRestCommands] = "true"
	return l.String()
}
