package cluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// StandbySpec makes a cluster a standby of another one, the source: its
// database replays the WAL of the source's repositories (restore_command
// with the source's pgbackrest.conf), read-only, until kubectl pgo
// promote ends that. The source need not run, nor be in this Kubernetes
// cluster: its repository is enough.
type StandbySpec struct {
	// Source names the cluster followed, and SourceNamespace its
	// namespace (empty when it is not readable from here: its repository
	// is then found in this cluster's bucket, under Source's path).
	Source          string `json:"source"`
	SourceNamespace string `json:"sourceNamespace,omitempty"`
	// Host is host:port of the source's PostgreSQL, which the standby also
	// streams from over TLS (--standby-host); empty to follow the
	// repository alone.
	Host string `json:"host,omitempty"`
}

// Keys of the Secret StandbySourceSecretName with which a standby streams
// from Host: the replication role's password on the source, and the CA
// that signed the source's database certificate.
const (
	StandbyKeyReplicationPassword = "replication-password"
	StandbyKeyPostgresCA          = "postgres-ca.crt"
)

// DefaultStandbyPort is the port of --standby-host without one.
const DefaultStandbyPort = "5432"

// NormalizeStandbyHost checks host[:port] and returns host:port.
func NormalizeStandbyHost(hostPort string) (string, error) {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		host, port = hostPort, DefaultStandbyPort
	}
	n, perr := strconv.Atoi(port)
	if host == "" || strings.ContainsAny(host, " /@'\"") || perr != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("--standby-host=%s is not host[:port], e.g. hippo.prod.svc:5432", hostPort)
	}
	return net.JoinHostPort(host, port), nil
}

// StandbySourceSecretName holds what a standby cluster's database reads
// the source's repositories with (StandbySourceData): a copy of the
// source's pgBackRest configuration, certificates and keys.
func StandbySourceSecretName(cluster string) string { return cluster + "-standby-source" }

// ComponentStandbySource is the component label of that Secret.
const ComponentStandbySource = "standby-source"

// StandbySourceCommand runs pgbackrest with the source's repositories in
// the database container of a standby cluster (FileSourcePGBackRest).
const StandbySourceCommand = configDir + "/" + FileSourcePGBackRest

// PasswordFile is the superuser's password in the database container, as
// the postgres Secret has it: promote gives it to the superuser of a
// standby's database, which has the source's until then.
const PasswordFile = configDir + "/" + KeyPassword

// standbySourceDir is where the database container of a standby cluster
// mounts the Secret StandbySourceSecretName.
const standbySourceDir = "/etc/pgbackrest-source"

// Keys of the Secret StandbySourceSecretName besides the source's TLS
// files and keys: the pgbackrest.conf that names them at standbySourceDir,
// and the variables pgBackRest reads (one "NAME key" per line: the
// variable NAME takes the value of the key).
const (
	StandbyKeyConfig = "pgbackrest.conf"
	StandbyKeyEnv    = "env-files"
)

// StandbySourceConf is the pgbackrest.conf with which a standby cluster's
// database (PGData) reads the repositories of source: its files at
// standbySourceDir, flat, as the Secret holds them under tlsKeys and
// fileKey (of a file of a repository: an object store's CA, a GCS service
// key, at its path in the source's pods). repoHost reaches the source's repository host (a name its
// certificate carries), for a source with a local repository.
func StandbySourceConf(source Spec, pgData, repoHost string, tlsKeys [3]string, fileKey func(path string) string) (string, error) {
	h := databaseHost(source)
	h.RepoHost = repoHost
	h.PGPath = pgData
	h.TLS = repo.TLSFiles{
		CAFile:   standbySourceDir + "/" + tlsKeys[0],
		CertFile: standbySourceDir + "/" + tlsKeys[1],
		KeyFile:  standbySourceDir + "/" + tlsKeys[2],
	}
	for i, r := range h.Repositories {
		h.Repositories[i] = r.MoveFiles(func(p string) string { return standbySourceDir + "/" + fileKey(p) })
	}
	c, err := h.Config()
	if err != nil {
		return "", err
	}
	return c.String(), nil
}

// validateStandby checks a standby's settings: the source is a cluster
// name and not this cluster, and nothing needs a primary of its own.
func (s Spec) validateStandby() error {
	sb := s.Standby
	if sb == nil {
		return nil
	}
	var problems []string
	if msgs := validation.IsDNS1035Label(sb.Source); len(msgs) > 0 {
		problems = append(problems, fmt.Sprintf("the standby's source %q is not a cluster name: %s", sb.Source, strings.Join(msgs, "; ")))
	}
	if sb.SourceNamespace != "" {
		if msgs := validation.IsDNS1123Label(sb.SourceNamespace); len(msgs) > 0 {
			problems = append(problems, fmt.Sprintf("the standby's source namespace %q is not valid: %s", sb.SourceNamespace, strings.Join(msgs, "; ")))
		}
	}
	if sb.Host != "" {
		if _, err := NormalizeStandbyHost(sb.Host); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if sb.Source == s.Name && (sb.SourceNamespace == "" || sb.SourceNamespace == s.Namespace) {
		problems = append(problems, fmt.Sprintf("cluster %q cannot be a standby of itself", s.Name))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// RefuseStandby is the error of an action that a standby cluster cannot
// take, nil for a cluster that is not one: its database is read-only and
// replays the source's WAL, and its repository has no backup of its own
// until it is promoted.
func (s Spec) RefuseStandby(action string) error {
	if s.Standby == nil {
		return nil
	}
	return fmt.Errorf("cluster %q is a standby of cluster %q: %s is not possible while it is one. Promote it first (kubectl pgo promote %s -n %s), or act on the source",
		s.Name, s.Standby.Source, action, s.Name, s.Namespace)
}

// StandbySourceName names the source for messages: name, or
// namespace/name when its namespace is known and not the cluster's.
func (s Spec) StandbySourceName() string {
	if s.Standby == nil {
		return ""
	}
	if ns := s.Standby.SourceNamespace; ns != "" && ns != s.Namespace {
		return ns + "/" + s.Standby.Source
	}
	return s.Standby.Source
}
