package repo

import (
	"fmt"
	"strconv"
)

// Defaults of the settings below, applied where a field is left zero.
const (
	DefaultServerAddress   = "0.0.0.0"
	DefaultPostgresPort    = 5432
	DefaultProcessMax      = 2
	DefaultCompressType    = "lz4"
	DefaultLogLevelConsole = "info"
)

// TLSFiles are the paths, as mounted, of one side's TLS files. The
// certificate serves both as the server certificate of this side's
// `pgbackrest server` and as the client certificate when this side dials
// the other one.
type TLSFiles struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Server is this side's `pgbackrest server`.
type Server struct {
	// Address to listen on; DefaultServerAddress when empty (pgBackRest's
	// own default, localhost, is not reachable from the other pod).
	Address string
	// Port; ServerPort when zero.
	Port int
	// ClientCN is the common name of the only client certificate the
	// server accepts: the other side's (tls-server-auth).
	ClientCN string
}

// DatabaseHost is the configuration of the database side: the
// PostgreSQL pod, where archive-push runs and where the repository host
// reads the data directory from during a backup.
type DatabaseHost struct {
	Stanza       string // StanzaName when empty
	Repositories []Repository
	// RepoHost is the address of the repository host (its Service), which
	// serves the posix repositories.
	RepoHost     string
	RepoHostPort int // ServerPort when zero

	PGPath       string
	PGPort       int // DefaultPostgresPort when zero
	PGSocketPath string
	PGUser       string

	TLS    TLSFiles
	Server Server

	// Archive is asynchronous archiving; synchronous when zero.
	Archive ArchiveAsync
}

// RepositoryHost is the configuration of the repository host: the pod
// with the posix repository, where stanza-create, backup, expire and info
// run.
type RepositoryHost struct {
	Stanza       string // StanzaName when empty
	Repositories []Repository
	// PGHost is the address of the database side (its Service).
	PGHost     string
	PGHostPort int // ServerPort when zero
	PGPath     string

	ProcessMax      int    // DefaultProcessMax when zero
	LogLevelConsole string // DefaultLogLevelConsole when empty

	TLS    TLSFiles
	Server Server
}

// Config returns the pgbackrest.conf of the database side.
func (d DatabaseHost) Config() (Config, error) {
	if err := validateRepositories(d.Repositories); err != nil {
		return Config{}, err
	}
	if d.PGPath == "" {
		return Config{}, fmt.Errorf("database side: the data directory is required")
	}
	if d.RepoHost == "" && HasPosix(d.Repositories) {
		return Config{}, fmt.Errorf("database side: a local repository needs the repository host's address")
	}
	if err := validateTLS(d.TLS, d.Server); err != nil {
		return Config{}, fmt.Errorf("database side: %w", err)
	}
	stanza := orDefault(d.Stanza, StanzaName)

	var c Config
	setCommon(&c)
	setServer(&c, d.Server, d.TLS, stanza)
	for _, r := range d.Repositories {
		setRepository(&c, r)
		if r.Type == Posix {
			c.Set("global", r.option("host"), d.RepoHost)
			c.Set("global", r.option("host-type"), "tls")
			c.Set("global", r.option("host-port"), itoa(orDefaultInt(d.RepoHostPort, ServerPort)))
			c.Set("global", r.option("host-ca-file"), d.TLS.CAFile)
			c.Set("global", r.option("host-cert-file"), d.TLS.CertFile)
			c.Set("global", r.option("host-key-file"), d.TLS.KeyFile)
		}
	}
	if d.Archive.Enabled && d.Archive.SpoolPath == "" {
		return Config{}, fmt.Errorf("database side: asynchronous archiving needs a spool path")
	}
	d.Archive.set(&c)
	c.Set(stanza, "pg1-path", d.PGPath)
	c.Set(stanza, "pg1-port", itoa(orDefaultInt(d.PGPort, DefaultPostgresPort)))
	c.Set(stanza, "pg1-socket-path", d.PGSocketPath)
	c.Set(stanza, "pg1-user", d.PGUser)
	return c, nil
}

