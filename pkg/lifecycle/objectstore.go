package lifecycle

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

// secretCheck is a key of the user's Secret that a repository reads, and
// what its value must be; check says what is wrong, never the value.
type secretCheck struct {
	secret, key, flag string
	check             func(value []byte) string
}

// CheckObjectStoreSecrets checks, before anything is applied, the Secrets
// that the GCS and Azure repositories read: each exists, has its key, and
// the key is what pgBackRest takes (a GCS service key is JSON with
// client_email, private_key and token_uri; an Azure shared key is base64;
// a CA is a PEM certificate). pgBackRest would otherwise fail in every pod
// with a message that names no Secret ("[099] expected 'str' but found
// 'null'"), or keep retrying.
func CheckObjectStoreSecrets(ctx context.Context, c *apply.Clients, spec cluster.Spec) error {
	var checks []secretCheck
	if g := spec.GCS; g != nil {
		switch g.KeyType {
		case repo.GCSKeyService:
			checks = append(checks, secretCheck{g.CredentialsSecret, cluster.KeyGCSServiceKey, "--pgbackrest-gcs-key-secret", checkServiceKey})
		case repo.GCSKeyToken:
			checks = append(checks, secretCheck{g.CredentialsSecret, cluster.KeyGCSToken, "--pgbackrest-gcs-key-secret", checkToken})
		}
		if g.CASecret != "" {
			checks = append(checks, secretCheck{g.CASecret, cluster.KeyObjectStoreCA, "--pgbackrest-gcs-ca-secret", checkCA})
		}
	}
	if a := spec.Azure; a != nil {
		check := checkToken
		if a.KeyType == repo.AzureKeyShared {
			check = checkSharedKey
		}
		checks = append(checks, secretCheck{a.CredentialsSecret, cluster.KeyAzureKey, "--pgbackrest-azure-key-secret", check})
		if a.CASecret != "" {
			checks = append(checks, secretCheck{a.CASecret, cluster.KeyObjectStoreCA, "--pgbackrest-azure-ca-secret", checkCA})
		}
	}
	ns := spec.Namespace
	for _, sc := range checks {
		s, err := c.Client.CoreV1().Secrets(ns).Get(ctx, sc.secret, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%s: Secret %s/%s does not exist: create it with the key %s (kubectl -n %s create secret generic %s --from-file=%s=FILE), or fix the flag; nothing was changed",
				sc.flag, ns, sc.secret, sc.key, ns, sc.secret, sc.key)
		case err != nil:
			return fmt.Errorf("%s: cannot read Secret %s/%s: %w", sc.flag, ns, sc.secret, apply.APIError(c, err))
		case len(s.Data[sc.key]) == 0:
			return fmt.Errorf("%s: Secret %s/%s has no key %s (it has %s): add it (kubectl -n %s create secret generic %s --from-file=%s=FILE --dry-run=client -o yaml | kubectl apply -f -); nothing was changed",
				sc.flag, ns, sc.secret, sc.key, keyList(s.Data), ns, sc.secret, sc.key)
		}
		if problem := sc.check(s.Data[sc.key]); problem != "" {
			return fmt.Errorf("%s: the key %s of Secret %s/%s %s; nothing was changed", sc.flag, sc.key, ns, sc.secret, problem)
		}
	}
	return nil
}

// checkServiceKey checks a service-account key JSON for the fields
// pgBackRest reads from it.
func checkServiceKey(value []byte) string {
	var key map[string]any
	if err := json.Unmarshal(value, &key); err != nil {
		return "is not JSON (" + jsonProblem(err) + "): give the service-account key file that Google Cloud made (gcloud iam service-accounts keys create), or choose --pgbackrest-gcs-key-type=token for a bearer token"
	}
	var missing []string
	for _, field := range []string{"client_email", "private_key", "token_uri"} {
		if v, ok := key[field].(string); !ok || v == "" {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("is JSON but not a service-account key: it has no %s, which pgBackRest needs to get tokens; give the key file of a service account (\"type\": \"service_account\")",
			strings.Join(missing, ", "))
	}
	if pk := key["private_key"].(string); !strings.Contains(pk, "-----BEGIN") {
		return "has a private_key that is not a PEM key: give the key file as Google Cloud made it"
	}
	return ""
}

// jsonProblem is where the JSON breaks, without quoting the value.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return "not an object"
	}
	return "invalid"
}

