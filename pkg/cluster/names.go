package cluster

import "fmt"

// The names of a cluster's objects, as PGO v4 named them, so that v4
// users and their tools find them where they expect.

// DataPVCName is the PVC of the data directory.
func DataPVCName(cluster string) string { return cluster }

// ServiceName is the Service of the database: clients connect to it.
func ServiceName(cluster string) string { return cluster }

// StatefulSetName is the StatefulSet of the database.
func StatefulSetName(cluster string) string { return cluster }

// PodName is the pod of the first instance, the StatefulSet's only
// replica: the database pod of a cluster without replicas, and its
// primary until a failover.
func PodName(cluster string) string { return InstancePodName(StatefulSetName(cluster)) }

// InstanceName is the StatefulSet, the data PVC and the pod name prefix
// of instance i: the cluster's name for the first (i = 0), <cluster>-r<i>
// for the replicas added after it.
func InstanceName(cluster string, i int) string {
	if i == 0 {
		return StatefulSetName(cluster)
	}
	return fmt.Sprintf("%s-r%d", cluster, i)
}

// InstancePodName is the pod of an instance, its StatefulSet's only one.
func InstancePodName(instance string) string { return instance + "-0" }

// ReplicasServiceName is the Service of the replicas: read-only clients
// connect to it.
func ReplicasServiceName(cluster string) string { return cluster + "-replicas" }

// ReplicationUser is the PostgreSQL role the replicas stream with; its
// password is in the postgres Secret (KeyReplicationPassword).
const ReplicationUser = "pgo_replication"

// PostgresSecretName holds the superuser's name and password.
func PostgresSecretName(cluster string) string { return cluster + "-postgres-secret" }

// RepoConfigSecretName holds the cluster's CA and TLS certificates. `delete
// cluster --keep-backups` keeps it with the repository.
func RepoConfigSecretName(cluster string) string { return cluster + "-backrest-repo-config" }

// CAConfigMapName holds only the cluster's CA certificate (ca.crt), which
// signs the database's server certificate: applications mount it to
// connect with sslmode=verify-full, and so do the pgdump and pgbasebackup
// Jobs. The CA's key stays in RepoConfigSecretName.
func CAConfigMapName(cluster string) string { return cluster + "-ca" }

// SettingsConfigMapName holds the Spec.
func SettingsConfigMapName(cluster string) string { return cluster + "-pgo-config" }

// PGBackRestConfigMapName holds the configuration files and start scripts.
func PGBackRestConfigMapName(cluster string) string { return cluster + "-pgbackrest-config" }

// RepoHostName is the Deployment and the Service of the repository host.
func RepoHostName(cluster string) string { return cluster + "-backrest-shared-repo" }

// RepoPVCName is the PVC of the local repository.
func RepoPVCName(cluster string) string { return cluster + "-pgbr-repo" }

// The common names of the two TLS certificates. Each side's pgBackRest
// server accepts only the other side's name (tls-server-auth).
func databaseCN(cluster string) string { return cluster + "-db" }
func repoCN(cluster string) string     { return cluster + "-repo" }
func caCN(cluster string) string       { return cluster + "-ca" }