// Config returns the pgbackrest.conf of the repository host.
func (r RepositoryHost) Config() (Config, error) {
	if err := validateRepositories(r.Repositories); err != nil {
		return Config{}, err
	}
	if r.PGHost == "" || r.PGPath == "" {
		return Config{}, fmt.Errorf("repository host: the database host and its data directory are required")
	}
	if err := validateTLS(r.TLS, r.Server); err != nil {
		return Config{}, fmt.Errorf("repository host: %w", err)
	}
	if r.ProcessMax < 0 {
		return Config{}, fmt.Errorf("repository host: process-max %d must be positive", r.ProcessMax)
	}
	stanza := orDefault(r.Stanza, StanzaName)

	var c Config
	setCommon(&c)
	setServer(&c, r.Server, r.TLS, stanza)
	c.Set("global", "process-max", itoa(orDefaultInt(r.ProcessMax, DefaultProcessMax)))
	// An on-demand backup should start now, not after the next regular
	// checkpoint (which can be minutes away).
	c.Set("global", "start-fast", "y")
	c.Set("global", "log-level-console", orDefault(r.LogLevelConsole, DefaultLogLevelConsole))
	for _, repo := range r.Repositories {
		setRepository(&c, repo)
		// Retention is applied where backup and expire run: here.
		if repo.RetentionFull > 0 {
			c.Set("global", repo.option("retention-full-type"), string(orDefault(repo.RetentionFullType, RetentionCount)))
			c.Set("global", repo.option("retention-full"), itoa(repo.RetentionFull))
		}
		if repo.RetentionDiff > 0 {
			c.Set("global", repo.option("retention-diff"), itoa(repo.RetentionDiff))
		}
	}
	for _, o := range r.pgHostOptions(1, r.PGHost) {
		c.Set(stanza, o[0], o[1])
	}
	return c, nil
}

// pgHostOptions are the options that make the database side's pgBackRest
// server at host pgN: the primary's Service is pg1 in pgbackrest.conf.
func (r RepositoryHost) pgHostOptions(n int, host string) [][2]string {
	pg := fmt.Sprintf("pg%d-", n)
	return [][2]string{
		{pg + "host", host},
		{pg + "host-type", "tls"},
		{pg + "host-port", itoa(orDefaultInt(r.PGHostPort, ServerPort))},
		{pg + "host-ca-file", r.TLS.CAFile},
		{pg + "host-cert-file", r.TLS.CertFile},
		{pg + "host-key-file", r.TLS.KeyFile},
		{pg + "path", r.PGPath},
	}
}

// AnnotationStandby is the backup annotation that names the standby a
// backup copied its files from.
const AnnotationStandby = "kubectl-pgo.standby"

// AnyStandby is AnnotationStandby's value when pgBackRest chose the
// standby among every instance (a scheduled backup).
const AnyStandby = "any"

// StandbyBackupArgs are the options of a backup that copies the files
// from the standby at host (its pgBackRest server) while the primary (pg1)
// only starts and stops it: the standby as pg2, backup-standby, and the
// annotation that names it (pod) for show backup.
func (r RepositoryHost) StandbyBackupArgs(host, pod string) []string {
	return r.standbyArgs(2, []string{host}, pod)
}

// InstancesBackupArgs are the options of a backup from a standby that
// lists every instance's host as pg1, pg2, ... in place of the primary's
// Service: pgBackRest finds which is the primary when it runs (after a
// failover too), and copies from the first standby that answers.
func (r RepositoryHost) InstancesBackupArgs(hosts []string) []string {
	return r.standbyArgs(1, hosts, AnyStandby)
}

func (r RepositoryHost) standbyArgs(first int, hosts []string, annotation string) []string {
	args := []string{"--backup-standby"}
	for i, h := range hosts {
		for _, o := range r.pgHostOptions(first+i, h) {
			args = append(args, "--"+o[0]+"="+o[1])
		}
	}
	return append(args, "--annotation="+AnnotationStandby+"="+annotation)
}

// setCommon sets what both sides share.
func setCommon(c *Config) {
	// Logs go to the console (the container log); there is no log volume.
	c.Set("global", "log-level-file", "off")
	// archive-push compresses on the database side, backup on both: the
	// same fast compression everywhere.
	c.Set("global", "compress-type", DefaultCompressType)
}

// setServer sets the options of this side's `pgbackrest server`.
func setServer(c *Config, s Server, tls TLSFiles, stanza string) {
	c.Set("global", "tls-server-address", orDefault(s.Address, DefaultServerAddress))
	c.Set("global", "tls-server-port", itoa(orDefaultInt(s.Port, ServerPort)))
	c.Set("global", "tls-server-ca-file", tls.CAFile)
	c.Set("global", "tls-server-cert-file", tls.CertFile)
	c.Set("global", "tls-server-key-file", tls.KeyFile)
	c.Set("global", "tls-server-auth", s.ClientCN+"="+stanza)
	// The server's start and stop at info, in the container log (the
	// default, warn, would show nothing of a healthy server).
	c.Set("global:server", "log-level-console", "info")
}

func validateTLS(t TLSFiles, s Server) error {
	if t.CAFile == "" || t.CertFile == "" || t.KeyFile == "" {
		return fmt.Errorf("the CA, certificate and key files are all required")
	}
	if s.ClientCN == "" {
		return fmt.Errorf("the common name of the client the server accepts is required")
	}
	return nil
}

func orDefault[S ~string](v, def S) S {
	if v == "" {
		return def
	}
	return v
}

func orDefaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func itoa(i int) string { return strconv.Itoa(i) }
