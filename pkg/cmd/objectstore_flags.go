package cmd

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// Flag names of the GCS and Azure repositories, on create cluster. Their
// keys are only ever in the user's Secrets: there are no key flags.
const (
	flagGCSBucket          = "pgbackrest-gcs-bucket"
	flagGCSEndpoint        = "pgbackrest-gcs-endpoint"
	flagGCSKeyType         = "pgbackrest-gcs-key-type"
	flagGCSKeySecret       = "pgbackrest-gcs-key-secret"
	flagGCSCASecret        = "pgbackrest-gcs-ca-secret"
	flagGCSVerifyTLS       = "pgbackrest-gcs-verify-tls"
	flagGCSUploadChunkSize = "pgbackrest-gcs-upload-chunk-size"

	flagAzureAccount   = "pgbackrest-azure-account"
	flagAzureContainer = "pgbackrest-azure-container"
	flagAzureEndpoint  = "pgbackrest-azure-endpoint"
	flagAzureURIStyle  = "pgbackrest-azure-uri-style"
	flagAzureKeyType   = "pgbackrest-azure-key-type"
	flagAzureKeySecret = "pgbackrest-azure-key-secret"
	flagAzureCASecret  = "pgbackrest-azure-ca-secret"
	flagAzureVerifyTLS = "pgbackrest-azure-verify-tls"
)

// gcsFlags are the flags of a GCS repository.
type gcsFlags struct {
	Bucket, Endpoint, KeyType, KeySecret, CASecret, UploadChunkSize string
	VerifyTLS                                                       bool
	// given is whether any GCS flag was set.
	given bool
}

func (g *gcsFlags) AddFlags(fl *pflag.FlagSet) {
	fl.StringVar(&g.Bucket, flagGCSBucket, "", "GCS bucket of the gcs repository. Cannot change later.")
	fl.StringVar(&g.Endpoint, flagGCSEndpoint, "", "GCS endpoint, host[:port] without a scheme (default storage.googleapis.com): for a private endpoint or an emulator. Cannot change later.")
	fl.StringVar(&g.KeyType, flagGCSKeyType, repo.GCSKeyService, "How pgBackRest authenticates to GCS: service (a service-account key JSON, key "+cluster.KeyGCSServiceKey+
		" of --"+flagGCSKeySecret+", mounted as a file; pgBackRest refreshes its tokens), token (a bearer token, key "+cluster.KeyGCSToken+
		"; not refreshed, so only for short-lived clusters), or auto (the workload's identity from the GCE metadata server, e.g. GKE Workload Identity; untested). Cannot change later.")
	fl.StringVar(&g.KeySecret, flagGCSKeySecret, "", "Existing Secret with the GCS key: "+cluster.KeyGCSServiceKey+" (key type service) or "+cluster.KeyGCSToken+" (token).")
	fl.StringVar(&g.CASecret, flagGCSCASecret, "", "Existing Secret whose ca.crt verifies the GCS endpoint and the service key's token_uri, instead of the image's CAs. Cannot change later.")
	fl.BoolVar(&g.VerifyTLS, flagGCSVerifyTLS, true, "Verify the GCS endpoint's TLS certificate. Cannot change later.")
	fl.StringVar(&g.UploadChunkSize, flagGCSUploadChunkSize, "", "Size of the chunks of a resumable upload, e.g. 32Mi (pgBackRest's default 4MiB when empty); a file smaller than it goes in one request. Cannot change later.")
}

func (g *gcsFlags) registerCompletions(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc(flagGCSKeyType, fixedCompletions(repo.GCSKeyService, repo.GCSKeyToken, repo.GCSKeyAuto))
}

// complete records whether any GCS flag was set.
func (g *gcsFlags) complete(cmd *cobra.Command) {
	g.given = g.given || anyChanged(cmd, flagGCSBucket, flagGCSEndpoint, flagGCSKeyType, flagGCSKeySecret, flagGCSCASecret,
		flagGCSVerifyTLS, flagGCSUploadChunkSize)
}

