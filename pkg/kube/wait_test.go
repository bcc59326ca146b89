package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

func TestWaitFor(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		condition func(calls int) (bool, error)
		cancel    bool
		wantCalls int
		check     func(t *testing.T, err error)
	}{
		{
			name:      "immediately true",
			condition: func(int) (bool, error) { return true, nil },
			wantCalls: 1,
			check:     wantNoError,
		},
		{
			name:      "true on third poll",
			condition: func(calls int) (bool, error) { return calls == 3, nil },
			wantCalls: 3,
			check:     wantNoError,
		},
		{
			name:      "condition error stops polling",
			condition: func(int) (bool, error) { return false, boom },
			wantCalls: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, boom) {
					t.Errorf("error = %v, want boom", err)
				}
			},
		},
		{
			name:      "timeout",
			condition: func(int) (bool, error) { return false, nil },
			check: func(t *testing.T, err error) {
				if err == nil || err.Error() != "timed out after 50ms" {
					t.Errorf("error = %v, want %q", err, "timed out after 50ms")
				}
				if !wait.Interrupted(err) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("timeout error %v no longer unwraps to the wait error", err)
				}
			},
		},
		{
			name:      "caller cancels",
			condition: func(int) (bool, error) { return false, nil },
			cancel:    true,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error = %v, want context.Canceled", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			err := WaitFor(ctx, 5*time.Millisecond, 50*time.Millisecond, func(context.Context) (bool, error) {
				calls++
				if tc.cancel {
					cancel()
				}
				return tc.condition(calls)
			})
			tc.check(t, err)
			if tc.wantCalls != 0 && calls != tc.wantCalls {
				t.Errorf("condition called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}

func wantNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
	}
}
