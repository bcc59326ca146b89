package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/exec"
)

func TestExecErrorMessage(t *testing.T) {
	long := strings.Repeat("x", maxStderrInError) + "THE END"
	tests := []struct {
		name string
		err  ExecError
		want string
	}{
		{
			name: "no container, no stderr",
			err:  ExecError{Namespace: "pg", Pod: "hippo-0", Command: []string{"false"}, Code: 1},
			want: `command "false" in pod pg/hippo-0 exited with code 1`,
		},
		{
			name: "container and stderr",
			err: ExecError{
				Namespace: "pg", Pod: "hippo-0", Container: "database",
				Command: []string{"pgbackrest", "info"}, Code: 28,
				Stderr: "ERROR: [028]: backup and archive info files exist but do not match\n",
			},
			want: `command "pgbackrest info" in pod pg/hippo-0 (container database) exited with code 28: ERROR: [028]: backup and archive info files exist but do not match`,
		},
		{
			name: "long stderr keeps the end",
			err:  ExecError{Namespace: "pg", Pod: "p", Command: []string{"sh"}, Code: 2, Stderr: long},
			want: `command "sh" in pod pg/p exited with code 2: ...` + long[len(long)-maxStderrInError:],
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestWrapExecError(t *testing.T) {
	exit3 := exec.CodeExitError{Err: errors.New("command terminated with exit code 3"), Code: 3}
	tests := []struct {
		name     string
		in       error
		wantCode int // -1: not an *ExecError
		wantMsg  string
	}{
		{name: "success", in: nil, wantCode: -1},
		{name: "exit code", in: exit3, wantCode: 3, wantMsg: `command "pg_isready" in pod pg/hippo-0 (container database) exited with code 3`},
		{name: "wrapped exit code", in: fmt.Errorf("stream: %w", exit3), wantCode: 3},
		{name: "transport error", in: errors.New("connection reset"), wantCode: -1, wantMsg: "exec in pod pg/hippo-0: connection reset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := wrapExecError(tc.in, "pg", "hippo-0", "database", []string{"pg_isready"})
			if tc.in == nil {
				if err != nil {
					t.Fatalf("got %v for a successful command", err)
				}
				return
			}
			var execErr *ExecError
			isExec := errors.As(err, &execErr)
			switch {
			case tc.wantCode < 0 && isExec:
				t.Errorf("got *ExecError for a non-exit failure: %v", err)
			case tc.wantCode >= 0 && !isExec:
				t.Errorf("got %T, want *ExecError", err)
			case isExec && execErr.ExitCode() != tc.wantCode:
				t.Errorf("ExitCode() = %d, want %d", execErr.ExitCode(), tc.wantCode)
			}
			if isExec && !errors.Is(err, exit3) {
				t.Errorf("*ExecError does not unwrap to the remotecommand error")
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Errorf("message = %q, want %q", err, tc.wantMsg)
			}
		})
	}
}

// TestExecRequest checks the request Exec builds against a server that
// refuses both protocols: WebSocket first, then the SPDY fallback.
func TestExecRequest(t *testing.T) {
	type seen struct {
		method, path, upgrade string
		query                 url.Values
	}
	var (
		mu       sync.Mutex
		requests []seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, seen{r.Method, r.URL.Path, strings.ToLower(r.Header.Get("Upgrade")), r.URL.Query()})
		mu.Unlock()
		http.Error(w, "exec is not allowed here", http.StatusForbidden)
	}))
	defer srv.Close()

	config := &rest.Config{Host: srv.URL}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ExecCapture(context.Background(), config, client, "pg", "hippo-0", "database", []string{"pgbackrest", "--stanza=db", "info"})
	if err == nil {
		t.Fatal("expected an error from a server that refuses exec")
	}
	if !strings.HasPrefix(err.Error(), "exec in pod pg/hippo-0: ") {
		t.Errorf("error does not name the pod: %v", err)
	}
	var execErr *ExecError
	if errors.As(err, &execErr) {
		t.Errorf("a refused connection is not a command exit: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(requests) != 2 {
		t.Fatalf("server saw %d requests, want 2 (WebSocket, then SPDY): %+v", len(requests), requests)
	}
	for i, want := range []struct{ method, upgrade string }{{"GET", "websocket"}, {"POST", "spdy/3.1"}} {
		r := requests[i]
		if r.method != want.method || r.upgrade != want.upgrade {
			t.Errorf("request %d: %s upgrade %q, want %s upgrade %q", i, r.method, r.upgrade, want.method, want.upgrade)
		}
		if r.path != "/api/v1/namespaces/pg/pods/hippo-0/exec" {
			t.Errorf("request %d path = %s", i, r.path)
		}
		q := r.query
		if got := strings.Join(q["command"], " "); got != "pgbackrest --stanza=db info" {
			t.Errorf("request %d command = %q", i, got)
		}
		if q.Get("container") != "database" || q.Get("stdout") != "true" || q.Get("stderr") != "true" || q.Has("stdin") || q.Has("tty") {
			t.Errorf("request %d query = %v", i, q)
		}
	}
}

func TestExecEmptyCommand(t *testing.T) {
	err := Exec(context.Background(), &rest.Config{}, nil, "pg", "p", "", nil, nil, nil, nil)
	if err == nil || err.Error() != "exec: empty command" {
		t.Fatalf("error = %v", err)
	}
}
