package framework

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WeedEnv points the tests at SeaweedFS's weed binary (hack/s3/build.sh builds it).
const WeedEnv = "KPGO_WEED"

// s3HostIP is the host's address on the cluster's bridge: pods reach it, nothing outside does.
const s3HostIP = "10.88.0.1"

// S3Server is a real S3-compatible server (SeaweedFS) on the host, over TLS with a test CA and
// SigV4 keys, that the cluster's pods reach by a Service name. One serves every test of a run.
type S3Server struct {
	// Endpoint is host:port as pods reach it; the certificate is valid for that host name.
	Endpoint             string
	Region               string
	AccessKey, SecretKey string
	// ReaderKey and ReaderSecret may only read and list, in every bucket.
	ReaderKey, ReaderSecret string
	// SecondKey and SecondSecret may do what AccessKey may: the new keys
	// of a rotation (kubectl pgo rotate keys).
	SecondKey, SecondSecret string
	// CACert is the PEM of the CA that signed the server's certificate.
	CACert []byte

	namespace  string
	dir        string
	masterAddr string
	filerAddr  string
	filerURL   string
	weed       string
	env        *Env
	cmd        *exec.Cmd
	done       chan struct{}
}

var (
	sharedS3    *S3Server
	sharedS3Err error
	s3Once      sync.Once
)

// S3 returns the run's S3 server, starting it the first time. The test fails when the server
// cannot start: S3 is part of what is tested, not optional.
func (e *Env) S3(t *testing.T) *S3Server {
	t.Helper()
	s3Once.Do(func() { sharedS3, sharedS3Err = e.StartS3() })
	if sharedS3Err != nil {
		t.Fatalf("starting the S3 server: %v", sharedS3Err)
	}
	return sharedS3
}

