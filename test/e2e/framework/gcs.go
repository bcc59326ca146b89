package framework

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
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
// fake-gcs-server checks no token, so any token and any service key work.
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
	tokensMu sync.Mutex
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
	if s.ServiceKey, err = serviceKey(s.TokenURI); err != nil {
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

// serveToken answers a service key's token request (a JWT bearer grant) with a bearer token.
func (s *GCSServer) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.PostForm.Get("assertion") == "" {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	s.tokensMu.Lock()
	s.tokens++
	s.tokensMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "kpgo-" + randomHex(16), "token_type": "Bearer", "expires_in": 3600})
}

// TokensIssued is how many tokens the token endpoint gave, for tests of service keys.
func (s *GCSServer) TokensIssued() int {
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	return s.tokens
}

// serviceKey is a service-account key JSON whose token_uri is the test's token endpoint.
func serviceKey(tokenURI string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{
		"type": "service_account", "project_id": "kpgo-e2e", "client_email": "kpgo-e2e@kpgo-e2e.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": tokenURI,
	})
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
