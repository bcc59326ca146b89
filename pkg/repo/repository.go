package repo

import (
	"fmt"
	"strings"
)

const (
	// StanzaName is the one stanza of every cluster, as in PGO v4, so that
	// repositories written by v4 stay readable.
	StanzaName = "db"

	// ServerPort is the port of `pgbackrest server` (TLS) on both sides.
	ServerPort = 8432
)

// Type is a pgBackRest repository type (the repoN-type option).
type Type string

const (
	// Posix is a repository on a file system: the PVC of the repository host.
	Posix Type = "posix"
	// S3 is a repository in an S3 bucket, reached directly from every pod
	// that runs pgBackRest.
	S3 Type = "s3"
)

// URI styles of an S3 endpoint (repoN-s3-uri-style).
const (
	URIStyleHost = "host"
	URIStylePath = "path"
)

// Repository is one pgBackRest repository of a cluster.
type Repository struct {
	// Index is N in repoN-*: 1 for the first repository.
	Index int
	Type  Type
	// Path is repoN-path: a directory on the repository host for Posix,
	// the prefix inside the bucket for S3.
	Path string
	// RetentionFull is repoN-retention-full: how many full backups to
	// keep (count), or for how many days (time). Zero leaves it unset, and
	// pgBackRest then warns and keeps everything.
	RetentionFull int
	// RetentionFullType is repoN-retention-full-type; RetentionCount when
	// empty.
	RetentionFullType RetentionType
	// RetentionDiff is repoN-retention-diff: how many differential
	// backups to keep. Zero leaves it unset: they go with their full
	// backup.
	RetentionDiff int
	// S3 is where an S3 repository is; nil for Posix.
	S3 *S3Location
	// Cipher is repoN-cipher-type ("aes-256-cbc"), empty for none. The
	// passphrase reaches pgBackRest only through CipherPassEnv.
	Cipher string
	// Block is repoN-bundle and repoN-block: small files bundled, and
	// incremental backups that store the changed blocks of a file, not the
	// whole file (pgBackRest 2.46 and newer).
	Block bool
}

// S3Location is where an S3 repository is, and how to reach it. The keys
// are not here: they reach pgBackRest only through the environment
// (KeyEnv, KeySecretEnv), set from a Secret.
type S3Location struct {
	Bucket   string
	Endpoint string // host name or address, without a scheme
	Port     int    // 443 when zero
	Region   string
	URIStyle string // URIStyleHost when empty
	// VerifyTLS checks the endpoint's certificate (pgBackRest's default).
	VerifyTLS bool
	// CAFile is the CA bundle to verify the endpoint with, as mounted;
	// empty for the system's CAs.
	CAFile string
}

// RetentionType is how repoN-retention-full counts: backups or days.
type RetentionType string

const (
	// RetentionCount keeps the last N full backups.
	RetentionCount RetentionType = "count"
	// RetentionTime keeps the full backups of the last N days, and the
	// newest one older than that, so that the whole window can be restored.
	RetentionTime RetentionType = "time"
)

// RetentionTypes are the values of repoN-retention-full-type.
var RetentionTypes = []RetentionType{RetentionCount, RetentionTime}

// MaxRetention is the largest retention pgBackRest accepts.
const MaxRetention = 9999999

// Option is the name of a repository option, e.g. Option("path") is
// "repo1-path" for repo1.
func (r Repository) Option(name string) string {
	return fmt.Sprintf("repo%d-%s", r.Index, name)
}

func (r Repository) option(name string) string { return r.Option(name) }

// env is the environment variable of a repository option: pgBackRest reads
// PGBACKREST_REPO2_S3_KEY as repo2-s3-key.
func (r Repository) env(name string) string {
	return "PGBACKREST_" + strings.ToUpper(strings.ReplaceAll(r.Option(name), "-", "_"))
}

// KeyEnv and KeySecretEnv are the environment variables that carry an S3
// repository's access key and secret key.
func (r Repository) KeyEnv() string       { return r.env("s3-key") }
func (r Repository) KeySecretEnv() string { return r.env("s3-key-secret") }

// CipherPassEnv is the environment variable that carries the passphrase
// of an encrypted repository.
func (r Repository) CipherPassEnv() string { return r.env("cipher-pass") }

// Secret is a secret that pgBackRest needs to use a repository, kept out
// of pgbackrest.conf and of command lines.
type Secret string

// The secrets of a repository.
const (
	SecretS3Key       Secret = "s3-key"
	SecretS3KeySecret Secret = "s3-key-secret"
	SecretCipherPass  Secret = "cipher-pass"
)

// SecretEnv is a secret of a repository and the environment variable that
// gives it to pgBackRest.
type SecretEnv struct {
	Secret Secret
	Env    string
}

