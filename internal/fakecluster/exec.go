package fakecluster

import "context"

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
