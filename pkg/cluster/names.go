package cluster

// The names of a cluster's objects, as PGO v4 named them, so that v4
// users and their tools find them where they expect.

// DataPVCName is the PVC of the data directory.
func DataPVCName(cluster string) string { return cluster }

// ServiceName is the Service of the database: clients connect to it.
func ServiceName(cluster string) string { return cluster }

// StatefulSetName is the StatefulSet of the database.
func StatefulSetName(cluster string) string { return cluster }

// PodName is the database pod, the StatefulSet's only replica.
func PodName(cluster string) string { return StatefulSetName(cluster) + "-0" }

// PostgresSecretName holds the superuser's name and password.
func PostgresSecretName(cluster string) string { return cluster + "-postgres-secret" }

// RepoConfigSecretName holds the cluster's CA and TLS certificates. `delete
// cluster --keep-backups` keeps it with the repository.
func RepoConfigSecretName(cluster string) string { return cluster + "-backrest-repo-config" }

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
