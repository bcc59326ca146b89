package kube

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// CountRequestsEnv names the environment variable that turns request
// counting on: 1 prints a summary to stderr when the command ends, 2 also
// lists each request. The benchmark (hack/bench.sh) reads the summary.
const CountRequestsEnv = "KUBECTL_PGO_COUNT_REQUESTS"

// RequestCounter counts the HTTP requests sent to the API server, by kind:
// the method, or "exec" for a streaming exec/attach/port-forward upgrade,
// or "discovery" for /api, /apis, /version and /openapi, which commands
// with typed clients should never need. It is safe for concurrent use.
type RequestCounter struct {
	verbose bool

	mu       sync.Mutex
	total    int
	byKind   map[string]int
	requests []string
}

// NewRequestCounter returns a counter; verbose keeps each request for
// Report.
func NewRequestCounter(verbose bool) *RequestCounter {
	return &RequestCounter{verbose: verbose, byKind: map[string]int{}}
}

// RequestCounterFromEnv returns a counter when CountRequestsEnv (read with
// getenv) is 1 or 2, and nil otherwise.
func RequestCounterFromEnv(getenv func(string) string) *RequestCounter {
	switch getenv(CountRequestsEnv) {
	case "1", "true", "yes":
		return NewRequestCounter(false)
	case "2":
		return NewRequestCounter(true)
	}
	return nil
}

// Wrap returns rt counting each request; it has the signature of
// rest.Config.WrapTransport, so it also sees the exec upgrades, which
// client-go builds from the same rest.Config.
func (c *RequestCounter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return countingTransport{counter: c, next: rt}
}

type countingTransport struct {
	counter *RequestCounter
	next    http.RoundTripper
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.counter.add(req.Method, req.URL.Path)
	return t.next.RoundTrip(req)
}

func (c *RequestCounter) add(method, path string) {
	kind := requestKind(method, path)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.byKind[kind]++
	if c.verbose {
		c.requests = append(c.requests, method+" "+path)
	}
}

// requestKind sorts a request for the summary.
func requestKind(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case isDiscovery(parts):
		return "discovery"
	case slices.Contains([]string{"exec", "attach", "portforward"}, subresource(parts)):
		return "exec"
	}
	return method
}

// subresource is the subresource of a resource path: "exec" for
// /api/v1/namespaces/NS/pods/NAME/exec; "" when there is none.
func subresource(parts []string) string {
	var rest []string
	switch {
	case parts[0] == "api" && len(parts) > 2:
		rest = parts[2:]
	case parts[0] == "apis" && len(parts) > 3:
		rest = parts[3:]
	}
	if len(rest) > 2 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	if len(rest) == 3 {
		return rest[2]
	}
	return ""
}

// isDiscovery tells whether the path's segments are a discovery document:
// /api, /api/v1, /apis, /apis/GROUP, /apis/GROUP/VERSION, /version,
// /openapi/...
func isDiscovery(parts []string) bool {
	switch parts[0] {
	case "version", "openapi":
		return true
	case "api":
		return len(parts) <= 2
	case "apis":
		return len(parts) <= 3
	}
	return false
}

// Total is the number of requests so far.
func (c *RequestCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Count is the number of requests of one kind: a method ("GET"), "exec"
// or "discovery".
func (c *RequestCounter) Count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKind[kind]
}

// Summary is one line: "api requests: 4 (GET 2, POST 1, exec 1)", kinds in
// alphabetical order.
func (c *RequestCounter) Summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	kinds := make([]string, 0, len(c.byKind))
	for k := range c.byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, c.byKind[k])
	}
	s := fmt.Sprintf("api requests: %d", c.total)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// Report writes the summary and, when verbose, each request in the
// order sent.
func (c *RequestCounter) Report(w io.Writer) error {
	summary := c.Summary()
	c.mu.Lock()
	lines := slices.Clone(c.requests)
	c.mu.Unlock()
	var b strings.Builder
	b.WriteString(summary + "\n")
	for _, r := range lines {
		b.WriteString("  " + r + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
