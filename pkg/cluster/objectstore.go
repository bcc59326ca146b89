package cluster

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// GCSSpec is where a GCS repository is. A service key or a token is not
// here: it is in the user's Secret (CredentialsSecret), mounted as a file
// (a service key) or given to pgBackRest through the environment (a
// token).
type GCSSpec struct {
	Bucket string `json:"bucket"`
	// Endpoint is host[:port], without a scheme; empty for pgBackRest's
	// storage.googleapis.com.
	Endpoint string `json:"endpoint,omitempty"`
	// KeyType is repo.GCSKeyService (a service-account key JSON, the
	// default), repo.GCSKeyToken (a bearer token, which pgBackRest does
	// not refresh) or repo.GCSKeyAuto (the workload's identity, from the
	// GCE metadata server).
	KeyType string `json:"keyType"`
	// CredentialsSecret names the user's Secret with KeyGCSServiceKey or
	// KeyGCSToken; empty for repo.GCSKeyAuto.
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
	// CASecret names a Secret whose ca.crt verifies the endpoint (and a
	// service key's token_uri); empty for the image's CAs.
	CASecret  string `json:"caSecret,omitempty"`
	VerifyTLS bool   `json:"verifyTLS"`
	// UploadChunkSize is repoN-storage-upload-chunk-size, a quantity
	// ("32Mi"); empty
	// for pgBackRest's default.
	UploadChunkSize string `json:"uploadChunkSize,omitempty"`
}

// AzureSpec is where an Azure Blob repository is. The shared key or SAS
// token is in the user's Secret (CredentialsSecret), and reaches
// pgBackRest through the environment.
type AzureSpec struct {
	Account   string `json:"account"`
	Container string `json:"container"`
	// Endpoint is host[:port], without a scheme; empty for pgBackRest's
	// blob.core.windows.net.
	Endpoint string `json:"endpoint,omitempty"`
	// URIStyle is host (account.endpoint) or path (endpoint/account, for
	// emulators).
	URIStyle string `json:"uriStyle"`
	// KeyType is repo.AzureKeyShared (the default) or repo.AzureKeySAS.
	KeyType           string `json:"keyType"`
	CredentialsSecret string `json:"credentialsSecret"`
	CASecret          string `json:"caSecret,omitempty"`
	VerifyTLS         bool   `json:"verifyTLS"`
}

// Keys of the user's GCS and Azure Secrets; their CA Secrets hold ca.crt
// (KeyS3CA), as the S3 one does.
const (
	KeyGCSServiceKey = "gcs-key.json"
	KeyGCSToken      = "gcs-token"
	KeyAzureKey      = "azure-key"
	KeyObjectStoreCA = KeyS3CA
)

// Where the GCS service key and the GCS and Azure CAs are mounted in every
// pod that runs pgBackRest, beside pgbackrest.conf.
const (
	GCSKeyFile  = pgbackrestConfigDir + "/gcs/key.json"
	GCSCAFile   = pgbackrestConfigDir + "/gcs/" + KeyObjectStoreCA
	AzureCAFile = pgbackrestConfigDir + "/azure/" + KeyObjectStoreCA
)

// GCSSecretKey is the key of the GCS credentials Secret that a key type
// reads; empty for auto, which reads none.
func GCSSecretKey(keyType string) string {
	switch keyType {
	case repo.GCSKeyToken:
		return KeyGCSToken
	case repo.GCSKeyAuto:
		return ""
	default:
		return KeyGCSServiceKey
	}
}

// defaultObjectStores fills in the GCS and Azure settings left empty.
func (s *Spec) defaultObjectStores() {
	if g := s.GCS; g != nil {
		g.KeyType = strings.ToLower(strings.TrimSpace(g.KeyType))
		if g.KeyType == "" {
			g.KeyType = repo.GCSKeyService
		}
		g.UploadChunkSize = canonicalQuantity(g.UploadChunkSize)
	}
	if a := s.Azure; a != nil {
		a.URIStyle = strings.ToLower(strings.TrimSpace(a.URIStyle))
		if a.URIStyle == "" {
			a.URIStyle = repo.URIStyleHost
		}
		a.KeyType = strings.ToLower(strings.TrimSpace(a.KeyType))
		if a.KeyType == "" {
			a.KeyType = repo.AzureKeyShared
		}
	}
}

