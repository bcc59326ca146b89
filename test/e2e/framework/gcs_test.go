package framework

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The token endpoint gives a token for a JWT signed by a key it knows, and refuses one of a
// key it does not know, of another client_email, or revoked (counted), as Google's OAuth
// server would.
func TestGCSTokenEndpoint(t *testing.T) {
	s := &GCSServer{TokenURI: "https://gcs.example:1/token"}
	key1, err := s.NewServiceKey("a@example.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	key2, _ := s.NewServiceKey("a@example.iam.gserviceaccount.com")
	unknown, _ := s.UnknownServiceKey("a@example.iam.gserviceaccount.com")
	post := func(key []byte, iss string) int {
		t.Helper()
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {signJWT(t, key, iss)}}
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.serveToken(w, r)
		return w.Code
	}
	const email = "a@example.iam.gserviceaccount.com"
	for _, tc := range []struct {
		name string
		key  []byte
		iss  string
		want int
	}{
		{"known key", key1, email, 200},
		{"second key of the account", key2, email, 200},
		{"unknown key", unknown, email, 400},
		{"known key, another email", key1, "b@example.iam.gserviceaccount.com", 400},
	} {
		if got := post(tc.key, tc.iss); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	s.RevokeServiceKey(t, key1)
	if got := post(key1, email); got != 400 {
		t.Errorf("revoked key: %d, want 400", got)
	}
	if got := post(key2, email); got != 200 {
		t.Errorf("the other key after a revocation: %d, want 200", got)
	}
	if issued, refused := s.ServiceKeyUse(t, key1); issued != 1 || refused != 1 {
		t.Errorf("key1: %d issued, %d refused; want 1 and 1", issued, refused)
	}
	if issued, refused := s.ServiceKeyUse(t, key2); issued != 2 || refused != 0 {
		t.Errorf("key2: %d issued, %d refused; want 2 and 0", issued, refused)
	}
	if s.TokensIssued() != 3 {
		t.Errorf("%d tokens issued, want 3", s.TokensIssued())
	}
}

// signJWT is a JWT bearer assertion as pgBackRest makes it: RS256 over base64url header and
// claims, signed with the service key's private key.
func signJWT(t *testing.T, key []byte, iss string) string {
	t.Helper()
	var j struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(key, &j); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(j.PrivateKey))
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{"iss": iss, "scope": "https://www.googleapis.com/auth/devstorage.read_write", "aud": "https://gcs.example:1/token"})
	unsigned := enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(claims)
	sum := sha256.Sum256([]byte(unsigned))
	sig, err := rsa.SignPKCS1v15(nil, priv.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + enc(sig)
}
