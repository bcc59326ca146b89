package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Flag names of the S3 repository and of encryption, on create cluster.
const (
	flagS3Bucket            = "pgbackrest-s3-bucket"
	flagS3Endpoint          = "pgbackrest-s3-endpoint"
	flagS3Region            = "pgbackrest-s3-region"
	flagS3Key               = "pgbackrest-s3-key"
	flagS3KeySecret         = "pgbackrest-s3-key-secret"
	flagS3CredentialsSecret = "pgbackrest-s3-credentials-secret"
	flagS3URIStyle          = "pgbackrest-s3-uri-style"
	flagS3VerifyTLS         = "pgbackrest-s3-verify-tls"
	flagS3CASecret          = "pgbackrest-s3-ca-secret"
	flagRepoCipher          = "pgbackrest-repo-cipher"
	flagRepoCipherSecret    = "pgbackrest-repo-cipher-secret"
)

// s3Flags are the flags of an S3 repository and of repository encryption.
type s3Flags struct {
	Bucket, Endpoint, Region, URIStyle string
	Key, KeySecret                     string
	CredentialsSecret, CASecret        string
	VerifyTLS                          bool
	Cipher, CipherSecret               string
	// given is whether any S3 flag was set.
	given bool
}

func (s *s3Flags) AddFlags(fl *pflag.FlagSet) {
	fl.StringVar(&s.Bucket, flagS3Bucket, "", "S3 bucket of the s3 repository. Cannot change later.")
	fl.StringVar(&s.Endpoint, flagS3Endpoint, "", "S3 endpoint, host[:port] without a scheme, e.g. s3.eu-west-1.amazonaws.com. Cannot change later.")
	fl.StringVar(&s.Region, flagS3Region, "", "S3 region (default "+cluster.DefaultS3Region+"). Cannot change later.")
	fl.StringVar(&s.Key, flagS3Key, "", "S3 access key; kept in the cluster's repository Secret. Or use --"+flagS3CredentialsSecret+".")
	fl.StringVar(&s.KeySecret, flagS3KeySecret, "", "S3 secret key; kept in the cluster's repository Secret. Or use --"+flagS3CredentialsSecret+".")
	fl.StringVar(&s.CredentialsSecret, flagS3CredentialsSecret, "", "Existing Secret with the S3 keys "+cluster.KeyS3Key+" and "+cluster.KeyS3KeySecret+", instead of the key flags.")
	fl.StringVar(&s.URIStyle, flagS3URIStyle, "host", "S3 URI style: host (bucket.endpoint) or path (endpoint/bucket). Cannot change later.")
	fl.BoolVar(&s.VerifyTLS, flagS3VerifyTLS, true, "Verify the S3 endpoint's TLS certificate. Cannot change later.")
	fl.StringVar(&s.CASecret, flagS3CASecret, "", "Existing Secret whose "+cluster.KeyS3CA+" verifies the S3 endpoint, instead of the image's CAs. Cannot change later.")
	fl.StringVar(&s.Cipher, flagRepoCipher, "", "Encrypt the repositories: "+cipherAES+". The passphrase is generated and kept in the repository Secret, unless --"+flagRepoCipherSecret+" gives your own. Cannot change later.")
	fl.StringVar(&s.CipherSecret, flagRepoCipherSecret, "", fmt.Sprintf("Encrypt the repositories ("+cipherAES+") with the passphrase in the key %s of this existing Secret of yours (at least %d characters), "+
		"which delete cluster never deletes: the backups stay readable after the cluster is gone. Cannot change later.", cluster.KeyCipherPass, cluster.MinCipherPassLength))
}

const cipherAES = "aes-256-cbc"

func (s *s3Flags) registerCompletions(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc(flagS3URIStyle, fixedCompletions("host", "path"))
	_ = cmd.RegisterFlagCompletionFunc(flagRepoCipher, fixedCompletions(cipherAES))
}

// complete records whether any S3 flag was set.
func (s *s3Flags) complete(cmd *cobra.Command) {
	s.given = s.given || anyChanged(cmd, flagS3Bucket, flagS3Endpoint, flagS3Region, flagS3Key, flagS3KeySecret,
		flagS3CredentialsSecret, flagS3URIStyle, flagS3VerifyTLS, flagS3CASecret)
}

// anyChanged says whether any of the named flags was given.
func anyChanged(cmd *cobra.Command, names ...string) bool {
	for _, name := range names {
		if cmd.Flags().Changed(name) {
			return true
		}
	}
	return false
}

// apply puts the flags into a Spec before Default; the Spec's Validate
// checks the values, validate below what only flags can get wrong.
func (s *s3Flags) apply(spec *cluster.Spec) {
	spec.Cipher = strings.TrimSpace(s.Cipher)
	if spec.CipherSecret = strings.TrimSpace(s.CipherSecret); spec.CipherSecret != "" && spec.Cipher == "" {
		spec.Cipher = cipherAES
	}
	if !s.given && !spec.HasS3Repo() {
		return
	}
	spec.S3 = &cluster.S3Spec{
		Bucket:            strings.TrimSpace(s.Bucket),
		Endpoint:          strings.TrimSpace(s.Endpoint),
		Region:            strings.TrimSpace(s.Region),
		URIStyle:          strings.TrimSpace(s.URIStyle),
		VerifyTLS:         s.VerifyTLS,
		CASecret:          strings.TrimSpace(s.CASecret),
		CredentialsSecret: strings.TrimSpace(s.CredentialsSecret),
	}
}

// validate checks where the keys come from: flags or a Secret, not both,
// and both keys.
func (s *s3Flags) validate(spec cluster.Spec) error {
	keyFlags := s.Key != "" || s.KeySecret != ""
	switch {
	case !spec.HasS3Repo() && (keyFlags || s.given):
		return fmt.Errorf("S3 flags are given, but the storage type is %s: add s3 to --%s (e.g. s3 or local,s3)", storageTypeList(spec.StorageType), flagStorageType)
	case !spec.HasS3Repo():
		return nil
	case keyFlags && s.CredentialsSecret != "":
		return fmt.Errorf("the S3 keys are given both as flags and as --%s: use one of them", flagS3CredentialsSecret)
	case keyFlags && (s.Key == "" || s.KeySecret == ""):
		return fmt.Errorf("give both --%s and --%s", flagS3Key, flagS3KeySecret)
	case !keyFlags && s.CredentialsSecret == "":
		return fmt.Errorf("storage type s3 needs keys: give --%s and --%s, or --%s with a Secret that holds %s and %s",
			flagS3Key, flagS3KeySecret, flagS3CredentialsSecret, cluster.KeyS3Key, cluster.KeyS3KeySecret)
	case strings.ContainsAny(s.Key+s.KeySecret, " \t\n"):
		return fmt.Errorf("the S3 keys contain white space: check --%s and --%s", flagS3Key, flagS3KeySecret)
	}
	return nil
}

func storageTypeList(types []cluster.StorageType) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}
