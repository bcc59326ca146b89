package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Keys of the pgBackRest ConfigMap (<c>-pgbackrest-config).
const (
	FileDatabaseConf  = "db.conf"           // pgbackrest.conf of the database pod
	FileRepoConf      = "repo.conf"         // pgbackrest.conf of the repository host
	FilePostgresConf  = "postgresql.conf"   // included by PGDATA/postgresql.conf
	FileHBAConf       = "pg_hba.conf"       // hba_file
	FileStartPostgres = "start-postgres.sh" // the database container's command
	FileStartRepo     = "start-repo.sh"     // the repository host's command
	// FilePrimary names the primary's instance: each database pod reads it
	// when it starts, to know its role. It is not in the config hash: a
	// failover changes it and restarts only the pods it must.
	FilePrimary = "primary"
	// FileReplicaBootstrap names the backup a new replica is restored
	// from, or is empty for pg_basebackup (Spec.ReplicaBootstrap). Not in
	// the config hash either: a new backup must not restart the pods.
	FileReplicaBootstrap = "replica-bootstrap"
	// FileSourcePGBackRest runs pgbackrest with the source's repositories,
	// in the database pod of a standby cluster only (Spec.Standby).
	FileSourcePGBackRest = "pgbackrest-source.sh"
)

// StanzaCheckedFile exists in the database pod (its /tmp, shared by its
// containers) once the pgbackrest container of a cluster without a
// repository host has ended its stanza-create, which holds pgBackRest's
// backup lock while it runs: a backup started before then fails on the lock.
const StanzaCheckedFile = "/tmp/kubectl-pgo-stanza-checked"

// The files of each pod, for the config hash that rolls the pod when one
// of them changes (a mounted ConfigMap is updated in place, but PostgreSQL
// and the scripts read it only when they start).
var (
	databaseFiles = []string{FileDatabaseConf, FilePostgresConf, FileHBAConf, FileStartPostgres}
	repoFiles     = []string{FileRepoConf, FileStartRepo}
)

// databaseFilesOf are the files of the database pod: with no repository
// host, it runs the repository host's script too.
func databaseFilesOf(spec Spec) []string {
	files := append([]string(nil), databaseFiles...)
	if !spec.HasLocalRepo() {
		files = append(files, FileStartRepo)
	}
	if spec.Standby != nil {
		files = append(files, FileSourcePGBackRest)
	}
	return files
}

// fileValues are what the file templates (templates/files) see.
type fileValues struct {
	Cluster        string
	PGData         string
	PostgresBinDir string
	PostgresPort   int
	SocketDir      string
	ConfigDir      string
	HBAFile        string
	PostgresConf   string
	PasswordFile   string
	Superuser      string
	Stanza         string
	RepoPath       string
	// BackupInfo is the file that exists once the stanza does.
	BackupInfo string
	// StanzaChecked is the file the database pod's pgbackrest container
	// writes once its stanza-create has ended, without a repository host.
	StanzaChecked string
	// LocalRepo: the cluster has a repository on the repository host.
	LocalRepo bool
	// Service is the primary's Service, where the replicas stream from.
	Service string
	// ReplicationUser streams with the password in ReplicationPasswordFile;
	// the replicas copy it to ReplicationPassFile, a libpq password file.
	ReplicationUser, ReplicationPasswordFile, ReplicationPassFile string
	// PrimaryFile and BootstrapFile are FilePrimary and
	// FileReplicaBootstrap in the pod.
	PrimaryFile, BootstrapFile string
	// CAFile verifies the primary's certificate; CertFile and KeyFile are
	// the database's, which PostgreSQL presents.
	CAFile, CertFile, KeyFile string
	// Standby is the cluster's Spec.Standby: its database follows the
	// source's repositories with StandbyCommand (FileSourcePGBackRest),
	// which reads StandbyConfFile and StandbyEnvFile of the Secret
	// StandbySourceSecret at StandbySourceDir.
	Standby                                           *StandbySpec
	StandbyCommand, StandbySourceSecret               string
	StandbySourceDir, StandbyConfFile, StandbyEnvFile string
	// StandbyHost and StandbyPort are Standby.Host's; StandbyPassFile is
	// the libpq password file of the streaming from it, made from
	// StandbyPasswordFile, and StandbyCAFile verifies its certificate.
	StandbyHost, StandbyPort                            string
	StandbyPassFile, StandbyPasswordFile, StandbyCAFile string
}

