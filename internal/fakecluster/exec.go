package fakecluster

import (
	"context"
	"testing"
)

// ExecFunc is the signature of an exec into a pod (kube.ExecFunc's).
type ExecFunc = func(ctx context.Context, namespace, pod, container string, command []string) (stdout, stderr string, err error)

// ExecCall is one exec a fake saw.
type ExecCall struct {
	Pod, Container string
	Command        []string
}

// RecordingExec answers execs with fn, and records them in calls.
func RecordingExec(calls *[]ExecCall, fn func(pod, container string, command []string) (string, string, error)) ExecFunc {
	return func(_ context.Context, _, pod, container string, command []string) (string, string, error) {
		*calls = append(*calls, ExecCall{pod, container, command})
		return fn(pod, container, command)
	}
}

// FullVolumeExec answers df with DFFull, the repository volume full, and
// fails the test on any other command.
func FullVolumeExec(t testing.TB) ExecFunc {
	return func(_ context.Context, _, _, _ string, command []string) (string, string, error) {
		if command[0] != "df" {
			t.Errorf("unexpected exec %q", command)
		}
		return DFFull, "", nil
	}
}
