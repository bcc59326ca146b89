package cluster

import (
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
)

// CheckImmutable refuses the changes that create cannot make to an
// existing cluster: old is the stored Spec, new the requested one, both
// defaulted. Each refused field is named with its old and new value. What
// may change (image, resources, retention) is applied by the next apply.
func CheckImmutable(old, new Spec) error {
	var errs []error
	refuse := func(what, oldValue, newValue, why string) {
		errs = append(errs, fmt.Errorf("%s is immutable: the cluster uses %s, the request says %s; %s",
			what, orNone(oldValue), orNone(newValue), why))
	}
	const recreate = "delete and recreate the cluster to change it"
	const notYet = "changing it is not supported yet"

	if old.Name != new.Name {
		refuse("the name", old.Name, new.Name, "create a new cluster instead")
	}
	if old.Namespace != new.Namespace {
		refuse("the namespace", old.Namespace, new.Namespace, "create a new cluster instead")
	}
	if !slices.Equal(old.StorageType, new.StorageType) {
		refuse("storage type", storageTypeString(old.StorageType), storageTypeString(new.StorageType), recreate)
	}
	if o, n := s3String(old.S3), s3String(new.S3); o != n {
		refuse("the S3 repository", o, n, recreate)
	}
	if o, n := gcsString(old.GCS), gcsString(new.GCS); o != n {
		refuse("the GCS repository", o, n, recreate)
	}
	if o, n := azureString(old.Azure), azureString(new.Azure); o != n {
		refuse("the Azure repository", o, n, recreate)
	}
	if old.Cipher != new.Cipher {
		refuse("the repository cipher", old.Cipher, new.Cipher, "the repository was written with it; "+recreate)
	}
	if old.CipherSecret != new.CipherSecret {
		refuse("the passphrase Secret", old.CipherSecret, new.CipherSecret, "the pods read the passphrase from it; "+recreate)
	}
	if old.RepoPath != new.RepoPath {
		refuse("the repository path", old.RepoPath, new.RepoPath, recreate)
	}
	if old.PostgresVersion != new.PostgresVersion {
		refuse("the PostgreSQL version", fmt.Sprint(old.PostgresVersion), fmt.Sprint(new.PostgresVersion), "kubectl pgo upgrade NAME --to=MAJOR moves a cluster to a newer major")
	}
	if !sameQuantity(old.StorageSize, new.StorageSize) {
		refuse("the storage size", old.StorageSize, new.StorageSize, notYet)
	}
	if old.StorageClass != new.StorageClass {
		refuse("the storage class", old.StorageClass, new.StorageClass, notYet)
	}
	if !sameQuantity(old.RepoPVCSize, new.RepoPVCSize) {
		refuse("the repository PVC size", old.RepoPVCSize, new.RepoPVCSize, notYet)
	}
	if old.RepoStorageClass != new.RepoStorageClass {
		refuse("the repository storage class", old.RepoStorageClass, new.RepoStorageClass, notYet)
	}
	switch {
	case old.Standby == nil && new.Standby != nil:
		refuse("being a standby", "", new.StandbySourceName(), "a cluster becomes a standby only when it is created with --standby")
	case old.Standby != nil && new.Standby != nil && *old.Standby != *new.Standby:
		refuse("the standby's source", old.StandbySourceName(), new.StandbySourceName(), "create a new standby cluster instead")
	}
	return errors.Join(errs...)
}

// sameQuantity compares sizes by value: 1Gi is 1024Mi.
func sameQuantity(a, b string) bool {
	qa, errA := resource.ParseQuantity(a)
	qb, errB := resource.ParseQuantity(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return qa.Cmp(qb) == 0
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// s3String names an S3 location for an error message; keys are not part of it.
func s3String(s *S3Spec) string {
	if s == nil {
		return ""
	}
	return fmt.Sprintf("bucket %s at %s (region %s, %s-style URIs, verify TLS %t, CA Secret %s, credentials Secret %s)",
		s.Bucket, s.Endpoint, s.Region, s.URIStyle, s.VerifyTLS, orNone(s.CASecret), s.CredentialsSecret)
}
