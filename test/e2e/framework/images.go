package framework

import (
	"cmp"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TagImage gives image the second name tag in the containerd of every node of the local
// cluster (hack/cluster/node.sh), and removes that name when the test ends: an image the plugin
// cannot tell the PostgreSQL major of by its name.
func (e *Env) TagImage(t *testing.T, image, tag string) {
	t.Helper()
	state := cmp.Or(os.Getenv("KPGO_STATE"), "/var/lib/kubectl-pgo-cluster")
	socks, _ := filepath.Glob(filepath.Join(state, "nodes", "*", "containerd", "containerd.sock"))
	if len(socks) == 0 {
		t.Fatalf("no node's containerd socket under %s/nodes: TagImage needs the local cluster", state)
	}
	ctr := func(sock string, args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ctr", append([]string{"-a", sock, "-n", "k8s.io", "images"}, args...)...).CombinedOutput()
		if err != nil {
			t.Logf("ctr images %v on %s: %v\n%s", args, sock, err, out)
		}
		return err
	}
	t.Cleanup(func() {
		for _, sock := range socks {
			_ = ctr(sock, "rm", tag)
		}
	})
	for _, sock := range socks {
		if err := ctr(sock, "tag", "--force", image, tag); err != nil {
			t.Fatalf("tagging %s as %s on every node failed", image, tag)
		}
	}
}
