package cluster

import (
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// nameRule is a name derived from the cluster name, and the longest that
// name may be.
type nameRule struct {
	what string
	name func(cluster string) string
	max  int
}

// nameRules are every name derived from the cluster name that has a
// length limit. The cluster name is short enough when all of them fit.
var nameRules = []nameRule{
	{"the repository host's Service", RepoHostName, validation.DNS1035LabelMaxLength},
	{"the database Service", ServiceName, validation.DNS1035LabelMaxLength},
	// A StatefulSet's pods carry controller-revision-hash=<name>-<hash>,
	// a label value of at most 63 characters, with a hash of up to 10.
	{"the StatefulSet", StatefulSetName, validation.LabelValueMaxLength - 11},
	{"the database pod's host name", PodName, validation.DNS1123LabelMaxLength},
	{"the last replica's StatefulSet", func(c string) string { return InstanceName(c, MaxReplicas) }, validation.LabelValueMaxLength - 11},
	{"the last replica's host name", func(c string) string { return InstancePodName(InstanceName(c, MaxReplicas)) }, validation.DNS1123LabelMaxLength},
	{"the replicas' Service", ReplicasServiceName, validation.DNS1035LabelMaxLength},
	{"the label " + LabelInstance, func(c string) string { return c }, validation.LabelValueMaxLength},
	// X.509 limits a common name to 64 characters.
	{"the repository certificate's common name", repoCN, 64},
	{"the database certificate's common name", databaseCN, 64},
	{"the repository PVC", RepoPVCName, validation.DNS1123SubdomainMaxLength},
	{"the repository Secret", RepoConfigSecretName, validation.DNS1123SubdomainMaxLength},
	{"the postgres Secret", PostgresSecretName, validation.DNS1123SubdomainMaxLength},
	{"the settings ConfigMap", SettingsConfigMapName, validation.DNS1123SubdomainMaxLength},
	{"the CA ConfigMap", CAConfigMapName, validation.DNS1123SubdomainMaxLength},
	{"the pgBackRest ConfigMap", PGBackRestConfigMapName, validation.DNS1123SubdomainMaxLength},
}

// MaxNameLength is the longest cluster name whose derived names all stay
// within their limits.
func MaxNameLength() int {
	limit, _ := tightestNameRule()
	return limit
}

// tightestNameRule returns the longest allowed cluster name and the rule
// that sets it.
func tightestNameRule() (int, nameRule) {
	best, bestRule := -1, nameRule{}
	for _, r := range nameRules {
		extra := len(r.name("")) // the derived names are the cluster name plus a fixed part
		if limit := r.max - extra; best < 0 || limit < best {
			best, bestRule = limit, r
		}
	}
	return best, bestRule
}

// Validate reports everything that is wrong with the Spec, each with what
// to do about it. Call Default first.
func (s Spec) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	errs = append(errs, validateName(s.Name))
	if s.Namespace == "" {
		add("a namespace is required")
	} else if msgs := validation.IsDNS1123Label(s.Namespace); len(msgs) > 0 {
		add("namespace %q is not valid: %s", s.Namespace, strings.Join(msgs, "; "))
	}
	if !slices.Contains(PostgresVersions, s.PostgresVersion) {
		add("PostgreSQL version %d is not supported: use one of %s", s.PostgresVersion, strings.Join(PostgresVersionNames(), ", "))
	}
	if strings.TrimSpace(s.Image) == "" || strings.ContainsAny(s.Image, " \t\n") {
		add("image %q is not valid: give an image reference such as %s", s.Image, ImageFor(s.PostgresVersion))
	} else if v, ok := ProjectImageVersion(s.Image); ok && v != s.PostgresVersion && slices.Contains(PostgresVersions, s.PostgresVersion) {
		add("image %s is PostgreSQL %d, but the cluster's PostgreSQL version is %d: give --image=%s (the version is chosen once, by create cluster --postgres-version)",
			s.Image, v, s.PostgresVersion, ImageFor(s.PostgresVersion))
	}
	errs = append(errs,
		validateSize("storage size", s.StorageSize),
		validateSize("repository PVC size", s.RepoPVCSize),
		validateStorageClass("storage class", s.StorageClass),
		validateStorageClass("repository storage class", s.RepoStorageClass),
		validateStorageTypes(s.StorageType),
		s.validateObjectStores(),
		validateCipher(s.Cipher),
		s.validateCipherSecret(),
		s.validateArchiveAsync(),
		validateResources("database", s.Resources),
		validateResources("pgBackRest", s.RepoResources),
	)
	errs = append(errs, s.validateReplicas(), s.validateStandby())
	if s.Name != "" { // without a name, Default cannot set the path either
		errs = append(errs, validateRepoPath(s.RepoPath))
	}
	errs = append(errs, validateRetention(s.RetentionFull, s.RetentionFullType, s.RetentionDiff))
	return errors.Join(errs...)
}