// apply puts the flags into a Spec before Default; its Validate checks
// them.
func (g *gcsFlags) apply(spec *cluster.Spec) {
	if !g.given && !hasStorage(spec, cluster.StorageGCS) {
		return
	}
	spec.GCS = &cluster.GCSSpec{
		Bucket: strings.TrimSpace(g.Bucket), Endpoint: strings.TrimSpace(g.Endpoint), KeyType: strings.TrimSpace(g.KeyType),
		CredentialsSecret: strings.TrimSpace(g.KeySecret), CASecret: strings.TrimSpace(g.CASecret), VerifyTLS: g.VerifyTLS,
		UploadChunkSize: strings.TrimSpace(g.UploadChunkSize),
	}
}

// azureFlags are the flags of an Azure Blob repository.
type azureFlags struct {
	Account, Container, Endpoint, URIStyle, KeyType, KeySecret, CASecret string
	VerifyTLS                                                            bool
	given                                                                bool
}

func (a *azureFlags) AddFlags(fl *pflag.FlagSet) {
	fl.StringVar(&a.Account, flagAzureAccount, "", "Azure storage account of the azure repository. Cannot change later.")
	fl.StringVar(&a.Container, flagAzureContainer, "", "Azure Blob container of the azure repository. Cannot change later.")
	fl.StringVar(&a.Endpoint, flagAzureEndpoint, "", "Azure Blob endpoint, host[:port] without a scheme (default blob.core.windows.net): for a private endpoint or an emulator. Cannot change later.")
	fl.StringVar(&a.URIStyle, flagAzureURIStyle, repo.URIStyleHost, "Azure URI style: host (account.endpoint) or path (endpoint/account, for emulators such as Azurite). Cannot change later.")
	fl.StringVar(&a.KeyType, flagAzureKeyType, repo.AzureKeyShared, "Azure key type: shared (the account's shared key, base64) or sas (a SAS token). Cannot change later.")
	fl.StringVar(&a.KeySecret, flagAzureKeySecret, "", "Existing Secret with the Azure shared key or SAS token under the key "+cluster.KeyAzureKey+".")
	fl.StringVar(&a.CASecret, flagAzureCASecret, "", "Existing Secret whose ca.crt verifies the Azure endpoint, instead of the image's CAs. Cannot change later.")
	fl.BoolVar(&a.VerifyTLS, flagAzureVerifyTLS, true, "Verify the Azure endpoint's TLS certificate. Cannot change later.")
}

func (a *azureFlags) registerCompletions(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc(flagAzureURIStyle, fixedCompletions(repo.URIStyleHost, repo.URIStylePath))
	_ = cmd.RegisterFlagCompletionFunc(flagAzureKeyType, fixedCompletions(repo.AzureKeyShared, repo.AzureKeySAS))
}

// complete records whether any Azure flag was set.
func (a *azureFlags) complete(cmd *cobra.Command) {
	a.given = a.given || anyChanged(cmd, flagAzureAccount, flagAzureContainer, flagAzureEndpoint, flagAzureURIStyle,
		flagAzureKeyType, flagAzureKeySecret, flagAzureCASecret, flagAzureVerifyTLS)
}

// apply puts the flags into a Spec before Default; its Validate checks
// them.
func (a *azureFlags) apply(spec *cluster.Spec) {
	if !a.given && !hasStorage(spec, cluster.StorageAzure) {
		return
	}
	spec.Azure = &cluster.AzureSpec{
		Account: strings.TrimSpace(a.Account), Container: strings.TrimSpace(a.Container), Endpoint: strings.TrimSpace(a.Endpoint),
		URIStyle: strings.TrimSpace(a.URIStyle), KeyType: strings.TrimSpace(a.KeyType),
		CredentialsSecret: strings.TrimSpace(a.KeySecret), CASecret: strings.TrimSpace(a.CASecret), VerifyTLS: a.VerifyTLS,
	}
}

// hasStorage tells whether the storage types given name t (before
// Default normalizes them).
func hasStorage(spec *cluster.Spec, t cluster.StorageType) bool {
	for _, s := range spec.StorageType {
		if cluster.StorageType(strings.ToLower(strings.TrimSpace(string(s)))) == t {
			return true
		}
	}
	return false
}
