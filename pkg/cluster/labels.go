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