// validateRetention checks the retention of the repositories. Zero is
// refused for the full retention (Default sets it) and means unset for
// the differential one.
func validateRetention(full int, fullType repo.RetentionType, diff int) error {
	var errs []error
	unit := "full backups"
	switch fullType {
	case repo.RetentionCount:
	case repo.RetentionTime:
		unit = "days"
	default:
		errs = append(errs, fmt.Errorf("full backup retention type %q is not known: use %s (keep N full backups) or %s (keep N days of full backups)",
			fullType, repo.RetentionCount, repo.RetentionTime))
	}
	if full < 1 || full > repo.MaxRetention {
		errs = append(errs, fmt.Errorf("full backup retention %d is not valid: keep between 1 and %d %s", full, repo.MaxRetention, unit))
	}
	if diff < 0 || diff > repo.MaxRetention {
		errs = append(errs, fmt.Errorf("differential backup retention %d is not valid: keep between 1 and %d differential backups", diff, repo.MaxRetention))
	}
	return errors.Join(errs...)
}

func validateName(name string) error {
	if name == "" {
		return fmt.Errorf("a cluster name is required")
	}
	if msgs := validation.IsDNS1035Label(name); len(msgs) > 0 {
		return fmt.Errorf("cluster name %q is not valid: %s", name, strings.Join(msgs, "; "))
	}
	if limit, rule := tightestNameRule(); len(name) > limit {
		return fmt.Errorf("cluster name %q is too long (%d characters): %s would be %q, longer than %d characters; use a name of at most %d characters",
			name, len(name), rule.what, rule.name(name), rule.max, limit)
	}
	return nil
}

func validateSize(what, value string) error {
	if value == "" {
		return fmt.Errorf("a %s is required, e.g. 1Gi", what)
	}
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return fmt.Errorf("%s %q is not a quantity: use a size such as 512Mi or 10Gi", what, value)
	}
	if q.Sign() <= 0 {
		return fmt.Errorf("%s %q must be more than zero: use a size such as 512Mi or 10Gi", what, value)
	}
	return nil
}

func validateStorageClass(what, value string) error {
	if value == "" {
		return nil
	}
	if msgs := validation.IsDNS1123Subdomain(value); len(msgs) > 0 {
		return fmt.Errorf("%s %q is not a valid name: %s", what, value, strings.Join(msgs, "; "))
	}
	return nil
}

func validateRepoPath(p string) error {
	if p == "" {
		return fmt.Errorf("a repository path is required, e.g. %s", DefaultRepoPath("NAME"))
	}
	// The local repository lives on the repository host's PVC.
	if p != path.Clean(p) || !strings.HasPrefix(p, repoMountPath+"/") || strings.ContainsAny(p, " \t\n'\"\\$`") {
		return fmt.Errorf("repository path %q is not valid: use a clean path under %s/, without spaces or quotes", p, repoMountPath)
	}
	return nil
}

func validateResources(container string, r Resources) error {
	var errs []error
	parse := func(what, value string) *resource.Quantity {
		if value == "" {
			return nil
		}
		q, err := resource.ParseQuantity(value)
		if err != nil || q.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("%s %s %q is not valid: use a positive quantity such as 500m or 1 for CPU, 256Mi or 1Gi for memory", container, what, value))
			return nil
		}
		return &q
	}
	cpuReq, cpuLim := parse("CPU request", r.CPURequest), parse("CPU limit", r.CPULimit)
	memReq, memLim := parse("memory request", r.MemoryRequest), parse("memory limit", r.MemoryLimit)
	if cpuReq != nil && cpuLim != nil && cpuReq.Cmp(*cpuLim) > 0 {
		errs = append(errs, fmt.Errorf("%s CPU request %s is more than its limit %s: raise the limit or lower the request", container, r.CPURequest, r.CPULimit))
	}
	if memReq != nil && memLim != nil && memReq.Cmp(*memLim) > 0 {
		errs = append(errs, fmt.Errorf("%s memory request %s is more than its limit %s: raise the limit or lower the request", container, r.MemoryRequest, r.MemoryLimit))
	}
	return errors.Join(errs...)
}

// Repositories are the pgBackRest repositories of the cluster, in the
// order of StorageType: repo1, repo2...
func (s Spec) Repositories() []repo.Repository {
	repos := make([]repo.Repository, 0, len(s.StorageType))
	for i, t := range s.StorageType {
		// Every repository keeps the same backups.
		r := repo.Repository{
			Index: i + 1, Path: s.RepoPath,
			RetentionFull: s.RetentionFull, RetentionFullType: s.RetentionFullType, RetentionDiff: s.RetentionDiff,
			Cipher: s.Cipher, Block: s.BlockIncremental,
		}
		switch t {
		case StorageLocal, StoragePosix:
			r.Type = repo.Posix
		case StorageS3:
			r.Type = repo.S3
			if s.S3 != nil {
				host, port := splitEndpoint(s.S3.Endpoint)
				r.S3 = &repo.S3Location{
					Bucket: s.S3.Bucket, Endpoint: host, Port: port, Region: s.S3.Region,
					URIStyle: s.S3.URIStyle, VerifyTLS: s.S3.VerifyTLS,
				}
				if s.S3.CASecret != "" {
					r.S3.CAFile = S3CAFile
				}
			}
		case StorageGCS:
			r.Type = repo.GCS
			if s.GCS != nil {
				r.GCS = gcsLocation(s.GCS)
			}
		case StorageAzure:
			r.Type = repo.Azure
			if s.Azure != nil {
				r.Azure = azureLocation(s.Azure)
			}
		default:
			r.Type = repo.Type(t)
		}
		repos = append(repos, r)
	}
	return repos
}

