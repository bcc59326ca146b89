package kube

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ExecFunc runs a command in a container and returns its output: ExecCapture
// with the kubeconfig's clients bound, or a fake in unit tests. It is an
// alias so that any function of this shape can be passed.
type ExecFunc = func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)

// ExplainExec explains an exec that failed: a command that ran and
// failed is wrapped as it is, an exec that could not run names the pod and,
// when RBAC refused it, the permission to ask for.
func ExplainExec(what, ns, pod string, err error) error {
	var execErr *ExecError
	if errors.As(err, &execErr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if IsForbidden(err) {
		return fmt.Errorf("cannot %s: exec into pod %s/%s is forbidden (kubectl pgo needs the create verb on pods/exec in namespace %s): %w",
			what, ns, pod, ns, err)
	}
	return fmt.Errorf("cannot %s (pod %s/%s): %w", what, ns, pod, err)
}

// IsForbidden recognizes a 403, whether it comes as a status error or as
// the text of a failed upgrade of an exec stream.
func IsForbidden(err error) bool {
	if apierrors.IsForbidden(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "forbidden") || strings.Contains(msg, "Forbidden")
}

// NotRunning words a FindRunningPod failure: "is not running", or, when
// the API server refused or failed the request, "could not be looked up",
// since the pod may well be running.
func NotRunning(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) || Unreachable(err) {
		return "could not be looked up"
	}
	return "is not running"
}

// Unreachable tells whether err is a request that got no answer from the
// API server: it could not connect, or the answer did not come in time.
func Unreachable(err error) bool {
	var urlErr *url.Error
	return errors.As(err, &urlErr) || errors.Is(err, context.DeadlineExceeded)
}

// UnreachableHint explains an error that is not the API server's answer:
// the server was not reached, or did not answer in time.
func UnreachableHint(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) || !Unreachable(err) {
		return ""
	}
	return " (the Kubernetes API server did not answer: check that it is up and that --kubeconfig and --context point at it; --request-timeout bounds the wait)"
}
