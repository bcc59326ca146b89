package kube

import (
	"context"
	"errors"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// NotRunning words a FindRunningPod failure: "is not running", or, when
// the API server refused or failed the request, or did not answer, "could
// not be looked up", since the pod may well be running.
func NotRunning(err error) string {
	var status apierrors.APIStatus
	var urlErr *url.Error
	if errors.As(err, &status) || errors.As(err, &urlErr) || errors.Is(err, context.DeadlineExceeded) {
		return "could not be looked up"
	}
	return "is not running"
}
