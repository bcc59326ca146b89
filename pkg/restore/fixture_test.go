package restore

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// The fake cluster of these tests is fakecluster.New: cluster "hippo" in
// namespace "pgo", with one full backup.

// renderedFixtureStatefulSet is the StatefulSet create cluster renders for
// cluster name in namespace pgo.
func renderedFixtureStatefulSet(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range fakecluster.Render(t, cluster.Spec{Name: name, Namespace: "pgo"}, fakecluster.Material()) {
		if obj.GetKind() == "StatefulSet" {
			return obj
		}
	}
	t.Fatal("no StatefulSet")
	return nil
}

// s3Spec is a cluster whose only repository is in bucket "backups".
func s3Spec(name string) cluster.Spec {
	spec := cluster.Spec{Name: name, Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageS3},
		S3: &cluster.S3Spec{Bucket: "backups", Endpoint: "s3.pgo.svc:9000", VerifyTLS: true, CASecret: "s3-ca"}}
	spec = fakecluster.Defaulted(spec)
	return spec
}

// gcsSpec and azureSpec are GCS-only and Azure-only clusters of the user's
// Secrets gcs-key (or gcs-token), gcs-ca and azure-key.
func gcsSpec(name, keyType string) cluster.Spec {
	secret := "gcs-key"
	if keyType == repo.GCSKeyToken {
		secret = "gcs-token"
	}
	spec := cluster.Spec{Name: name, Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageGCS},
		GCS: &cluster.GCSSpec{Bucket: "backups", Endpoint: "gcs.pgo.svc:4443", KeyType: keyType, VerifyTLS: true, CredentialsSecret: secret, CASecret: "gcs-ca"}}
	spec = fakecluster.Defaulted(spec)
	return spec
}

func azureSpec(name string) cluster.Spec {
	spec := cluster.Spec{Name: name, Namespace: "pgo", StorageType: []cluster.StorageType{cluster.StorageAzure},
		Azure: &cluster.AzureSpec{Account: "acct", Container: "backups", Endpoint: "azure.pgo.svc:10000", URIStyle: "path", VerifyTLS: true, CredentialsSecret: "azure-key"}}
	spec = fakecluster.Defaulted(spec)
	return spec
}

// The values of the user's GCS and Azure Secrets.
const (
	comboGCSKey   = `{"client_email":"e","private_key":"the GCS private key","token_uri":"https://t"}`
	comboGCSToken = "the GCS token"
	comboAzureKey = "the Azure key"
)

// cipherAES is the cipher of an encrypted repository.
const cipherAES = "aes-256-cbc"