// renderFiles renders every file of the pgBackRest ConfigMap.
func renderFiles(spec Spec) (map[string]string, error) {
	files := map[string]string{}

	db, err := databaseHost(spec).Config()
	if err != nil {
		return nil, err
	}
	files[FileDatabaseConf] = db.String()
	rh, err := repositoryHost(spec).Config()
	if err != nil {
		return nil, err
	}
	files[FileRepoConf] = rh.String()

	v := fileValues{
		Cluster:         spec.Name,
		PGData:          DataDirectory(spec.Name),
		PostgresBinDir:  postgresBinDir(spec.PostgresVersion),
		PostgresPort:    postgresPort,
		SocketDir:       socketDir,
		ConfigDir:       configDir,
		HBAFile:         configDir + "/" + FileHBAConf,
		PostgresConf:    configDir + "/" + FilePostgresConf,
		PasswordFile:    PasswordFile,
		Superuser:       Superuser,
		Stanza:          repo.StanzaName,
		RepoPath:        spec.RepoPath,
		BackupInfo:      spec.RepoPath + "/backup/" + repo.StanzaName + "/backup.info",
		StanzaChecked:   StanzaCheckedFile,
		LocalRepo:       spec.HasLocalRepo(),
		Service:         ServiceName(spec.Name),
		ReplicationUser: ReplicationUser, ReplicationPasswordFile: ReplicationPasswordFile,
		ReplicationPassFile: ReplicationPassFile,
		PrimaryFile:         configDir + "/" + FilePrimary, BootstrapFile: configDir + "/" + FileReplicaBootstrap,
		CAFile: tlsDir + "/" + KeyCACert, CertFile: tlsDir + "/" + KeyDBCert, KeyFile: tlsDir + "/" + KeyDBKey,
		Standby: spec.Standby, StandbyCommand: StandbySourceCommand, StandbySourceSecret: StandbySourceSecretName(spec.Name),
		StandbySourceDir: standbySourceDir, StandbyConfFile: StandbyKeyConfig, StandbyEnvFile: StandbyKeyEnv,
		StandbyPassFile:     "/tmp/standby-source.pgpass",
		StandbyPasswordFile: standbySourceDir + "/" + StandbyKeyReplicationPassword,
		StandbyCAFile:       standbySourceDir + "/" + StandbyKeyPostgresCA,
	}
	if spec.Standby != nil && spec.Standby.Host != "" {
		v.StandbyHost, v.StandbyPort, _ = net.SplitHostPort(spec.Standby.Host)
	}
	files[FilePrimary] = spec.PrimaryInstance()
	files[FileReplicaBootstrap] = spec.ReplicaBootstrap
	names := []string{FilePostgresConf, FileHBAConf, FileStartPostgres, FileStartRepo}
	if spec.Standby != nil {
		names = append(names, FileSourcePGBackRest)
	}
	for _, name := range names {
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, name, v); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", name, err)
		}
		files[name] = b.String()
	}
	return files, nil
}

// tlsFiles are the paths of one side's TLS files, as projected from the
// repository Secret.
func tlsFiles(certKey, keyKey string) repo.TLSFiles {
	return repo.TLSFiles{
		CAFile:   tlsDir + "/" + KeyCACert,
		CertFile: tlsDir + "/" + certKey,
		KeyFile:  tlsDir + "/" + keyKey,
	}
}

// DatabaseConf is the pgbackrest.conf of the database side of spec's
// cluster, without its secrets: what reads its repositories from outside
// its pods (create cluster --restore-from).
func DatabaseConf(spec Spec) (string, error) {
	c, err := databaseHost(spec).Config()
	if err != nil {
		return "", err
	}
	return c.String(), nil
}

func databaseHost(spec Spec) repo.DatabaseHost {
	repoHost := ""
	if spec.HasLocalRepo() {
		repoHost = RepoHostName(spec.Name)
	}
	return repo.DatabaseHost{
		Repositories: spec.Repositories(),
		RepoHost:     repoHost,
		PGPath:       DataDirectory(spec.Name),
		PGPort:       postgresPort,
		PGSocketPath: socketDir,
		PGUser:       Superuser,
		TLS:          tlsFiles(KeyDBCert, KeyDBKey),
		Server:       repo.Server{ClientCN: repoCN(spec.Name)},
		Archive:      archiveAsync(spec),
	}
}

// StandbyBackupArgs are the pgbackrest backup options that copy the files
// from the replica instance's pod, reached at its own Service.
func StandbyBackupArgs(spec Spec, instance string) []string {
	pod := InstancePodName(instance)
	return repositoryHost(spec).StandbyBackupArgs(pod, pod)
}

// InstancesBackupArgs are the pgbackrest backup options of a scheduled
// backup from a standby: every instance's pod Service as a pgN host.
func InstancesBackupArgs(spec Spec) []string {
	var pods []string
	for _, n := range spec.InstanceNames() {
		pods = append(pods, InstancePodName(n))
	}
	return repositoryHost(spec).InstancesBackupArgs(pods)
}

func repositoryHost(spec Spec) repo.RepositoryHost {
	return repo.RepositoryHost{
		Repositories: spec.Repositories(),
		PGHost:       ServiceName(spec.Name),
		PGPath:       DataDirectory(spec.Name),
		ProcessMax:   processMax(spec.RepoResources, spec.Resources),
		TLS:          tlsFiles(KeyRepoCert, KeyRepoKey),
		Server:       repo.Server{ClientCN: databaseCN(spec.Name)},
	}
}

// processMax is how many processes a backup uses: one per CPU of the
// pgBackRest containers' limit, else of the database container's
// (--cpu-limit: what the user gives the cluster), or
// repo.DefaultProcessMax without a limit. One process took 1.37x as long
// as two on 2 CPUs (docs/benchmarks.md); more than the CPUs only compete.
func processMax(pgbackrest, database Resources) int {
	limit := pgbackrest.CPULimit
	if limit == "" {
		limit = database.CPULimit
	}
	if limit == "" {
		return repo.DefaultProcessMax
	}
	q, err := resource.ParseQuantity(limit)
	if err != nil {
		return repo.DefaultProcessMax
	}
	return max(1, int(math.Ceil(float64(q.MilliValue())/1000)))
}

// filesHash is a digest of the named files, for a pod annotation.
func filesHash(files map[string]string, names []string) string {
	names = append([]string(nil), names...)
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", name, files[name])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
