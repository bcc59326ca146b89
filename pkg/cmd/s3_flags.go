package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
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
)

// s3Flags are the flags of an S3 repository and of repository encryption.
type s3Flags struct {
	Bucket, Endpoint, Region, URIStyle string
	Key, KeySecret                     string
	CredentialsSecret, CASecret        string
	VerifyTLS                          bool
	Cipher                             string
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
	fl.StringVar(&s.Cipher, flagRepoCipher, "", "Encrypt the repositories: "+cipherAES+". The passphrase is generated and kept only in the repository Secret. Cannot change later.")
}

const cipherAES = "aes-256-cbc"

func (s *s3Flags) registerCompletions(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc(flagS3URIStyle, fixedCompletions("host", "path"))
	_ = cmd.RegisterFlagCompletionFunc(flagRepoCipher, fixedCompletions(cipherAES))
}

// complete records whether any S3 flag was set.
func (s *s3Flags) complete(cmd *cobra.Command) {
	for _, name := range []string{flagS3Bucket, flagS3Endpoint, flagS3Region, flagS3Key, flagS3KeySecret,
		flagS3CredentialsSecret, flagS3URIStyle, flagS3VerifyTLS, flagS3CASecret} {
		s.given = s.given || cmd.Flags().Changed(name)
	}
}

// apply puts the flags into a Spec before Default; the Spec's Validate
// checks the values, validate below what only flags can get wrong.
func (s *s3Flags) apply(spec *cluster.Spec) {
	spec.Cipher = strings.TrimSpace(s.Cipher)
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
		return fmt.Errorf("S3 flags are given, but the storage type is %s: add --%s=s3 (or local,s3)", storageTypeList(spec.StorageType), flagStorageType)
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

// checkS3Secrets checks, before anything is applied, that the Secrets the
// S3 repository reads exist and have their keys: a missing one would
// leave the pods waiting with no clear reason.
func checkS3Secrets(ctx context.Context, c *apply.Clients, spec cluster.Spec, m cluster.Material) error {
	if spec.S3 == nil {
		return nil
	}
	ns := spec.Namespace
	need := map[string][]string{}
	if spec.S3.CredentialsSecret != cluster.RepoConfigSecretName(spec.Name) {
		need[spec.S3.CredentialsSecret] = []string{cluster.KeyS3Key, cluster.KeyS3KeySecret}
	} else if m.S3Key == "" || m.S3KeySecret == "" {
		return fmt.Errorf("cluster %q has no S3 keys in Secret %s/%s: give --%s and --%s", spec.Name, ns, spec.S3.CredentialsSecret, flagS3Key, flagS3KeySecret)
	}
	if spec.S3.CASecret != "" {
		need[spec.S3.CASecret] = append(need[spec.S3.CASecret], cluster.KeyS3CA)
	}
	for name, keys := range need {
		s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("secret %s/%s does not exist: create it with the keys %s (kubectl -n %s create secret generic %s --from-literal=...), or fix the flag; nothing was changed",
				ns, name, strings.Join(keys, ", "), ns, name)
		}
		if err != nil {
			return fmt.Errorf("cannot read Secret %s/%s: %w", ns, name, apply.APIError(c, err))
		}
		if missing := missingKeys(s, keys); len(missing) > 0 {
			return fmt.Errorf("secret %s/%s has no %s: add it; nothing was changed", ns, name, strings.Join(missing, ", "))
		}
	}
	return nil
}

func missingKeys(s *corev1.Secret, keys []string) []string {
	var missing []string
	for _, k := range keys {
		if len(s.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	return missing
}

// setKeys puts the keys given as flags into the material, for the
// repository Secret; without them the stored ones stay.
func (s *s3Flags) setKeys(m *cluster.Material) {
	if s.Key != "" {
		m.S3Key, m.S3KeySecret = s.Key, s.KeySecret
	}
}

// s3Problems are what pgBackRest says when the S3 service refuses it for
// good: waiting does not fix wrong keys, a missing bucket or a wrong CA.
var s3Problems = []struct{ text, what string }{
	{"InvalidAccessKeyId", "the access key is not known to the S3 service"},
	{"SignatureDoesNotMatch", "the secret key is wrong"},
	{"AccessDenied", "the keys may not use the bucket"},
	{"NoSuchBucket", "the bucket does not exist"},
	{"certificate verify failed", "the S3 endpoint's TLS certificate is not trusted: check --" + flagS3CASecret},
	{"unable to get local issuer", "the S3 endpoint's TLS certificate is not trusted: check --" + flagS3CASecret},
	{"unable to verify certificate", "the S3 endpoint's TLS certificate is not trusted: check --" + flagS3CASecret},
	{"S3 request failed with 403", "the S3 service refused the request (403)"},
	{"S3 request failed with 404", "the bucket or the endpoint is wrong (404)"},
}

// s3RefusedError is a create --wait that stops because S3 refused.
type s3RefusedError = apply.StopError

// s3Refused tells whether pgBackRest's status shows that the S3 repository
// refused it for good, with what to do.
func s3Refused(spec cluster.Spec, status string) error {
	if spec.S3 == nil {
		return nil
	}
	for _, p := range s3Problems {
		if !strings.Contains(status, p.text) {
			continue
		}
		s := spec.S3
		return &s3RefusedError{Msg: fmt.Sprintf("the S3 repository refused pgBackRest: %s.\npgBackRest said: %s\n"+
			"The cluster was created, but it cannot archive WAL or take backups until this is fixed. "+
			"Check bucket %q at %s, the keys in Secret %s/%s and the CA in %s; then run this create again with the right flags, "+
			"or remove the cluster with: kubectl pgo delete cluster %s -n %s",
			p.what, firstLine(status), s.Bucket, s.Endpoint, spec.Namespace, s.CredentialsSecret,
			orText(s.CASecret, "the image's CAs"), spec.Name, spec.Namespace)}
	}
	return nil
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return "Secret " + s
}

// firstLine is the first line of pgBackRest's message: the rest is the
// HTTP request it made.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
