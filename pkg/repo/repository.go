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
	// GCS is a repository in a Google Cloud Storage bucket, reached like S3.
	GCS Type = "gcs"
	// Azure is a repository in an Azure Blob Storage container, reached like S3.
	Azure Type = "azure"
)

// Key types of a GCS repository (repoN-gcs-key-type).
const (
	// GCSKeyService: repoN-gcs-key is the path of a service-account key JSON file, from which
	// pgBackRest gets and refreshes tokens at the key's token_uri.
	GCSKeyService = "service"
	// GCSKeyToken: repoN-gcs-key is a bearer token, which pgBackRest does not refresh.
	GCSKeyToken = "token"
	// GCSKeyAuto: the token comes from the GCE metadata server (the workload's identity).
	GCSKeyAuto = "auto"
)

// Key types of an Azure repository (repoN-azure-key-type).
const (
	AzureKeyShared = "shared"
	AzureKeySAS    = "sas"
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
	// S3 is where an S3 repository is; nil for the other types.
	S3 *S3Location
	// GCS is where a GCS repository is; nil for the other types.
	GCS *GCSLocation
	// Azure is where an Azure repository is; nil for the other types.
	Azure *AzureLocation
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

// GCSLocation is where a GCS repository is, and how to reach it. A token reaches pgBackRest
// only through the environment (GCSKeyEnv); a service key is a file mounted from a Secret.
type GCSLocation struct {
	Bucket string
	// Endpoint is host[:port], without a scheme; pgBackRest's storage.googleapis.com when empty.
	Endpoint string
	// KeyType is GCSKeyService (the default), GCSKeyToken or GCSKeyAuto.
	KeyType string
	// KeyFile is the service key JSON as mounted, for GCSKeyService.
	KeyFile   string
	VerifyTLS bool
	// CAFile is the CA bundle to verify the endpoint (and a service key's token_uri) with, as
	// mounted; empty for the system's CAs.
	CAFile string
	// UploadChunkSize is repoN-storage-upload-chunk-size ("32MiB"); pgBackRest's default when
	// empty.
	UploadChunkSize string
}

// AzureLocation is where an Azure repository is, and how to reach it. The shared key or SAS
// token reaches pgBackRest only through the environment (AzureKeyEnv).
type AzureLocation struct {
	Account   string
	Container string
	// Endpoint is host[:port], without a scheme; pgBackRest's blob.core.windows.net when empty.
	Endpoint string
	// URIStyle is URIStyleHost (account.endpoint, the default) or URIStylePath
	// (endpoint/account, for emulators).
	URIStyle string
	// KeyType is AzureKeyShared (the default) or AzureKeySAS.
	KeyType   string
	VerifyTLS bool
	CAFile    string
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

// GCSKeyEnv is the environment variable that carries a GCS repository's token.
func (r Repository) GCSKeyEnv() string { return r.env("gcs-key") }

// AzureKeyEnv is the environment variable that carries an Azure repository's shared key or SAS
// token.
func (r Repository) AzureKeyEnv() string { return r.env("azure-key") }

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
	SecretGCSToken    Secret = "gcs-token"
	SecretAzureKey    Secret = "azure-key"
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
	switch {
	case r.Type == S3:
		s = append(s, SecretEnv{SecretS3Key, r.KeyEnv()}, SecretEnv{SecretS3KeySecret, r.KeySecretEnv()})
	case r.Type == GCS && r.GCS != nil && r.GCS.KeyType == GCSKeyToken:
		s = append(s, SecretEnv{SecretGCSToken, r.GCSKeyEnv()})
	case r.Type == Azure:
		s = append(s, SecretEnv{SecretAzureKey, r.AzureKeyEnv()})
	}
	if r.Cipher != "" {
		s = append(s, SecretEnv{SecretCipherPass, r.CipherPassEnv()})
	}
	return s
}

// Name is how commands and their output name a repository: "repo1 (local)".
func (r Repository) Name() string {
	kind := string(r.Type)
	if r.Type == Posix {
		kind = "local"
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
	for _, l := range []struct {
		t    Type
		name string
		set  bool
	}{{S3, "S3", r.S3 != nil}, {GCS, "GCS", r.GCS != nil}, {Azure, "Azure", r.Azure != nil}} {
		if l.set && l.t != r.Type {
			return fmt.Errorf("repo%d: a %s repository has no %s location", r.Index, r.Type, l.name)
		}
	}
	switch r.Type {
	case Posix:
		return nil
	case S3:
		return r.S3.validate(r.Index)
	case GCS:
		return r.GCS.validate(r.Index)
	case Azure:
		return r.Azure.validate(r.Index)
	default:
		return fmt.Errorf("repo%d: unknown repository type %q (allowed: %s, %s, %s, %s)", r.Index, r.Type, Posix, S3, GCS, Azure)
	}
}

func (g *GCSLocation) validate(index int) error {
	switch {
	case g == nil || g.Bucket == "":
		return fmt.Errorf("repo%d: a GCS repository needs a bucket", index)
	case g.KeyType != "" && g.KeyType != GCSKeyService && g.KeyType != GCSKeyToken && g.KeyType != GCSKeyAuto:
		return fmt.Errorf("repo%d: GCS key type %q is not %s, %s or %s", index, g.KeyType, GCSKeyService, GCSKeyToken, GCSKeyAuto)
	case (g.KeyType == "" || g.KeyType == GCSKeyService) && g.KeyFile == "":
		return fmt.Errorf("repo%d: a GCS service key needs its file", index)
	}
	return nil
}

func (a *AzureLocation) validate(index int) error {
	switch {
	case a == nil || a.Account == "" || a.Container == "":
		return fmt.Errorf("repo%d: an Azure repository needs an account and a container", index)
	case a.URIStyle != "" && a.URIStyle != URIStyleHost && a.URIStyle != URIStylePath:
		return fmt.Errorf("repo%d: URI style %q is not %s or %s", index, a.URIStyle, URIStyleHost, URIStylePath)
	case a.KeyType != "" && a.KeyType != AzureKeyShared && a.KeyType != AzureKeySAS:
		return fmt.Errorf("repo%d: Azure key type %q is not %s or %s", index, a.KeyType, AzureKeyShared, AzureKeySAS)
	}
	return nil
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
		setTLS(c, r, s.VerifyTLS, s.CAFile)
	}
	if g := r.GCS; g != nil {
		c.Set("global", r.option("gcs-bucket"), g.Bucket)
		c.Set("global", r.option("gcs-endpoint"), g.Endpoint)
		c.Set("global", r.option("gcs-key-type"), orDefault(g.KeyType, GCSKeyService))
		if orDefault(g.KeyType, GCSKeyService) == GCSKeyService {
			// The path of the mounted key file, not the key.
			c.Set("global", r.option("gcs-key"), g.KeyFile)
		}
		c.Set("global", r.option("storage-upload-chunk-size"), g.UploadChunkSize)
		setTLS(c, r, g.VerifyTLS, g.CAFile)
	}
	if a := r.Azure; a != nil {
		// The account is a name, not a secret (pgBackRest only keeps it off command lines).
		c.Set("global", r.option("azure-account"), a.Account)
		c.Set("global", r.option("azure-container"), a.Container)
		c.Set("global", r.option("azure-endpoint"), a.Endpoint)
		c.Set("global", r.option("azure-uri-style"), orDefault(a.URIStyle, URIStyleHost))
		c.Set("global", r.option("azure-key-type"), orDefault(a.KeyType, AzureKeyShared))
		setTLS(c, r, a.VerifyTLS, a.CAFile)
	}
}

// setTLS sets how an object store's certificate is verified.
func setTLS(c *Config, r Repository, verify bool, caFile string) {
	c.Set("global", r.option("storage-verify-tls"), yesNo(verify))
	if caFile != "" {
		c.Set("global", r.option("storage-ca-file"), caFile)
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

// File is a file that pgBackRest reads to use a repository, as its
// pgbackrest.conf names it: an object store's CA, a GCS service key.
type File struct {
	What string // "S3 CA", "GCS CA", "GCS service key", "Azure CA"
	Path string
}

// Files are the files that pgBackRest reads for this repository; every
// pod whose pgbackrest.conf names the repository must mount them.
func (r Repository) Files() []File {
	var files []File
	add := func(what, path string) {
		if path != "" {
			files = append(files, File{what, path})
		}
	}
	if s := r.S3; s != nil {
		add("S3 CA", s.CAFile)
	}
	if g := r.GCS; g != nil {
		add("GCS CA", g.CAFile)
		add("GCS service key", g.KeyFile)
	}
	if a := r.Azure; a != nil {
		add("Azure CA", a.CAFile)
	}
	return files
}

// MoveFiles is the repository with each of its Files at move(path): where
// another pod mounts them.
func (r Repository) MoveFiles(move func(path string) string) Repository {
	at := func(p string) string {
		if p == "" {
			return ""
		}
		return move(p)
	}
	if s := r.S3; s != nil {
		c := *s
		c.CAFile = at(c.CAFile)
		r.S3 = &c
	}
	if g := r.GCS; g != nil {
		c := *g
		c.CAFile, c.KeyFile = at(c.CAFile), at(c.KeyFile)
		r.GCS = &c
	}
	if a := r.Azure; a != nil {
		c := *a
		c.CAFile = at(c.CAFile)
		r.Azure = &c
	}
	return r
}