// validateStorageTypes checks the list of repositories: each a known type,
// none twice, local first, at most MaxRepositories.
func validateStorageTypes(types []StorageType) error {
	const allowed = "local, s3, gcs or azure, or several of them joined by commas, local first (e.g. local,s3 or local,gcs,azure)"
	if len(types) == 0 {
		return fmt.Errorf("a storage type is required: use %s", allowed)
	}
	if len(types) > MaxRepositories {
		return fmt.Errorf("storage type %s has %d repositories: a cluster has at most %d, one of each type", storageTypeString(types), len(types), MaxRepositories)
	}
	seen := map[StorageType]bool{}
	for i, t := range types {
		switch {
		case !t.ObjectStore() && t != StorageLocal:
			return fmt.Errorf("storage type %q is not known: use %s (posix is the same as local)", t, allowed)
		case seen[t]:
			return fmt.Errorf("storage type %s is given twice in %s: each type is one repository, give it once", t, storageTypeString(types))
		case t == StorageLocal && i > 0:
			return fmt.Errorf("storage type %s puts local after %s: the local repository comes first (repo1), e.g. local,%s", storageTypeString(types), types[0], types[0])
		}
		seen[t] = true
	}
	return nil
}

// validateObjectStores checks the settings of every object store:
// required with its storage type, refused without it.
func (s Spec) validateObjectStores() error {
	return errors.Join(s.validateS3(), s.validateGCS(), s.validateAzure())
}

// storeSettings refuses an object store's settings without its storage
// type, and requires them with it; ok tells whether to check them.
func (s Spec) storeSettings(t StorageType, given bool, what, flags string) (bool, error) {
	has := slices.Contains(s.StorageType, t)
	switch {
	case !has && given:
		return false, fmt.Errorf("%s settings are given, but the storage type is %s: add %s to --pgbackrest-storage-type (e.g. %s or local,%s)",
			what, storageTypeString(s.StorageType), t, t, t)
	case has && !given:
		return false, fmt.Errorf("storage type %s needs %s", t, flags)
	}
	return has, nil
}

var (
	gcsBucketName      = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)
	azureAccountName   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	azureContainerName = regexp.MustCompile(`^[a-z0-9](-?[a-z0-9])+$`)
)

func (s Spec) validateGCS() error {
	ok, err := s.storeSettings(StorageGCS, s.GCS != nil, "GCS", "a bucket and a key: give --pgbackrest-gcs-bucket and --pgbackrest-gcs-key-secret")
	if !ok {
		return err
	}
	g := s.GCS
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch b := g.Bucket; {
	case b == "":
		add("storage type gcs needs a bucket: give --pgbackrest-gcs-bucket")
	case !gcsBucketName.MatchString(b) || strings.Contains(b, ".."):
		add("GCS bucket %q is not a valid bucket name: use 3 to 63 lowercase letters, digits, dots, hyphens and underscores, beginning and ending with a letter or digit", b)
	}
	errs = append(errs, validateEndpoint("GCS", g.Endpoint, "storage.googleapis.com"))
	switch g.KeyType {
	case repo.GCSKeyService, repo.GCSKeyToken:
		if g.CredentialsSecret == "" {
			add("GCS key type %s needs a Secret with %s: give --pgbackrest-gcs-key-secret", g.KeyType, GCSSecretKey(g.KeyType))
		}
	case repo.GCSKeyAuto:
		if g.CredentialsSecret != "" {
			add("GCS key type auto takes the workload's identity and reads no Secret: leave out --pgbackrest-gcs-key-secret, or choose --pgbackrest-gcs-key-type=service")
		}
	default:
		add("GCS key type %q is not known: use service (a service-account key JSON), token (a bearer token, not refreshed) or auto (the workload's identity)", g.KeyType)
	}
	if c := g.UploadChunkSize; c != "" {
		if q, err := resource.ParseQuantity(c); err != nil || q.Value() < 256<<10 || q.Value()%(256<<10) != 0 || q.Value() > 1<<30 {
			add("GCS upload chunk size %q is not valid: use a multiple of 256KiB up to 1GiB, e.g. 4MiB or 32MiB", c)
		}
	}
	errs = append(errs, validateSecretNames(map[string]string{"GCS CA Secret": g.CASecret, "GCS key Secret": g.CredentialsSecret}))
	return errors.Join(errs...)
}