// Secrets are what pgBackRest refuses to run without, for this repository
// (exit code 37, "requires option"), whatever command runs and whichever
// repository it reads: the keys of an S3 repository and the passphrase of
// an encrypted one. Every pod whose pgbackrest.conf names the repository
// must set these variables.
func (r Repository) Secrets() []SecretEnv {
	var s []SecretEnv
	if r.Type == S3 {
		s = append(s, SecretEnv{SecretS3Key, r.KeyEnv()}, SecretEnv{SecretS3KeySecret, r.KeySecretEnv()})
	}
	if r.Cipher != "" {
		s = append(s, SecretEnv{SecretCipherPass, r.CipherPassEnv()})
	}
	return s
}

// Name is how commands and their output name a repository: "repo1 (local)".
func (r Repository) Name() string {
	kind := "local"
	if r.Type == S3 {
		kind = "s3"
	}
	return fmt.Sprintf("repo%d (%s)", r.Index, kind)
}

// validate refuses what this package cannot render.
func (r Repository) validate() error {
	if r.Index < 1 {
		return fmt.Errorf("repository index %d: must be 1 or more", r.Index)
	}
	if r.Path == "" {
		return fmt.Errorf("repo%d: a path is required", r.Index)
	}
	if r.RetentionFull < 0 || r.RetentionFull > MaxRetention || r.RetentionDiff < 0 || r.RetentionDiff > MaxRetention {
		return fmt.Errorf("repo%d: a retention must be between 1 and %d (0 leaves it unset)", r.Index, MaxRetention)
	}
	if t := r.RetentionFullType; t != "" && t != RetentionCount && t != RetentionTime {
		return fmt.Errorf("repo%d: unknown retention type %q (allowed: %s, %s)", r.Index, t, RetentionCount, RetentionTime)
	}
	if r.Cipher != "" && r.Cipher != CipherAES256 {
		return fmt.Errorf("repo%d: cipher %q is not supported (allowed: %s)", r.Index, r.Cipher, CipherAES256)
	}
	switch r.Type {
	case Posix:
		if r.S3 != nil {
			return fmt.Errorf("repo%d: a posix repository has no S3 location", r.Index)
		}
		return nil
	case S3:
		return r.S3.validate(r.Index)
	default:
		return fmt.Errorf("repo%d: unknown repository type %q (allowed: %s, %s)", r.Index, r.Type, Posix, S3)
	}
}

// CipherAES256 is the one cipher pgBackRest offers.
const CipherAES256 = "aes-256-cbc"

func (s *S3Location) validate(index int) error {
	switch {
	case s == nil:
		return fmt.Errorf("repo%d: an S3 repository needs a bucket, an endpoint and a region", index)
	case s.Bucket == "" || s.Endpoint == "" || s.Region == "":
		return fmt.Errorf("repo%d: an S3 repository needs a bucket, an endpoint and a region", index)
	case s.URIStyle != "" && s.URIStyle != URIStyleHost && s.URIStyle != URIStylePath:
		return fmt.Errorf("repo%d: URI style %q is not %s or %s", index, s.URIStyle, URIStyleHost, URIStylePath)
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("repo%d: port %d is not valid", index, s.Port)
	}
	return nil
}

// setRepository sets a repository's options. Both sides get the same ones:
// an S3 repository is reached directly from wherever pgBackRest runs.
func setRepository(c *Config, r Repository) {
	c.Set("global", r.option("type"), string(r.Type))
	// The path is set on both sides: the server's worker processes read
	// only the default config file, and without repoN-path there they fall
	// back to /var/lib/pgbackrest.
	c.Set("global", r.option("path"), r.Path)
	if r.Cipher != "" {
		c.Set("global", r.option("cipher-type"), r.Cipher)
	}
	if r.Block {
		c.Set("global", r.option("bundle"), "y")
		c.Set("global", r.option("block"), "y")
	}
	if s := r.S3; s != nil {
		c.Set("global", r.option("s3-bucket"), s.Bucket)
		c.Set("global", r.option("s3-endpoint"), s.Endpoint)
		c.Set("global", r.option("s3-region"), s.Region)
		c.Set("global", r.option("s3-uri-style"), orDefault(s.URIStyle, URIStyleHost))
		if s.Port != 0 {
			c.Set("global", r.option("storage-port"), itoa(s.Port))
		}
		c.Set("global", r.option("storage-verify-tls"), yesNo(s.VerifyTLS))
		if s.CAFile != "" {
			c.Set("global", r.option("storage-ca-file"), s.CAFile)
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

// validateRepositories checks every repository, and that the indexes are
// unique.
func validateRepositories(repos []Repository) error {
	if len(repos) == 0 {
		return fmt.Errorf("at least one repository is required")
	}
	seen := map[int]bool{}
	for _, r := range repos {
		if err := r.validate(); err != nil {
			return err
		}
		if seen[r.Index] {
			return fmt.Errorf("repo%d is defined twice", r.Index)
		}
		seen[r.Index] = true
	}
	return nil
}

// HasPosix tells whether any repository is on the repository host.
func HasPosix(repos []Repository) bool {
	for _, r := range repos {
		if r.Type == Posix {
			return true
		}
	}
	return false
}
