package cluster

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Defaults of a Spec.
const (
	// ImageRepository holds the project's images, one tag per PostgreSQL
	// major (hack/cluster/images.sh builds them): ImageFor.
	ImageRepository        = "ghcr.io/kubectl-pgo/postgres"
	DefaultPostgresVersion = 18
	DefaultImage           = ImageRepository + ":18"
	DefaultStorageSize     = "1Gi"
	DefaultRepoPVCSize     = "2Gi"
	// DefaultRetentionFull keeps two full backups (and what depends on
	// them): one to restore from while the next one is being taken. v4 set
	// no retention, and repositories filled up.
	DefaultRetentionFull = 2
	// MaxReplicas bounds --replicas: each replica is a full copy of the
	// data, and pods beyond the nodes of a cluster share their nodes.
	MaxReplicas = 5
)

// PostgresVersions are the PostgreSQL majors a cluster may run: those the
// project builds an image of, each on the Debian suite that ships it with
// its pgBackRest (15 on bookworm with 2.45, 17 on trixie with 2.55, 18 on
// forky with 2.60).
var PostgresVersions = []int{15, 17, 18}

// BlockIncrementalByDefault tells whether a new cluster of PostgreSQL
// major version stores block incremental backups: the project's images of
// 17 and newer have pgBackRest 2.55 or newer; 15's has 2.45, which
// predates it.
func BlockIncrementalByDefault(version int) bool { return version >= 17 }

// ImageFor is the project's image of PostgreSQL major version.
func ImageFor(version int) string { return fmt.Sprintf("%s:%d", ImageRepository, version) }

// UpgradeImageRepository holds the project's upgrade images:
// UpgradeImageFor(major) is the image of major (its PostgreSQL and
// pgBackRest) with the binaries of every older major beside it
// (hack/cluster/images.sh). Upgrades run in it, and restores of an older
// major's backup from a repository host of the newer one.
const UpgradeImageRepository = "ghcr.io/kubectl-pgo/postgres-upgrade"

// UpgradeImageFor is the project's upgrade image of major version.
func UpgradeImageFor(version int) string {
	return fmt.Sprintf("%s:%d", UpgradeImageRepository, version)
}

// CompatLibDir is where an upgrade image keeps the libraries of an older
// major that its own Debian release lacks (other sonames): that major's
// programs run with it as LD_LIBRARY_PATH.
func CompatLibDir(version int) string {
	return fmt.Sprintf("/usr/lib/postgresql/%d/compat-lib", version)
}

// StorageType is a kind of pgBackRest repository, as v4's
// --pgbackrest-storage-type names it.
type StorageType string

const (
	// StorageLocal is a repository on the PVC of the repository host
	// (pgBackRest's posix type).
	StorageLocal StorageType = "local"
	// StoragePosix is v4.6's name for StorageLocal; Default turns it into
	// StorageLocal.
	StoragePosix StorageType = "posix"
	// StorageS3 is a repository in an S3 bucket (Spec.S3).
	StorageS3 StorageType = "s3"
	// StorageGCS is a repository in a Google Cloud Storage bucket (Spec.GCS).
	StorageGCS StorageType = "gcs"
	// StorageAzure is a repository in an Azure Blob Storage container
	// (Spec.Azure).
	StorageAzure StorageType = "azure"
)

// supportedStorageTypes are the values Validate accepts, after Default.
var supportedStorageTypes = []StorageType{StorageLocal, StorageS3, StorageGCS, StorageAzure}

// MaxRepositories is how many repositories a cluster may have: one of
// each storage type at most.
const MaxRepositories = 4

// ObjectStore tells whether the type is a bucket or a container that
// every pod reaches directly, without the repository host.
func (t StorageType) ObjectStore() bool {
	return t == StorageS3 || t == StorageGCS || t == StorageAzure
}

// SupportedStorageTypes are the storage types Validate accepts, for tests
// that must cover each of them.
func SupportedStorageTypes() []StorageType { return slices.Clone(supportedStorageTypes) }

