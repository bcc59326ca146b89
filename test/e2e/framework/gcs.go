package framework

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FakeGCSEnv points the tests at fake-gcs-server (hack/gcs/build.sh builds it).
const FakeGCSEnv = "KPGO_FAKE_GCS"

// GCSServer is fake-gcs-server on the host, over TLS with a test CA, that pods reach by a
// Service name, beside an OAuth token endpoint served by the test binary: pgBackRest's service
// keys (repo-gcs-key-type=service) post a signed JWT to the key's token_uri for a bearer token.
// fake-gcs-server checks no token (it never reads the Authorization header), so any bearer token
// works. The token endpoint is the one place that checks a key: it gives a token only for a JWT
// signed by a service key it knows and has not revoked (NewServiceKey, RevokeServiceKey), like
// Google's OAuth server, so a wrong or revoked service key fails before any request to the
// bucket.
type GCSServer struct {
	*hostServer
	// Endpoint is host:port as pods reach it (repo-gcs-endpoint).
	Endpoint string
	// TokenURI is the token endpoint a service key names.
	TokenURI string
	// Token is a bearer token for repo-gcs-key-type=token.
	Token string
	// ServiceKey is a service-account key JSON (client_email, private_key, token_uri) for
	// repo-gcs-key-type=service.
	ServiceKey []byte

	tokens   int
	keys     []*gcsKey
	tokensMu sync.Mutex
}

// gcsKey is a service key the token endpoint knows: its client_email and public key, whether
// it is revoked, how many tokens it was given and how many of its JWTs were refused (revoked).
type gcsKey struct {
	email           string
	public          *rsa.PublicKey
	revoked         bool
	issued, refused int
}

var (
	sharedGCS    *GCSServer
	sharedGCSErr error
	gcsOnce      sync.Once
)

// GCS returns the run's GCS server, starting it the first time; StopEmulators stops it.
func (e *Env) GCS(t *testing.T) *GCSServer {
	t.Helper()
	gcsOnce.Do(func() { sharedGCS, sharedGCSErr = e.startGCS() })
	if sharedGCSErr != nil {
		t.Fatalf("starting the GCS server: %v", sharedGCSErr)
	}
	return sharedGCS
}

func (e *Env) startGCS() (*GCSServer, error) {
	bin, port, h, err := e.newEmulator(FakeGCSEnv, "gcs")
	if err != nil {
		return nil, err
	}
	s := &GCSServer{hostServer: h, Endpoint: h.Host + ":" + strconv.Itoa(port), Token: "kpgo-" + randomHex(16)}
	tokenPort, err := h.serveTLS(http.HandlerFunc(s.serveToken))
	if err != nil {
		return nil, err
	}
	s.TokenURI = fmt.Sprintf("https://%s:%d/token", h.Host, tokenPort)
	if s.ServiceKey, err = s.NewServiceKey("kpgo-e2e@kpgo-e2e.iam.gserviceaccount.com"); err != nil {
		return nil, err
	}
	url := "https://" + s.Endpoint
	cmd := exec.Command(bin, "-scheme=https", "-host="+s3HostIP, "-port="+strconv.Itoa(port),
		"-cert-location="+h.certFile, "-private-key-location="+h.keyFile,
		"-backend=filesystem", "-filesystem-root="+filepath.Join(h.dir, "data"),
		"-public-host="+s.Endpoint, "-external-url="+url, "-log-level=warn")
	if err := h.run("fake-gcs-server", cmd, func() error { return s.createBucket("kpgo-ready-check") }); err != nil {
		return nil, err
	}
	return s, nil
}

// serveToken answers a service key's token request (a JWT bearer grant) with a bearer token,
// when the JWT is signed by a key that NewServiceKey made and that is not revoked.
func (s *GCSServer) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.PostForm.Get("assertion") == "" {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	s.tokensMu.Lock()
	key := s.signer(r.PostForm.Get("assertion"))
	switch {
	case key == nil:
		s.tokensMu.Unlock()
		http.Error(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, http.StatusBadRequest)
		return
	case key.revoked:
		key.refused++
		s.tokensMu.Unlock()
		http.Error(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, http.StatusBadRequest)
		return
	}
	key.issued++
	s.tokens++
	s.tokensMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "kpgo-" + randomHex(16), "token_type": "Bearer", "expires_in": 3600})
}

// signer is the known key whose client_email the JWT's iss names and whose RS256 signature
// it bears, or nil.
func (s *GCSServer) signer(jwt string) *gcsKey {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil
	}
	claims, err1 := decodeSegment(parts[1])
	sig, err2 := decodeSegment(parts[2])
	var c struct {
		Iss string `json:"iss"`
	}
	if err1 != nil || err2 != nil || json.Unmarshal(claims, &c) != nil {
		return nil
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	for _, k := range s.keys {
		if k.email == c.Iss && rsa.VerifyPKCS1v15(k.public, crypto.SHA256, sum[:], sig) == nil {
			return k
		}
	}
	return nil
}