// checkToken checks a bearer or SAS token: one line without spaces.
func checkToken(value []byte) string {
	if bytes.ContainsAny(value, " \t\r\n") {
		return "contains white space or a newline (a file given with --from-file keeps its last newline): store the token alone, e.g. with --from-literal or printf '%s'"
	}
	return ""
}

// checkSharedKey checks an Azure shared key: base64, as pgBackRest
// requires before it sends a request.
func checkSharedKey(value []byte) string {
	if p := checkToken(value); p != "" {
		return p
	}
	if _, err := base64.StdEncoding.DecodeString(string(value)); err != nil {
		return "is not base64, as an Azure storage account's shared key is: copy key1 or key2 of the account, or choose --pgbackrest-azure-key-type=sas for a SAS token"
	}
	return ""
}

// checkCA checks a CA bundle: at least one PEM certificate.
func checkCA(value []byte) string {
	for rest := value; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return "holds no PEM certificate: give the CA that signed the endpoint's certificate (-----BEGIN CERTIFICATE-----)"
		}
		if b.Type == "CERTIFICATE" {
			return ""
		}
	}
}

// keyList names the keys of a Secret's data, for a message.
func keyList(data map[string][]byte) string {
	if len(data) == 0 {
		return "no keys"
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// objectStoreProblems are what pgBackRest says when a GCS or Azure
// repository refuses it for good: waiting does not fix them.
var objectStoreProblems = []struct{ text, what string }{
	{"HTTP request failed with 401", "the object store did not accept the key (401)"},
	{"HTTP request failed with 403", "the object store refused the key (403): check the key, its type, and that it may use the bucket or container"},
	{"HTTP request failed with 404", "the bucket, the container, the account or the endpoint is wrong (404)"},
	{"certificate verify failed", "the endpoint's TLS certificate is not trusted: check the CA Secret"},
	{"unable to get local issuer", "the endpoint's TLS certificate is not trusted: check the CA Secret"},
	{"unable to verify certificate", "the endpoint's TLS certificate is not trusted: check the CA Secret"},
	{"upload id missing", "the GCS endpoint gave no upload id for a resumable upload (emulators do not): raise --pgbackrest-gcs-upload-chunk-size above the largest file written"},
}

// ObjectStoreRefused tells whether pgBackRest's status shows that an
// object store refused it for good, with what to do: an *apply.StopError,
// which ends create's --wait. A cluster whose only object store is S3 gets
// S3Refused's message.
func ObjectStoreRefused(spec cluster.Spec, status string) error {
	if spec.GCS == nil && spec.Azure == nil {
		return S3Refused(spec, status)
	}
	problems := objectStoreProblems
	if spec.S3 != nil {
		problems = append(slices.Clone(s3Problems), problems...)
	}
	for _, p := range problems {
		if !strings.Contains(status, p.text) {
			continue
		}
		var secrets []string
		if spec.S3 != nil {
			secrets = append(secrets, spec.S3.CredentialsSecret, spec.S3.CASecret)
		}
		if spec.GCS != nil {
			secrets = append(secrets, spec.GCS.CredentialsSecret, spec.GCS.CASecret)
		}
		if spec.Azure != nil {
			secrets = append(secrets, spec.Azure.CredentialsSecret, spec.Azure.CASecret)
		}
		secrets = slices.DeleteFunc(secrets, func(s string) bool { return s == "" })
		return &apply.StopError{Msg: fmt.Sprintf("an object store refused pgBackRest: %s.\npgBackRest said: %s\n"+
			"The cluster was created, but it cannot archive WAL or take backups until this is fixed. "+
			"Check %s and the Secrets %s of namespace %s; then run this create again with the right flags, "+
			"or remove the cluster with: kubectl pgo delete cluster %s -n %s",
			p.what, firstLine(status), spec.ObjectStores(), strings.Join(secrets, ", "), spec.Namespace, spec.Name, spec.Namespace)}
	}
	return nil
}