// Spec is everything `create cluster` decides about a cluster. It is
// stored in the cluster (ConfigMap <name>-pgo-config), so later commands
// read it from there and need no local state.
type Spec struct {
	Name            string `json:"name"`
	Namespace       string `json:"namespace"`
	PostgresVersion int    `json:"postgresVersion"`
	Image           string `json:"image"`

	// StorageSize and StorageClass are those of the data PVC (PGDATA). An
	// empty class means the cluster's default class.
	StorageSize  string `json:"storageSize"`
	StorageClass string `json:"storageClass,omitempty"`

	// StorageType lists the repositories, in order: repo1, repo2... With
	// [local, s3], repo1 is the repository host's PVC and repo2 the bucket;
	// with [s3] alone there is no repository host. At most
	// MaxRepositories, each type once, local first.
	StorageType []StorageType `json:"storageType"`
	// S3 is the bucket of the s3 repository; nil without one.
	S3 *S3Spec `json:"s3,omitempty"`
	// GCS is the bucket of the gcs repository; nil without one.
	GCS *GCSSpec `json:"gcs,omitempty"`
	// Azure is the container of the azure repository; nil without one.
	Azure *AzureSpec `json:"azure,omitempty"`
	// RepoPath is repoN-path, the same for every repository: a directory
	// on the repository host's PVC, and the prefix in a bucket.
	RepoPath         string `json:"repoPath"`
	RepoPVCSize      string `json:"repoPVCSize"`
	RepoStorageClass string `json:"repoStorageClass,omitempty"`
	// Cipher encrypts every repository ("aes-256-cbc"); empty for none.
	// The passphrase is generated once and kept in the repository Secret,
	// unless CipherSecret names the user's own.
	Cipher string `json:"cipher,omitempty"`
	// CipherSecret, when set, is a Secret of the user's in the cluster's
	// namespace whose KeyCipherPass is the passphrase (create cluster
	// --pgbackrest-repo-cipher-secret). The plugin never writes nor
	// deletes it, so the key to the backups outlives the cluster.
	CipherSecret string `json:"cipherSecret,omitempty"`
	// RetentionFull is how many full backups each repository keeps
	// (RetentionFullType count), or for how many days (time).
	RetentionFull     int                `json:"retentionFull"`
	RetentionFullType repo.RetentionType `json:"retentionFullType"`
	// RetentionDiff is how many differential backups each repository
	// keeps; zero leaves it to pgBackRest (they go with their full backup).
	RetentionDiff int `json:"retentionDiff,omitempty"`

	// Replicas is how many streaming replicas run beside the primary, each
	// an instance of its own (InstanceNames): at most MaxReplicas.
	Replicas int `json:"replicas,omitempty"`
	// Primary is the instance that runs as the primary: every pod reads it
	// from a mounted file when it starts. Empty means the first instance,
	// the one named like the cluster.
	Primary string `json:"primary,omitempty"`
	// ReplicaBootstrap is the backup a new replica is restored from
	// (pgbackrest restore --type=standby --set=...), recorded by create and
	// update from the repository: the newest backup on the history of the
	// current timeline. Empty: a new replica copies the primary with
	// pg_basebackup.
	ReplicaBootstrap string `json:"replicaBootstrap,omitempty"`
	// BackupStandby makes backups copy the files from a streaming replica
	// (pgBackRest's backup-standby): backup without --from-standby, and the
	// schedules created while it is set.
	BackupStandby bool `json:"backupStandby,omitempty"`
	// ArchiveAsync, when set, makes archive-push and archive-get
	// asynchronous (--pgbackrest-archive-async); nil: one segment per
	// call, as pgBackRest does by default.
	ArchiveAsync *ArchiveAsyncSpec `json:"archiveAsync,omitempty"`
	// BlockIncremental stores backups bundled, and incremental backups by
	// changed block instead of changed file (pgBackRest's repo-bundle and
	// repo-block, 2.46 and newer). Set when the cluster is created, from
	// its major's image (BlockIncrementalByDefault), and fixed after.
	BlockIncremental bool `json:"blockIncremental,omitempty"`
	// Standby, when set, makes the cluster a standby of another one: see
	// StandbySpec. kubectl pgo promote clears it.
	Standby *StandbySpec `json:"standby,omitempty"`

	// Resources are those of the database container; none by default.
	Resources Resources `json:"resources,omitzero"`
	// RepoResources are those of the pgBackRest containers: the
	// repository host, and the pgBackRest server beside the database.
	RepoResources Resources `json:"repoResources,omitzero"`
}