// StopShared stops what the package started for the whole run (the S3 server and its
// namespace). TestMain calls it after the tests, whatever their outcome.
func StopShared() {
	if sharedS3 != nil {
		sharedS3.Stop()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// S3VolumeMax bounds the server's volumes of 64 MB each (sparse files): 200, 12.8 GB in all, is
// room for every test of a run; a benchmark that archives gigabytes of WAL asks for more.
var S3VolumeMax = 200

// StartS3 starts an S3 server of its own; Stop stops it. The tests share one (S3); the
// benchmarks start theirs with hack/s3/serve.
func (e *Env) StartS3() (*S3Server, error) {
	weed := os.Getenv(WeedEnv)
	if weed == "" {
		return nil, fmt.Errorf("%s is not set: run hack/s3/build.sh and hack/e2e.sh", WeedEnv)
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	s := &S3Server{
		Region: "us-east-1", AccessKey: "kpgo" + hex.EncodeToString(suffix), SecretKey: randomHex(20),
		ReaderKey: "kpgoread" + hex.EncodeToString(suffix), ReaderSecret: randomHex(20),
		SecondKey: "kpgotwo" + hex.EncodeToString(suffix), SecondSecret: randomHex(20),
		namespace: "kpgo-s3-" + hex.EncodeToString(suffix), weed: weed, done: make(chan struct{}), env: e,
	}
	var err error
	if s.dir, err = os.MkdirTemp("", "kpgo-s3-"); err != nil {
		return nil, err
	}
	// Every port free now; the grpc ports are given too, so that parallel runs do not clash.
	ports := make([]int, 8)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	master, volume, filer, s3Port := ports[0], ports[1], ports[2], ports[3]
	// host:port.grpcPort is how weed names a server whose gRPC port is not port+10000.
	s.masterAddr = fmt.Sprintf("127.0.0.1:%d.%d", master, ports[4])
	s.filerAddr = fmt.Sprintf("127.0.0.1:%d.%d", filer, ports[6])
	s.filerURL = fmt.Sprintf("http://127.0.0.1:%d", filer)
	host := "s3." + s.namespace + ".svc.cluster.local"
	s.Endpoint = fmt.Sprintf("%s:%d", host, s3Port)

	// The Service first: a headless Service whose one endpoint is the host, so pods resolve
	// the name to it.
	if err := e.s3Service(s.namespace, s3Port); err != nil {
		s.Stop()
		return nil, err
	}
	cert, key, err := s.writeTLS(host)
	if err != nil {
		return nil, err
	}
	config := map[string]any{"identities": []map[string]any{{
		"name":        "admin",
		"credentials": []map[string]string{{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}, {
		"name":        "second",
		"credentials": []map[string]string{{"accessKey": s.SecondKey, "secretKey": s.SecondSecret}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}, {
		"name":        "reader",
		"credentials": []map[string]string{{"accessKey": s.ReaderKey, "secretKey": s.ReaderSecret}},
		"actions":     []string{"Read", "List"},
	}}}
	configFile := filepath.Join(s.dir, "s3.json")
	data, _ := json.Marshal(config)
	if err := os.WriteFile(configFile, data, 0o600); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(weed, "server", "-dir="+dataDir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+strconv.Itoa(master), "-master.port.grpc="+strconv.Itoa(ports[4]),
		// Each bucket is a collection that grows 7 volumes at its first
		// write; the default limit of 8 volumes leaves the third bucket of
		// a run with none ("no free volumes left"). Volumes are sparse files.
		"-volume.port="+strconv.Itoa(volume), "-volume.port.grpc="+strconv.Itoa(ports[5]), "-volume.max="+strconv.Itoa(S3VolumeMax),
		"-filer", "-filer.port="+strconv.Itoa(filer), "-filer.port.grpc="+strconv.Itoa(ports[6]),
		"-s3", "-s3.port="+strconv.Itoa(s3Port), "-s3.port.grpc="+strconv.Itoa(ports[7]), "-s3.ip.bind="+s3HostIP,
		"-s3.config="+configFile, "-s3.cert.file="+cert, "-s3.key.file="+key,
		"-metricsPort=0", "-master.volumeSizeLimitMB=64")
	logFile, err := os.Create(filepath.Join(s.dir, "weed.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// The server goes with the test binary, even when that is killed
	// before TestMain can stop it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); logFile.Close(); close(s.done) }()

	// Ready when the S3 port answers TLS and a bucket can be made through the master.
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := s.MakeBucket("kpgo-ready-check"); err == nil {
			break
		} else if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("SeaweedFS did not become ready: %v (log: %s)", err, filepath.Join(s.dir, "weed.log"))
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("SeaweedFS exited; see %s", filepath.Join(s.dir, "weed.log"))
		case <-time.After(time.Second):
		}
	}
	return s, nil
}

// s3Service makes the namespace and the Service that give the host a name in the cluster.
func (e *Env) s3Service(ns string, port int) error { return e.hostService(ns, "s3", port) }

// writeTLS writes a test CA and the server's certificate for host.
func (s *S3Server) writeTLS(host string) (certFile, keyFile string, err error) {
	s.CACert, certFile, keyFile, err = writeServerTLS(s.dir, host, "kubectl-pgo e2e S3 CA")
	return certFile, keyFile, err
}

// OtherCA is the PEM of a CA that did not sign the server's certificate, for the wrong-CA test.
func OtherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "some other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// CreateBucket makes a bucket, named for the test.
func (s *S3Server) CreateBucket(t *testing.T, name string) {
	t.Helper()
	if err := s.MakeBucket(name); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
}

// MakeBucket creates a bucket, outside a test.
func (s *S3Server) MakeBucket(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.weed, "shell", "-master="+s.masterAddr, "-filer="+s.filerAddr)
	cmd.Stdin = strings.NewReader("s3.bucket.create -name " + name + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("created bucket "+name)) {
		return fmt.Errorf("weed shell s3.bucket.create: %v: %s", err, out)
	}
	return nil
}

// Objects lists the files under prefix in a bucket (recursively), as paths relative to it, read
// from the filer that stores the bucket.
func (s *S3Server) Objects(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		req, _ := http.NewRequest(http.MethodGet, s.filerURL+"/buckets/"+bucket+"/"+dir+"?limit=10000", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("listing %s/%s: %v", bucket, dir, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return
		}
		var listing struct {
			Entries []struct {
				FullPath string `json:"FullPath"`
				Mode     uint32 `json:"Mode"`
			} `json:"Entries"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&listing); err != nil {
			t.Fatalf("listing %s/%s: %v", bucket, dir, err)
		}
		for _, e := range listing.Entries {
			rel := strings.TrimPrefix(e.FullPath, "/buckets/"+bucket+"/")
			if e.Mode&uint32(os.ModeDir) != 0 {
				walk(rel + "/")
			} else {
				out = append(out, rel)
			}
		}
	}
	walk(strings.TrimPrefix(prefix, "/"))
	return out
}

// Secrets creates, in ns, a Secret with the server's keys (as the plugin's
// --pgbackrest-s3-credentials-secret expects) and one with its CA.
func (s *S3Server) Secrets(t *testing.T, e *Env, ns, credentials, ca string) {
	t.Helper()
	ctx := context.Background()
	for name, data := range map[string]map[string][]byte{
		credentials: {"aws-s3-key": []byte(s.AccessKey), "aws-s3-key-secret": []byte(s.SecretKey)},
		ca:          {"ca.crt": s.CACert},
	} {
		if name == "" {
			continue
		}
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
		if _, err := e.Client.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating Secret %s/%s: %v", ns, name, err)
		}
	}
}

// ReaderSecrets creates, in ns, a Secret with the read-only keys, in the shape of a
// credentials Secret.
func (s *S3Server) ReaderSecrets(t *testing.T, e *Env, ns, name string) {
	t.Helper()
	s.keySecret(t, e, ns, name, s.ReaderKey, s.ReaderSecret)
}

// SecondSecrets creates, in ns, a credentials Secret with the second key pair, which
// may write as the first does.
func (s *S3Server) SecondSecrets(t *testing.T, e *Env, ns, name string) {
	t.Helper()
	s.keySecret(t, e, ns, name, s.SecondKey, s.SecondSecret)
}

func (s *S3Server) keySecret(t *testing.T, e *Env, ns, name, key, secret string) {
	t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data: map[string][]byte{"aws-s3-key": []byte(key), "aws-s3-key-secret": []byte(secret)}}
	if _, err := e.Client.CoreV1().Secrets(ns).Create(context.Background(), sec, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Secret %s/%s: %v", ns, name, err)
	}
}

// Flags are the create cluster flags of an S3 repository in bucket, with the keys in the
// credentials Secret and the CA in the CA Secret.
func (s *S3Server) Flags(bucket, credentials, ca string) []string {
	return []string{"--pgbackrest-s3-bucket=" + bucket, "--pgbackrest-s3-endpoint=" + s.Endpoint,
		"--pgbackrest-s3-region=" + s.Region, "--pgbackrest-s3-uri-style=path",
		"--pgbackrest-s3-credentials-secret=" + credentials, "--pgbackrest-s3-ca-secret=" + ca}
}

// Stop stops the server and deletes its namespace and files.
func (s *S3Server) Stop() { stopServer(s.env, s.cmd, s.done, s.namespace, s.dir) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
