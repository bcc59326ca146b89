package kube

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestRequestKind(t *testing.T) {
	tests := []struct {
		method, path, want string
	}{
		{"GET", "/api/v1/namespaces/db/configmaps/hippo-pgo-config", "GET"},
		{"GET", "/api/v1/namespaces/db/pods", "GET"},
		{"POST", "/apis/batch/v1/namespaces/db/jobs", "POST"},
		{"PATCH", "/apis/batch/v1/namespaces/db/jobs/hippo-backup-x", "PATCH"},
		{"GET", "/api/v1/namespaces/db/pods/hippo-0/exec", "exec"},
		{"POST", "/api/v1/namespaces/db/pods/hippo-0/exec", "exec"},
		{"POST", "/api/v1/namespaces/db/pods/hippo-0/portforward", "exec"},
		{"GET", "/api/v1/namespaces/db/pods/hippo-0/log", "GET"},
		// A pod named like a subresource is not one.
		{"GET", "/api/v1/namespaces/db/pods/exec", "GET"},
		{"GET", "/api", "discovery"},
		{"GET", "/api/v1", "discovery"},
		{"GET", "/apis", "discovery"},
		{"GET", "/apis/batch", "discovery"},
		{"GET", "/apis/batch/v1", "discovery"},
		{"GET", "/version", "discovery"},
		{"GET", "/openapi/v3/apis/batch/v1", "discovery"},
		{"GET", "/apis/batch/v1/jobs", "GET"},
		{"GET", "/", "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if got := requestKind(tc.method, tc.path); got != tc.want {
				t.Errorf("requestKind(%s, %s) = %q, want %q", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestRequestCounterFromEnv(t *testing.T) {
	tests := []struct {
		value       string
		want        bool
		wantVerbose bool
	}{
		{"", false, false},
		{"0", false, false},
		{"1", true, false},
		{"2", true, true},
		{"no", false, false},
	}
	for _, tc := range tests {
		t.Run("value "+tc.value, func(t *testing.T) {
			c := RequestCounterFromEnv(func(name string) string {
				if name != CountRequestsEnv {
					t.Errorf("read %s, want %s", name, CountRequestsEnv)
				}
				return tc.value
			})
			if (c != nil) != tc.want {
				t.Fatalf("counter = %v, want one: %v", c, tc.want)
			}
			if c != nil && c.verbose != tc.wantVerbose {
				t.Errorf("verbose = %v, want %v", c.verbose, tc.wantVerbose)
			}
		})
	}
}

// TestRequestCounterThroughClientGo wires the counter the way the root
// command does (rest.Config.Wrap) and sends requests with a typed client,
// some at once, and an exec, which client-go sends through a transport of
// its own built from the same config.
func TestRequestCounterThroughClientGo(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/exec"):
			http.Error(w, "no exec here", http.StatusForbidden)
		case r.Method == http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"kind":"ConfigMapList","apiVersion":"v1","items":[]}`))
		default:
			http.Error(w, "unexpected", http.StatusBadRequest)
		}
	}))
	defer server.Close()

	counter := NewRequestCounter(true)
	config := &rest.Config{Host: server.URL}
	config.Wrap(counter.Wrap)
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const lists = 5
	var wg sync.WaitGroup
	for range lists {
		wg.Go(func() {
			if _, err := client.CoreV1().ConfigMaps("db").List(ctx, metav1.ListOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := Exec(ctx, config, client, "db", "hippo-0", "database", []string{"true"}, nil, nil, nil); err == nil {
		t.Fatal("exec against a server that refuses it succeeded")
	}

	if got := counter.Count("GET"); got != lists {
		t.Errorf("GET = %d, want %d", got, lists)
	}
	// WebSocket first, then SPDY when the upgrade fails: one or two.
	execs := counter.Count("exec")
	if execs < 1 || execs > 2 {
		t.Errorf("exec = %d, want 1 or 2", execs)
	}
	if got, want := counter.Total(), lists+execs; got != want {
		t.Errorf("total = %d, want %d", got, want)
	}
	var out bytes.Buffer
	if err := counter.Report(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "api requests: ") || !strings.Contains(lines[0], "GET 5") {
		t.Errorf("summary = %q, want api requests: ... (GET 5, ...)", lines[0])
	}
	if len(lines) != 1+counter.Total() || !strings.Contains(out.String(), "GET /api/v1/namespaces/db/configmaps") {
		t.Errorf("report lists %d requests, want %d, each with its path:\n%s", len(lines)-1, counter.Total(), out.String())
	}
}

func TestRequestCounterSummary(t *testing.T) {
	c := NewRequestCounter(false)
	if got, want := c.Summary(), "api requests: 0"; got != want {
		t.Errorf("empty summary = %q, want %q", got, want)
	}
	for _, r := range [][2]string{
		{"GET", "/api/v1/namespaces/db/pods"},
		{"GET", "/api/v1/namespaces/db/configmaps/x"},
		{"POST", "/apis/batch/v1/namespaces/db/jobs"},
		{"GET", "/api/v1/namespaces/db/pods/p/exec"},
		{"GET", "/apis"},
	} {
		c.add(r[0], r[1])
	}
	if got, want := c.Summary(), "api requests: 5 (GET 2, POST 1, discovery 1, exec 1)"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	var out bytes.Buffer
	if err := c.Report(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("a counter that is not verbose lists the requests:\n%s", out.String())
	}
}
