package cluster

import (
	"bytes"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// MinCipherPassLength is the shortest passphrase accepted from the
// user's Secret. The generated ones have 43 characters.
const MinCipherPassLength = 20

// PassphraseSecret is the Secret whose KeyCipherPass encrypts the
// repositories: the user's CipherSecret, or the repository Secret with the
// generated passphrase; empty without a cipher.
func (s Spec) PassphraseSecret() string {
	switch {
	case s.Cipher == "":
		return ""
	case s.CipherSecret != "":
		return s.CipherSecret
	}
	return RepoConfigSecretName(s.Name)
}

// PassphraseLostOnDelete tells whether `delete cluster` (with
// --keep-backups when keepBackups) would delete the only passphrase the
// cluster knows of while backups it encrypted stay: a generated one
// (the repository Secret goes unless --keep-backups) with a bucket,
// whose objects delete cluster leaves alone.
func (s Spec) PassphraseLostOnDelete(keepBackups bool) bool {
	return s.Cipher != "" && s.CipherSecret == "" && !keepBackups && s.HasObjectStoreRepo()
}

// validateCipherSecret checks the name of the user's passphrase Secret:
// a Secret name, with a cipher, and none of the cluster's own Secrets,
// which go with it.
func (s Spec) validateCipherSecret() error {
	name := s.CipherSecret
	if name == "" {
		return nil
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("passphrase Secret %q is not a valid name: %s", name, strings.Join(msgs, "; "))
	}
	if s.Cipher == "" {
		return fmt.Errorf("passphrase Secret %q is given, but the repositories are not encrypted: add --pgbackrest-repo-cipher=%s", name, repo.CipherAES256)
	}
	for _, own := range []string{RepoConfigSecretName(s.Name), PostgresSecretName(s.Name), StandbySourceSecretName(s.Name), s.Name + "-restore-source"} {
		if name == own {
			return fmt.Errorf("passphrase Secret %q is one of the Secrets of cluster %q, which go with it: give a Secret of your own", name, s.Name)
		}
	}
	return nil
}

// CheckCipherPass checks a passphrase taken from the user's Secret
// (secret names it): long enough, and without white space at its ends,
// which a file written by echo has and a later copy typed by hand would
// not: the two would not be the same key.
func CheckCipherPass(secret string, pass []byte) error {
	switch {
	case len(pass) == 0:
		return fmt.Errorf("secret %s has no %s: add the passphrase under that key", secret, KeyCipherPass)
	case !bytes.Equal(bytes.TrimSpace(pass), pass):
		return fmt.Errorf("the passphrase in Secret %s (key %s) begins or ends with white space, such as the newline of a file written by echo: "+
			"store it without (kubectl create secret generic NAME --from-literal=%s=...)", secret, KeyCipherPass, KeyCipherPass)
	case len(pass) < MinCipherPassLength:
		return fmt.Errorf("the passphrase in Secret %s (key %s) has %d characters: use at least %d, e.g. from openssl rand -base64 48",
			secret, KeyCipherPass, len(pass), MinCipherPassLength)
	}
	return nil
}

// SaveCipherPassCommand is the one command that copies the generated
// passphrase of cluster name into a Secret of the user's, which delete
// cluster does not delete: SavedCipherPassSecret.
func SaveCipherPassCommand(name, namespace string) string {
	return fmt.Sprintf(`kubectl -n %[1]s create secret generic %[2]s --from-literal=%[3]s="$(kubectl -n %[1]s get secret %[4]s -o jsonpath='{.data.%[3]s}' | base64 -d)"`,
		namespace, SavedCipherPassSecret(name), KeyCipherPass, RepoConfigSecretName(name))
}

// SavedCipherPassSecret is the name SaveCipherPassCommand gives the copy.
func SavedCipherPassSecret(name string) string { return name + "-cipher-pass" }