func (s Spec) validateAzure() error {
	ok, err := s.storeSettings(StorageAzure, s.Azure != nil, "Azure",
		"an account, a container and a key: give --pgbackrest-azure-account, --pgbackrest-azure-container and --pgbackrest-azure-key-secret")
	if !ok {
		return err
	}
	a := s.Azure
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case a.Account == "":
		add("storage type azure needs an account: give --pgbackrest-azure-account")
	case !azureAccountName.MatchString(a.Account):
		add("Azure storage account %q is not a valid account name: use 3 to 24 lowercase letters and digits", a.Account)
	}
	switch c := a.Container; {
	case c == "":
		add("storage type azure needs a container: give --pgbackrest-azure-container")
	case len(c) < 3 || len(c) > 63 || !azureContainerName.MatchString(c):
		add("Azure container %q is not a valid container name: use 3 to 63 lowercase letters, digits and single hyphens, beginning and ending with a letter or digit", c)
	}
	errs = append(errs, validateEndpoint("Azure", a.Endpoint, "blob.core.windows.net"))
	if u := a.URIStyle; u != repo.URIStyleHost && u != repo.URIStylePath {
		add("Azure URI style %q is not known: use host (account.endpoint) or path (endpoint/account, for emulators)", u)
	}
	if k := a.KeyType; k != repo.AzureKeyShared && k != repo.AzureKeySAS {
		add("Azure key type %q is not known: use shared (the account's shared key) or sas (a SAS token)", k)
	}
	if a.CredentialsSecret == "" {
		add("storage type azure needs a key: give --pgbackrest-azure-key-secret, a Secret with %s", KeyAzureKey)
	}
	errs = append(errs, validateSecretNames(map[string]string{"Azure CA Secret": a.CASecret, "Azure key Secret": a.CredentialsSecret}))
	return errors.Join(errs...)
}

// validateEndpoint checks an optional host[:port] without a scheme.
func validateEndpoint(what, e, example string) error {
	switch host, port := splitEndpoint(e); {
	case e == "":
		return nil
	case strings.Contains(e, "://") || strings.ContainsAny(e, "/ \t'\""):
		return fmt.Errorf("%s endpoint %q is not valid: give host[:port] without a scheme or a path, e.g. %s", what, e, example)
	case host == "" || (strings.Contains(e, ":") && (port < 1 || port > 65535)):
		return fmt.Errorf("%s endpoint %q is not valid: give host[:port] with a port between 1 and 65535", what, e)
	}
	return nil
}

func validateSecretNames(names map[string]string) error {
	var errs []error
	for what, name := range names {
		if name == "" {
			continue
		}
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s %q is not a valid name: %s", what, name, strings.Join(msgs, "; ")))
		}
	}
	return errors.Join(errs...)
}

// gcsLocation is the GCS repository of g, with the mounted files' paths.
func gcsLocation(g *GCSSpec) *repo.GCSLocation {
	l := &repo.GCSLocation{Bucket: g.Bucket, Endpoint: g.Endpoint, KeyType: g.KeyType, VerifyTLS: g.VerifyTLS}
	if n := quantityBytes(g.UploadChunkSize); n > 0 {
		// pgBackRest takes bytes, not a Kubernetes quantity.
		l.UploadChunkSize = strconv.FormatInt(n, 10)
	}
	if g.KeyType == repo.GCSKeyService {
		l.KeyFile = GCSKeyFile
	}
	if g.CASecret != "" {
		l.CAFile = GCSCAFile
	}
	return l
}

// azureLocation is the Azure repository of a, with the mounted CA's path.
func azureLocation(a *AzureSpec) *repo.AzureLocation {
	l := &repo.AzureLocation{Account: a.Account, Container: a.Container, Endpoint: a.Endpoint, URIStyle: a.URIStyle, KeyType: a.KeyType, VerifyTLS: a.VerifyTLS}
	if a.CASecret != "" {
		l.CAFile = AzureCAFile
	}
	return l
}

// gcsString and azureString name a location for an error message; keys
// are not part of it.
func gcsString(g *GCSSpec) string {
	if g == nil {
		return ""
	}
	return fmt.Sprintf("bucket %s at %s (key type %s, verify TLS %t, CA Secret %s, key Secret %s, upload chunk size %s)",
		g.Bucket, orNone(g.Endpoint), g.KeyType, g.VerifyTLS, orNone(g.CASecret), orNone(g.CredentialsSecret), orNone(g.UploadChunkSize))
}

func azureString(a *AzureSpec) string {
	if a == nil {
		return ""
	}
	return fmt.Sprintf("account %s, container %s at %s (%s-style URIs, key type %s, verify TLS %t, CA Secret %s, key Secret %s)",
		a.Account, a.Container, orNone(a.Endpoint), a.URIStyle, a.KeyType, a.VerifyTLS, orNone(a.CASecret), a.CredentialsSecret)
}

// ObjectStores describes the object stores of the cluster, for messages:
// "S3 bucket b at host, GCS bucket g".
func (s Spec) ObjectStores() string {
	var parts []string
	for _, t := range s.StorageType {
		switch {
		case t == StorageS3 && s.S3 != nil:
			parts = append(parts, fmt.Sprintf("S3 bucket %s at %s", s.S3.Bucket, s.S3.Endpoint))
		case t == StorageGCS && s.GCS != nil:
			parts = append(parts, fmt.Sprintf("GCS bucket %s", s.GCS.Bucket))
		case t == StorageAzure && s.Azure != nil:
			parts = append(parts, fmt.Sprintf("Azure container %s of account %s", s.Azure.Container, s.Azure.Account))
		}
	}
	return strings.Join(parts, ", ")
}
