package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	// client-go's executors report upgrade failures with this package's
	// error type; the deprecated apimachinery copy is a different type and
	// would never match.
	"k8s.io/streaming/pkg/httpstream"
)

// maxStderrInError bounds how much of a failed command's stderr goes into
// the error message; the end of the output is where tools print the reason.
const maxStderrInError = 1024

// ExecError reports a command that ran in the container and exited non-zero.
// Other failures (pod gone, connection lost) are returned as plain errors.
type ExecError struct {
	Namespace string
	Pod       string
	Container string
	Command   []string
	Code      int
	// Stderr is the command's standard error, when it was captured
	// (ExecCapture); its tail is included in Error().
	Stderr string
	// Err is the error remotecommand returned.
	Err error
}

// ExitCode is the command's exit status.
func (e *ExecError) ExitCode() int { return e.Code }

func (e *ExecError) Unwrap() error { return e.Err }

func (e *ExecError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command %q in pod %s/%s", strings.Join(e.Command, " "), e.Namespace, e.Pod)
	if e.Container != "" {
		fmt.Fprintf(&b, " (container %s)", e.Container)
	}
	fmt.Fprintf(&b, " exited with code %d", e.Code)
	if stderr := strings.TrimSpace(e.Stderr); stderr != "" {
		if len(stderr) > maxStderrInError {
			stderr = "..." + stderr[len(stderr)-maxStderrInError:]
		}
		b.WriteString(": ")
		b.WriteString(stderr)
	}
	return b.String()
}

// Exec runs command in a container of a pod, like kubectl exec without a
// TTY, and waits for it to finish. stdin may be nil; nil writers discard
// output. If the command exits non-zero the error is an *ExecError carrying
// the exit code. Cancelling ctx ends the stream.
func Exec(ctx context.Context, restConfig *rest.Config, client kubernetes.Interface, namespace, pod, container string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(command) == 0 {
		return errors.New("exec: empty command")
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}

	req := client.CoreV1().RESTClient().Post().
		Resource("pods").
		Namespace(namespace).
		Name(pod).
		SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   command,
			Stdin:     stdin != nil,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)

	executor, err := newExecutor(restConfig, req.URL())
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	err = executor.StreamWithContext(ctx, remotecommand.StreamOptions{
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: stderr,
	})
	return wrapExecError(err, namespace, pod, container, command)
}

// ExecCapture is Exec without stdin, returning what the command printed.
// On a non-zero exit the *ExecError includes the end of stderr.
func ExecCapture(ctx context.Context, restConfig *rest.Config, client kubernetes.Interface, namespace, pod, container string, command []string) (stdout, stderr string, err error) {
	var outBuf, errBuf bytes.Buffer
	err = Exec(ctx, restConfig, client, namespace, pod, container, command, nil, &outBuf, &errBuf)
	var execErr *ExecError
	if errors.As(err, &execErr) {
		execErr.Stderr = errBuf.String()
	}
	return outBuf.String(), errBuf.String(), err
}

// newExecutor prefers the WebSocket protocol and falls back to SPDY for
// API servers (or proxies) that cannot upgrade to it, as kubectl does.
func newExecutor(config *rest.Config, u *url.URL) (remotecommand.Executor, error) {
	spdyExec, err := remotecommand.NewSPDYExecutor(config, "POST", u)
	if err != nil {
		return nil, err
	}
	// RFC 6455 requires GET for the WebSocket handshake.
	wsExec, err := remotecommand.NewWebSocketExecutor(config, "GET", u.String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(wsExec, spdyExec, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// wrapExecError turns remotecommand's exit status into an *ExecError and
// names the pod in any other failure.
func wrapExecError(err error, namespace, pod, container string, command []string) error {
	if err == nil {
		return nil
	}
	var exitErr exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		return &ExecError{
			Namespace: namespace,
			Pod:       pod,
			Container: container,
			Command:   command,
			Code:      exitErr.ExitStatus(),
			Err:       err,
		}
	}
	return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
}