// decodeSegment decodes a JWT segment: base64url (or, leniently, standard base64), with or
// without padding.
func decodeSegment(seg string) ([]byte, error) {
	seg = strings.TrimRight(seg, "=")
	if b, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(seg)
}

// TokensIssued is how many tokens the token endpoint gave, for tests of service keys.
func (s *GCSServer) TokensIssued() int {
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	return s.tokens
}

// NewServiceKey is a new service-account key JSON of client_email email whose JWTs the token
// endpoint accepts until RevokeServiceKey. Another key of the same email is another key, as
// a service account of Google's may have several.
func (s *GCSServer) NewServiceKey(email string) ([]byte, error) {
	key, public, err := serviceKey(email, s.TokenURI)
	if err != nil {
		return nil, err
	}
	s.tokensMu.Lock()
	s.keys = append(s.keys, &gcsKey{email: email, public: public})
	s.tokensMu.Unlock()
	return key, nil
}

// UnknownServiceKey is a service key of client_email email that the token endpoint does not
// know: a wrong key, refused before any request to the bucket.
func (s *GCSServer) UnknownServiceKey(email string) ([]byte, error) {
	key, _, err := serviceKey(email, s.TokenURI)
	return key, err
}

// RevokeServiceKey makes the token endpoint refuse the JWTs of a key NewServiceKey made.
func (s *GCSServer) RevokeServiceKey(t *testing.T, key []byte) {
	t.Helper()
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	s.known(t, key).revoked = true
}

// ServiceKeyUse is how many tokens a key NewServiceKey made was given, and how many of its
// JWTs were refused since it was revoked.
func (s *GCSServer) ServiceKeyUse(t *testing.T, key []byte) (issued, refused int) {
	t.Helper()
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	k := s.known(t, key)
	return k.issued, k.refused
}

// known is the key of a key JSON; the caller holds tokensMu.
func (s *GCSServer) known(t *testing.T, key []byte) *gcsKey {
	t.Helper()
	var j struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(key, &j); err != nil {
		t.Fatalf("a service key that is not JSON: %v", err)
	}
	block, _ := pem.Decode([]byte(j.PrivateKey))
	if block == nil {
		t.Fatalf("a service key without a PEM private key")
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	rsaKey, ok := priv.(*rsa.PrivateKey)
	if err != nil || !ok {
		t.Fatalf("the service key's private key is not RSA (%v)", err)
	}
	for _, k := range s.keys {
		if k.public.Equal(rsaKey.Public()) {
			return k
		}
	}
	t.Fatalf("the token endpoint does not know this service key")
	return nil
}

// serviceKey is a service-account key JSON of client_email email whose token_uri is the test's
// token endpoint, and its public key.
func serviceKey(email, tokenURI string) ([]byte, *rsa.PublicKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	j, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "kpgo-e2e", "client_email": email, "private_key_id": randomHex(20),
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": tokenURI,
	})
	return j, &key.PublicKey, err
}

// CreateBucket makes a bucket, named for the test.
func (s *GCSServer) CreateBucket(t *testing.T, name string) {
	t.Helper()
	if err := s.createBucket(name); err != nil {
		t.Fatalf("creating GCS bucket %s: %v", name, err)
	}
}

func (s *GCSServer) createBucket(name string) error {
	body, _ := json.Marshal(map[string]string{"name": name})
	resp, err := s.client().Post("https://"+s.bridgeAddr+"/storage/v1/b?project=kpgo-e2e", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	// 409: it exists (the ready check of a restarted run).
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
		return fmt.Errorf("POST /storage/v1/b: %s: %s", resp.Status, msg)
	}
	return nil
}

// Objects lists the names of the objects under prefix in a bucket.
func (s *GCSServer) Objects(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	resp, err := s.client().Get("https://" + s.bridgeAddr + "/storage/v1/b/" + bucket + "/o?prefix=" + prefix)
	if err != nil {
		t.Fatalf("listing gs://%s/%s: %v", bucket, prefix, err)
	}
	defer resp.Body.Close()
	var list struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("listing gs://%s/%s: %v", bucket, prefix, err)
	}
	var out []string
	for _, it := range list.Items {
		out = append(out, it.Name)
	}
	return out
}

// Secret creates, in ns, a Secret name with data and the CA as ca.crt.
func (h *hostServer) Secret(t *testing.T, e *Env, ns, name string, data map[string][]byte) {
	t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string][]byte{"ca.crt": h.CACert}}
	for k, v := range data {
		sec.Data[k] = v
	}
	if _, err := e.Client.CoreV1().Secrets(ns).Create(context.Background(), sec, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Secret %s/%s: %v", ns, name, err)
	}
}