// S3Spec is where an S3 repository is. The keys are not here: they are in
// a Secret (CredentialsSecret), and reach pgBackRest through the
// environment.
type S3Spec struct {
	Bucket string `json:"bucket"`
	// Endpoint is host[:port], without a scheme.
	Endpoint string `json:"endpoint"`
	Region   string `json:"region"`
	// URIStyle is host (bucket.endpoint) or path (endpoint/bucket).
	URIStyle string `json:"uriStyle"`
	// VerifyTLS checks the endpoint's certificate; on unless turned off.
	VerifyTLS bool `json:"verifyTLS"`
	// CASecret names a Secret whose ca.crt verifies the endpoint; empty
	// for the image's CAs.
	CASecret string `json:"caSecret,omitempty"`
	// CredentialsSecret names the Secret with the keys aws-s3-key and
	// aws-s3-key-secret (v4's names): the user's own, or the repository
	// Secret when the keys were given as flags.
	CredentialsSecret string `json:"credentialsSecret"`
}

// Keys of an S3 credentials Secret, and of an S3 CA Secret.
const (
	KeyS3Key       = "aws-s3-key"
	KeyS3KeySecret = "aws-s3-key-secret"
	KeyS3CA        = "ca.crt"
)

// DefaultS3Region is pgBackRest's required region when the user gives
// none: S3-compatible servers ignore it.
const DefaultS3Region = "us-east-1"

// HasLocalRepo tells whether the cluster has a repository host with a PVC.
func (s Spec) HasLocalRepo() bool {
	return slices.Contains(s.StorageType, StorageLocal) || slices.Contains(s.StorageType, StoragePosix)
}

// InstanceNames are the instances of the cluster, the first one first:
// one StatefulSet, PVC and pod each (InstanceName).
func (s Spec) InstanceNames() []string {
	names := make([]string, 0, 1+s.Replicas)
	for i := 0; i <= s.Replicas; i++ {
		names = append(names, InstanceName(s.Name, i))
	}
	return names
}

// PrimaryInstance is the instance that runs as the primary.
func (s Spec) PrimaryInstance() string {
	if s.Primary == "" {
		return StatefulSetName(s.Name)
	}
	return s.Primary
}

// PrimaryPod is the pod of the primary.
func (s Spec) PrimaryPod() string { return InstancePodName(s.PrimaryInstance()) }

// ReplicaInstances are the instances that run as replicas.
func (s Spec) ReplicaInstances() []string {
	var out []string
	for _, n := range s.InstanceNames() {
		if n != s.PrimaryInstance() {
			out = append(out, n)
		}
	}
	return out
}

// HasS3Repo tells whether one of the repositories is in S3.
func (s Spec) HasS3Repo() bool { return slices.Contains(s.StorageType, StorageS3) }

// HasObjectStoreRepo tells whether one of the repositories is in an
// object store (S3, GCS or Azure), whose objects outlive the cluster.
func (s Spec) HasObjectStoreRepo() bool {
	return slices.ContainsFunc(s.StorageType, StorageType.ObjectStore)
}

// Resources are the CPU and memory requests and limits of a container,
// as Kubernetes quantities ("500m", "1Gi"). Empty means not set.
type Resources struct {
	CPURequest    string `json:"cpuRequest,omitempty"`
	CPULimit      string `json:"cpuLimit,omitempty"`
	MemoryRequest string `json:"memoryRequest,omitempty"`
	MemoryLimit   string `json:"memoryLimit,omitempty"`
}

