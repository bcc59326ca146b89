package framework

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// AzuriteEnv points the tests at Azurite's blob server script (hack/azure/build.sh installs it);
// node runs it.
const AzuriteEnv = "KPGO_AZURITE_BLOB"

// AzureServer is Azurite's Blob service on the host, over TLS with a test CA, that pods reach by
// a Service name, with one storage account of the run and its shared key. Pods use path-style
// URIs (https://host:port/account/container), as for any emulator.
type AzureServer struct {
	*hostServer
	// Endpoint is host:port as pods reach it (repo-azure-endpoint).
	Endpoint string
	// Account and Key are the storage account and its shared key (base64).
	Account, Key string
	// Key2 is the account's second shared key, valid beside Key (Azurite's
	// AZURITE_ACCOUNTS takes account:key1:key2), for tests that rotate keys.
	Key2 string
}

var (
	sharedAzure    *AzureServer
	sharedAzureErr error
	azureOnce      sync.Once
)

// Azure returns the run's Azure Blob server, starting it the first time; StopEmulators stops it.
func (e *Env) Azure(t *testing.T) *AzureServer {
	t.Helper()
	azureOnce.Do(func() { sharedAzure, sharedAzureErr = e.startAzure() })
	if sharedAzureErr != nil {
		t.Fatalf("starting the Azure Blob server: %v", sharedAzureErr)
	}
	return sharedAzure
}

func (e *Env) startAzure() (*AzureServer, error) {
	script, port, h, err := e.newEmulator(AzuriteEnv, "azure")
	if err != nil {
		return nil, err
	}
	s := &AzureServer{hostServer: h, Endpoint: h.Host + ":" + strconv.Itoa(port),
		Account: "kpgoe2e" + randomHex(4), Key: RandomAzureKey(), Key2: RandomAzureKey()}
	data := filepath.Join(h.dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	// --skipApiVersionCheck: pgBackRest 2.45 sends x-ms-version 2019-02-02. --loose: headers
	// Azurite does not know are ignored rather than refused. --disableProductStyleUrl: the
	// account is the first segment of the path, not the first label of the host name (which
	// Azurite would otherwise take from azure.NS.svc.cluster.local and answer 400).
	cmd := exec.Command("node", script, "--blobHost", s3HostIP, "--blobPort", strconv.Itoa(port),
		"--cert", h.certFile, "--key", h.keyFile, "--location", data,
		"--skipApiVersionCheck", "--loose", "--disableProductStyleUrl", "--disableTelemetry", "--silent")
	// The account of the run, in place of Azurite's well-known devstoreaccount1, with its two
	// keys: Azurite accepts a request signed with either.
	cmd.Env = append(os.Environ(), "AZURITE_ACCOUNTS="+s.Account+":"+s.Key+":"+s.Key2)
	if err := h.run("azurite", cmd, func() error { return s.createContainer("kpgo-ready-check") }); err != nil {
		return nil, err
	}
	return s, nil
}

// RandomAzureKey is a new shared key (base64 of 32 random bytes): one the account does not
// have, unless it is the server's Key or Key2.
func RandomAzureKey() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}

// AccountSAS is an account SAS token of the run's account (blob service; read, write, delete,
// list, add, create on containers and objects; HTTPS only), valid for a day, for
// repo-azure-key-type=sas. Its version is the one pgBackRest 2.45 speaks, whose string to sign
// has no encryption scope.
func (s *AzureServer) AccountSAS() string {
	q := url.Values{"sv": {"2019-02-02"}, "ss": {"b"}, "srt": {"sco"}, "sp": {"rwdlac"}, "spr": {"https"},
		"se": {time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02T15:04:05Z")}}
	toSign := strings.Join([]string{s.Account, q.Get("sp"), q.Get("ss"), q.Get("srt"), "", q.Get("se"), "", q.Get("spr"), q.Get("sv"), ""}, "\n")
	q.Set("sig", s.sign(toSign))
	return q.Encode()
}

// sign is the base64 HMAC-SHA256 of text with the account's key.
func (s *AzureServer) sign(text string) string {
	key, _ := base64.StdEncoding.DecodeString(s.Key)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// CreateContainer makes a container, named for the test.
func (s *AzureServer) CreateContainer(t *testing.T, name string) {
	t.Helper()
	if err := s.createContainer(name); err != nil {
		t.Fatalf("creating Azure container %s: %v", name, err)
	}
}

func (s *AzureServer) createContainer(name string) error {
	body, status, err := s.do(http.MethodPut, name, url.Values{"restype": {"container"}})
	if err != nil {
		return err
	}
	// 409: it exists.
	if status != http.StatusCreated && status != http.StatusConflict {
		return fmt.Errorf("create container %s: %d: %s", name, status, body)
	}
	return nil
}

// Objects lists the names of the blobs under prefix in a container.
func (s *AzureServer) Objects(t *testing.T, container, prefix string) []string {
	t.Helper()
	body, status, err := s.do(http.MethodGet, container, url.Values{"restype": {"container"}, "comp": {"list"}, "prefix": {prefix}})
	if err != nil || status != http.StatusOK {
		t.Fatalf("listing %s/%s: %d %v: %s", container, prefix, status, err, body)
	}
	var list struct {
		Blobs []string `xml:"Blobs>Blob>Name"`
	}
	if err := xml.Unmarshal(body, &list); err != nil {
		t.Fatalf("listing %s/%s: %v", container, prefix, err)
	}
	return list.Blobs
}

// do sends a request on a container, signed with the account's shared key (path-style URI).
func (s *AzureServer) do(method, container string, query url.Values) ([]byte, int, error) {
	path := "/" + s.Account + "/" + container
	req, err := http.NewRequest(method, "https://"+s.bridgeAddr+path+"?"+query.Encode(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Host = s.Endpoint
	req.Header.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
	req.Header.Set("x-ms-version", "2021-06-08")
	// The string to sign of a Shared Key request: the verb, eleven standard headers (all empty
	// here), the x-ms- headers, and the resource with its query parameters in order.
	var b strings.Builder
	b.WriteString(method + "\n" + strings.Repeat("\n", 11))
	b.WriteString("x-ms-date:" + req.Header.Get("x-ms-date") + "\nx-ms-version:" + req.Header.Get("x-ms-version") + "\n")
	b.WriteString("/" + s.Account + path)
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("\n" + k + ":" + strings.Join(query[k], ","))
	}
	req.Header.Set("Authorization", "SharedKey "+s.Account+":"+s.sign(b.String()))
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp.StatusCode, err
}
