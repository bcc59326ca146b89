package kube

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// WaitFor calls condition every interval (first call immediately) until it
// returns true, returns an error, or timeout passes. On timeout the error
// says how long it waited; it still satisfies wait.Interrupted and
// errors.Is(err, context.DeadlineExceeded). Callers add what they waited for.
func WaitFor(ctx context.Context, interval, timeout time.Duration, condition func(ctx context.Context) (bool, error)) error {
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, condition)
	// Distinguish our own deadline from the caller's context ending (e.g.
	// Ctrl-C), which is reported as is.
	if err != nil && wait.Interrupted(err) && ctx.Err() == nil {
		return &timeoutError{timeout: timeout, err: err}
	}
	return err
}

type timeoutError struct {
	timeout time.Duration
	err     error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("timed out after %s", e.timeout)
}

func (e *timeoutError) Unwrap() error { return e.err }
