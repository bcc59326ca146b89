package cluster

import "fmt"

// Where things are inside the pods. Restore and backup Jobs, written
// later, mount the same volumes at the same places.
const (
	// pgdataMountPath is where the data PVC is mounted. PGDATA is a
	// directory under it (see DataDirectory), not the PVC's root, which
	// may hold lost+found and which fsGroup makes group-writable.
	pgdataMountPath = "/pgdata"
	// repoMountPath is where the repository host mounts its PVC.
	repoMountPath = "/backrestrepo"
	// socketDir is the PostgreSQL socket directory, an emptyDir shared by
	// the containers of the database pod.
	socketDir = "/var/run/postgresql"
	// pgbackrestConfigDir holds pgbackrest.conf at pgBackRest's default
	// path: the TLS server's worker processes read only that one.
	pgbackrestConfigDir = "/etc/pgbackrest"
	tlsDir              = pgbackrestConfigDir + "/tls"
	// configDir holds kubectl-pgo's own files: the start scripts, the
	// PostgreSQL settings, and the password file initdb reads.
	configDir = "/etc/kubectl-pgo"

	postgresPort = 5432
	// postgresUID is the postgres user and group of the image.
	postgresUID = 26
)

// DataDirectory is PGDATA in the database pod, as in v4.
func DataDirectory(cluster string) string {
	return pgdataMountPath + "/" + cluster
}

// postgresBinDir is where Debian installs the server binaries.
func postgresBinDir(version int) string {
	return fmt.Sprintf("/usr/lib/postgresql/%d/bin", version)
}

// PGBackRestConfigFile is where both sides' pods mount their
// pgbackrest.conf (FileDatabaseConf or FileRepoConf of the pgBackRest
// ConfigMap).
const PGBackRestConfigFile = pgbackrestConfigDir + "/pgbackrest.conf"

// IncludeLine is the line the database's start script adds to
// PGDATA/postgresql.conf: it includes the settings kubectl-pgo manages,
// from a file only the database pod mounts.
func IncludeLine() string { return "include '" + configDir + "/" + FilePostgresConf + "'" }

// TLSFile is where the pods mount a key of the repository Secret
// (KeyCACert, KeyDBCert, ...): /etc/pgbackrest/tls/KEY.
func TLSFile(key string) string { return tlsDir + "/" + key }

// ReplicationPasswordFile is where the database pods mount
// KeyReplicationPassword of the postgres Secret; ReplicationPassFile is
// the libpq password file each instance writes from it at start.
const (
	ReplicationPasswordFile = configDir + "/" + KeyReplicationPassword
	ReplicationPassFile     = "/tmp/replication.pgpass"
)

// PostgresPort is the port PostgreSQL listens on in the database pods.
const PostgresPort = postgresPort
