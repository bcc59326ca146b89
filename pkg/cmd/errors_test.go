package cmd

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A pod that could not be looked up is not said to be stopped.
func TestNotRunning(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"no pod", errors.New(`no running pod matches "x"`), "is not running"},
		{"refused", fmt.Errorf("list pods: %w", forbidden), "could not be looked up"},
		{"server error", fmt.Errorf("list pods: %w", apierrors.NewInternalError(errors.New("etcd"))), "could not be looked up"},
	} {
		if got := notRunning(c.err); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
