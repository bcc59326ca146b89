// Wording of the failures of pod look-ups and execs, shared by the
// commands and the domain packages.

package kube

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

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

// ExecFailed explains an exec that could not run, what being what it was
// to do: RBAC in particular. An exit status keeps its *ExecError.
func ExecFailed(what, ns, pod string, err error) error {
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
