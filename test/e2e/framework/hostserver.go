package framework

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// hostServer is an emulator of an object store that runs on the host, bound to the bridge
// address, over TLS with a test CA, with a cluster DNS name (a headless Service whose one
// endpoint is the host) in a namespace of its own. The S3, GCS and Azure servers of the tests
// are built on it.
type hostServer struct {
	// Host is the server's name in the cluster; its certificate is valid for it.
	Host string
	// CACert is the PEM of the CA that signed the server's certificate.
	CACert []byte

	// bridgeAddr is the address of the first port on the bridge, for the test binary (which
	// does not use the cluster's DNS).
	bridgeAddr string
	namespace  string
	dir        string
	certFile   string
	keyFile    string
	env        *Env
	cmd        *exec.Cmd
	done       chan struct{}
	// closers stop what the test binary serves beside the process (a token endpoint).
	closers []func()
}

// newHostServer makes the server's directory, namespace (kpgo-PREFIX-xxxxxx), Service named
// service and its TLS files. The caller starts the process with run.
func (e *Env) newHostServer(prefix, service string, ports ...int) (*hostServer, error) {
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	h := &hostServer{namespace: "kpgo-" + prefix + "-" + hex.EncodeToString(suffix), env: e, done: make(chan struct{})}
	var err error
	if h.dir, err = os.MkdirTemp("", "kpgo-"+prefix+"-"); err != nil {
		return nil, err
	}
	h.Host = service + "." + h.namespace + ".svc.cluster.local"
	h.bridgeAddr = net.JoinHostPort(s3HostIP, strconv.Itoa(ports[0]))
	if err := e.hostService(h.namespace, service, ports...); err != nil {
		h.stop()
		return nil, err
	}
	if h.CACert, h.certFile, h.keyFile, err = writeServerTLS(h.dir, h.Host, "kubectl-pgo e2e "+prefix+" CA"); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// newEmulator is newHostServer for an emulator whose program the environment variable
// envName names (built by hack/NAME/build.sh), on a free port, stopped by StopEmulators.
func (e *Env) newEmulator(envName, name string) (program string, port int, h *hostServer, err error) {
	if program = os.Getenv(envName); program == "" {
		return "", 0, nil, fmt.Errorf("%s is not set: run hack/%s/build.sh and hack/e2e.sh", envName, name)
	}
	if port, err = freePort(); err != nil {
		return "", 0, nil, err
	}
	if h, err = e.newHostServer(name, name, port); err != nil {
		return "", 0, nil, err
	}
	startedEmulator(h)
	return program, port, h, nil
}

// run starts the server's process, its output in NAME.log, and waits until ready answers nil.
func (h *hostServer) run(name string, cmd *exec.Cmd, ready func() error) error {
	logPath := filepath.Join(h.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	h.cmd = cmd
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server goes with the test binary, even when that is killed before TestMain can stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	go func() { _ = cmd.Wait(); logFile.Close(); close(h.done) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not become ready: %v (log: %s)", name, err, logPath)
		}
		select {
		case <-h.done:
			return fmt.Errorf("%s exited; see %s", name, logPath)
		case <-time.After(time.Second):
		}
	}
}

// client is an HTTPS client that trusts the test CA and reaches the server at the bridge
// address under its cluster name.
func (h *hostServer) client() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.CACert)
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: h.Host, MinVersion: tls.VersionTLS12},
	}}
}

// serveTLS serves handler over TLS on the bridge address, with the server's certificate, until
// stop; it returns the port.
func (h *hostServer) serveTLS(handler http.Handler) (int, error) {
	cert, err := tls.LoadX509KeyPair(h.certFile, h.keyFile)
	if err != nil {
		return 0, err
	}
	l, err := tls.Listen("tcp", net.JoinHostPort(s3HostIP, "0"), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	h.closers = append(h.closers, func() { _ = srv.Close() })
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop stops the process and what the test binary served for it, then deletes the namespace
// and the files.
func (h *hostServer) stop() {
	for _, c := range h.closers {
		c()
	}
	stopServer(h.env, h.cmd, h.done, h.namespace, h.dir)
}

// stopServer stops a server's process (interrupt, then kill after 15 s; done closes when it has
// exited) and deletes its namespace and directory.
func stopServer(env *Env, cmd *exec.Cmd, done <-chan struct{}, namespace, dir string) {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = env.Client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
	_ = os.RemoveAll(dir)
}

// hostService makes the namespace ns and a headless Service name whose one endpoint is the
// host, with ports, so that pods resolve NAME.NS.svc.cluster.local to it.
func (e *Env) hostService(ns, name string, ports ...int) error {
	ctx := context.Background()
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"kubectl-pgo.io/e2e": "true"}}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{s3HostIP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	for i, port := range ports {
		portName := "https"
		if i > 0 {
			portName = fmt.Sprintf("https%d", i+1)
		}
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: portName, Port: int32(port)})
		slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: ptr.To(portName), Port: ptr.To(int32(port))})
	}
	if _, err := e.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	// CoreDNS answers for a headless Service from its EndpointSlices.
	_, err := e.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{})
	return err
}

// writeServerTLS writes, in dir, a test CA's certificate for host (and the bridge address);
// it returns the CA's PEM and the paths of the certificate and its key.
func writeServerTLS(dir, host, caName string) (caPEM []byte, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, "", "", err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		IPAddresses: []net.IP{net.ParseIP(s3HostIP)}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, "", "", err
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, "", "", err
	}
	return caPEM, certFile, keyFile, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// emulators are the GCS and Azure servers started in this run, stopped by StopEmulators.
var (
	emulatorsMu sync.Mutex
	emulators   []*hostServer
)

func startedEmulator(h *hostServer) {
	emulatorsMu.Lock()
	defer emulatorsMu.Unlock()
	emulators = append(emulators, h)
}

// StopEmulators stops the GCS and Azure servers of the run and deletes their namespaces.
// TestMain calls it after the tests, whatever their outcome.
func StopEmulators() {
	emulatorsMu.Lock()
	defer emulatorsMu.Unlock()
	for _, h := range emulators {
		h.stop()
	}
	emulators = nil
}
