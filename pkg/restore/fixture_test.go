package restore

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
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

// cipherAES is the cipher of an encrypted repository.
const cipherAES = "aes-256-cbc"
