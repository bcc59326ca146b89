package kube

import (
	"context"
	"errors"
	"net/url"

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