// DefaultRepoResources are small requests for the pgBackRest containers,
// without limits: a limit would slow down or kill a large backup.
var DefaultRepoResources = Resources{CPURequest: "100m", MemoryRequest: "64Mi"}

// ParseStorageType splits a --pgbackrest-storage-type value ("local",
// "local,s3") into its parts. Default normalizes them; Validate checks them.
func ParseStorageType(value string) []StorageType {
	var types []StorageType
	for _, part := range strings.Split(value, ",") {
		if part = strings.TrimSpace(part); part != "" {
			types = append(types, StorageType(part))
		}
	}
	return types
}

// String joins storage types the way the flag takes them: "local,s3".
func storageTypeString(types []StorageType) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}

// Default fills in what the user left empty, and normalizes synonyms
// (posix is local).
func (s *Spec) Default() {
	if s.PostgresVersion == 0 {
		s.PostgresVersion = DefaultPostgresVersion
	}
	if s.Image == "" {
		s.Image = ImageFor(s.PostgresVersion)
	}
	if s.StorageSize == "" {
		s.StorageSize = DefaultStorageSize
	}
	if s.RepoPVCSize == "" {
		s.RepoPVCSize = DefaultRepoPVCSize
	}
	if len(s.StorageType) == 0 {
		s.StorageType = []StorageType{StorageLocal}
	}
	// A new slice: the caller's (e.g. a flag's) stays as it was given.
	types := make([]StorageType, len(s.StorageType))
	for i, t := range s.StorageType {
		t = StorageType(strings.ToLower(strings.TrimSpace(string(t))))
		if t == StoragePosix {
			t = StorageLocal
		}
		types[i] = t
	}
	s.StorageType = types
	if s.RepoPath == "" && s.Name != "" {
		s.RepoPath = DefaultRepoPath(s.Name)
	}
	if s.S3 != nil {
		if s.S3.Region == "" {
			s.S3.Region = DefaultS3Region
		}
		if s.S3.URIStyle == "" {
			s.S3.URIStyle = "host"
		}
		s.S3.URIStyle = strings.ToLower(s.S3.URIStyle)
		if s.S3.CredentialsSecret == "" && s.Name != "" {
			s.S3.CredentialsSecret = RepoConfigSecretName(s.Name)
		}
	}
	s.defaultObjectStores()
	if s.RetentionFull == 0 {
		s.RetentionFull = DefaultRetentionFull
	}
	if s.RetentionFullType == "" {
		s.RetentionFullType = repo.RetentionCount
	}
	s.RetentionFullType = repo.RetentionType(strings.ToLower(strings.TrimSpace(string(s.RetentionFullType))))
	if s.RepoResources == (Resources{}) {
		s.RepoResources = DefaultRepoResources
	}
	// The canonical form (1024Mi is 1Gi), so that the stored Spec and
	// the objects do not change with the spelling of a flag.
	for _, q := range []*string{
		&s.StorageSize, &s.RepoPVCSize,
		&s.Resources.CPURequest, &s.Resources.CPULimit, &s.Resources.MemoryRequest, &s.Resources.MemoryLimit,
		&s.RepoResources.CPURequest, &s.RepoResources.CPULimit, &s.RepoResources.MemoryRequest, &s.RepoResources.MemoryLimit,
	} {
		*q = canonicalQuantity(*q)
	}
}

// canonicalQuantity returns the canonical form of a quantity, or the value
// as it is when it does not parse (Validate reports it).
func canonicalQuantity(value string) string {
	if value == "" {
		return ""
	}
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return value
	}
	return q.String()
}

// DefaultRepoPath is v4's repository path, so that v4 repositories and
// kubectl-pgo's are laid out the same.
func DefaultRepoPath(name string) string {
	return fmt.Sprintf("%s/%s", repoMountPath, RepoHostName(name))
}