// S3CAFile is where the S3 CA (Spec.S3.CASecret) is mounted in every pod
// that runs pgBackRest.
const S3CAFile = pgbackrestConfigDir + "/s3/" + KeyS3CA

// splitEndpoint splits host[:port]; the port is 0 when absent or invalid
// (validateS3 reports an invalid one).
func splitEndpoint(endpoint string) (string, int) {
	host, portText, err := net.SplitHostPort(endpoint)
	if err != nil {
		return endpoint, 0
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return host, 0
	}
	return host, port
}

// validateS3 checks the S3 settings: required with the s3 storage type,
// refused without it.
func (s Spec) validateS3() error {
	if !s.HasS3Repo() {
		if s.S3 != nil {
			return fmt.Errorf("S3 settings are given, but the storage type is %s: use --pgbackrest-storage-type=s3 or local,s3", storageTypeString(s.StorageType))
		}
		return nil
	}
	if s.S3 == nil {
		return fmt.Errorf("storage type s3 needs a bucket and an endpoint: give --pgbackrest-s3-bucket and --pgbackrest-s3-endpoint")
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	b := s.S3.Bucket
	switch {
	case b == "":
		add("storage type s3 needs a bucket: give --pgbackrest-s3-bucket")
	case len(b) < 3 || len(b) > 63 || len(validation.IsDNS1123Subdomain(b)) > 0:
		add("S3 bucket %q is not a valid bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens", b)
	}
	if s.S3.Endpoint == "" {
		add("storage type s3 needs an endpoint: give --pgbackrest-s3-endpoint, e.g. s3.eu-west-1.amazonaws.com or minio.example:9000")
	}
	errs = append(errs, validateEndpoint("S3", s.S3.Endpoint, "s3.eu-west-1.amazonaws.com"))
	if r := s.S3.Region; strings.ContainsAny(r, " \t'\"/") {
		add("S3 region %q is not valid, e.g. us-east-1", r)
	}
	if u := s.S3.URIStyle; u != "host" && u != "path" {
		add("S3 URI style %q is not known: use host (bucket.endpoint) or path (endpoint/bucket)", u)
	}
	errs = append(errs, validateSecretNames(map[string]string{"S3 CA Secret": s.S3.CASecret, "S3 credentials Secret": s.S3.CredentialsSecret}))
	return errors.Join(errs...)
}

func validateCipher(cipher string) error {
	if cipher != "" && cipher != repo.CipherAES256 {
		return fmt.Errorf("cipher %q is not supported: use %s (pgBackRest's only cipher), or none", cipher, repo.CipherAES256)
	}
	return nil
}

// validateReplicas checks the number of replicas, and that the primary is
// one of the instances.
func (s Spec) validateReplicas() error {
	if s.Replicas < 0 || s.Replicas > MaxReplicas {
		return fmt.Errorf("--replicas=%d is out of range: give 0 to %d (each replica is a full copy of the data)", s.Replicas, MaxReplicas)
	}
	if s.BackupStandby && s.Replicas == 0 {
		return fmt.Errorf("--pgbackrest-backup-standby needs a replica to back up from: give --replicas=1 or more")
	}
	if s.Primary != "" && s.Name != "" && !slices.Contains(s.InstanceNames(), s.Primary) {
		return fmt.Errorf("instance %s is the primary, and %d replicas would remove it: keep at least %d replicas", s.Primary, s.Replicas, instanceIndex(s.Name, s.Primary))
	}
	return nil
}

// instanceIndex is i of InstanceName(cluster, i) == instance; 0 when it is
// not one.
func instanceIndex(cluster, instance string) int {
	for i := 1; i <= MaxReplicas; i++ {
		if InstanceName(cluster, i) == instance {
			return i
		}
	}
	return 0
}

// ProjectImageVersion is the PostgreSQL major of one of the project's
// images (ImageRepository:MAJOR, maybe with a digest); not ok for any other
// image, whose major only the pod can tell.
func ProjectImageVersion(image string) (int, bool) {
	ref, _, _ := strings.Cut(strings.TrimSpace(image), "@")
	tag, ok := strings.CutPrefix(ref, ImageRepository+":")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(tag)
	return v, err == nil
}

// PostgresVersionNames are PostgresVersions as strings, for flags and
// messages.
func PostgresVersionNames() []string {
	s := make([]string, len(PostgresVersions))
	for i, v := range PostgresVersions {
		s[i] = strconv.Itoa(v)
	}
	return s
}
