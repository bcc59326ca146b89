// Package krew proves the release path with krew itself: it builds the archive for this
// machine's platform with hack/dist.sh (the goreleaser layout, without goreleaser), renders the
// manifest with hack/krew-manifest.sh, validates it with krew's validate-krew-manifest, installs
// it with `kubectl krew install --manifest --archive`, runs `kubectl pgo version` through that
// install and uninstalls it. No cluster is needed, and nothing leaves the machine: archives are
// served from 127.0.0.1, krew's plugin index is never fetched, and any HTTP or git access
// elsewhere fails the test.
package krew

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const (
	// krewModule and krewVersion are the krew whose install and validation are tested.
	krewModule  = "sigs.k8s.io/krew"
	krewVersion = "v0.4.3"
	// pluginVersion is stamped into the test build; krew needs a semantic version.
	pluginVersion = "v0.0.0-krewtest"
)

func TestKrewInstall(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the release scripts are bash scripts; this test runs on Linux and macOS")
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl is not on PATH: krew runs as `kubectl krew`, so this test needs kubectl (no cluster)")
	}
	start := time.Now()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	krew, validate := krewTools(t)
	work := t.TempDir()

	// The archive, as a release would have it, for the platform krew will pick here.
	platform := runtime.GOOS + "/" + runtime.GOARCH
	dist := filepath.Join(work, "dist")
	run(t, root, nil, "bash", "hack/dist.sh", pluginVersion, dist, platform)
	archive := filepath.Join(dist, "kubectl-pgo_"+strings.TrimPrefix(pluginVersion, "v")+"_"+runtime.GOOS+"_"+runtime.GOARCH+".tar.gz")
	if _, err := os.Stat(archive); err != nil {
		t.Fatalf("hack/dist.sh did not write the archive: %v", err)
	}

	// The manifest points at a server on 127.0.0.1, so validation can download the archive the
	// way a user's krew would download it from the release.
	server := httptest.NewServer(http.FileServer(http.Dir(dist)))
	t.Cleanup(server.Close)
	manifest := filepath.Join(work, "rendered", "pgo.yaml")
	rendered := run(t, root, []string{"URI_BASE=" + server.URL, "PLATFORMS=" + platform},
		"bash", "hack/krew-manifest.sh", pluginVersion, dist)
	writeFile(t, manifest, rendered)

	// krew runs as `kubectl krew`: kubectl finds kubectl-krew on PATH. A git that fails stands
	// in for the real one, so an attempt to fetch krew's index fails the test instead of
	// reaching GitHub.
	bin := filepath.Join(work, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(krew, filepath.Join(bin, "kubectl-krew")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bin, "git"), "#!/bin/sh\necho \"test/krew: krew ran git $*; it must not use the network\" >&2\nexit 1\n")
	if err := os.Chmod(filepath.Join(bin, "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	krewRoot := filepath.Join(work, "krew")
	// uninstall checks that an index exists; an empty one is enough, and install --manifest
	// never reads it. Without it krew would tell the user to clone the index from GitHub.
	if err := os.MkdirAll(filepath.Join(krewRoot, "index", "default", ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + strings.Join([]string{filepath.Join(krewRoot, "bin"), bin, os.Getenv("PATH")}, string(os.PathListSeparator)),
		"KREW_ROOT=" + krewRoot,
		"KREW_NO_UPGRADE_CHECK=1",
		"HOME=" + filepath.Join(work, "home"),
		// Loopback is never proxied, so only requests that would leave the machine fail.
		"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9",
		"http_proxy=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9",
		"NO_PROXY=", "no_proxy=",
	}

	t.Run("validate committed manifest", func(t *testing.T) {
		// validate-krew-manifest takes the plugin's name from the file's name.
		committed := filepath.Join(work, "committed", "pgo.yaml")
		data, err := os.ReadFile(filepath.Join(root, "krew-manifest.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, committed, string(data))
		run(t, work, env, validate, "-manifest", committed, "-skip-install")
	})

	t.Run("validate rendered manifest", func(t *testing.T) {
		// Without -skip-install it installs every platform through `kubectl krew install` into
		// a fresh KREW_ROOT and checks that the LICENSE was extracted.
		out := run(t, work, env, validate, "-manifest", manifest)
		if !strings.Contains(out, "all 1 spec.platforms installed fine") {
			t.Errorf("validate-krew-manifest did not install the platform:\n%s", out)
		}
	})

	t.Run("install, run, uninstall", func(t *testing.T) {
		out := run(t, work, env, "kubectl", "krew", "install", "--manifest="+manifest, "--archive="+archive)
		if !strings.Contains(out, "Installed plugin: pgo") {
			t.Fatalf("krew did not report the install:\n%s", out)
		}
		link := filepath.Join(krewRoot, "bin", "kubectl-pgo")
		if _, err := os.Stat(link); err != nil {
			t.Fatalf("krew did not link the plugin: %v", err)
		}
		if out := run(t, work, env, "kubectl", "krew", "list"); !strings.Contains(out, "pgo") {
			t.Errorf("kubectl krew list does not show pgo:\n%s", out)
		}

		out = run(t, work, env, "kubectl", "pgo", "version", "--client")
		if !strings.Contains(out, pluginVersion) {
			t.Errorf("kubectl pgo version --client does not report %s:\n%s", pluginVersion, out)
		}
		var v struct {
			ClientVersion struct {
				Version  string `json:"version"`
				Platform string `json:"platform"`
			} `json:"clientVersion"`
		}
		out = stdout(t, work, env, "kubectl", "pgo", "version", "--client", "-o", "json")
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("version -o json: %v\n%s", err, out)
		}
		if v.ClientVersion.Version != pluginVersion || v.ClientVersion.Platform != platform {
			t.Errorf("installed plugin is %s on %s, want %s on %s", v.ClientVersion.Version, v.ClientVersion.Platform, pluginVersion, platform)
		}

		out = run(t, work, env, "kubectl", "krew", "uninstall", "pgo")
		if !strings.Contains(out, "Uninstalled plugin: pgo") {
			t.Errorf("krew did not report the uninstall:\n%s", out)
		}
		for _, gone := range []string{link, filepath.Join(krewRoot, "store", "pgo"), filepath.Join(krewRoot, "receipts", "pgo.yaml")} {
			if _, err := os.Lstat(gone); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s is still there after uninstall (err %v)", gone, err)
			}
		}
		if out := run(t, work, env, "kubectl", "krew", "list"); strings.Contains(out, "pgo") {
			t.Errorf("kubectl krew list still shows pgo:\n%s", out)
		}
	})
	t.Logf("krew test took %s", time.Since(start).Round(time.Second))
}

// krewTools returns krew and validate-krew-manifest, built once with `go install` into the
// tools cache shared with hack/lint.sh.
func krewTools(t *testing.T) (krew, validate string) {
	t.Helper()
	cache := os.Getenv("KPGO_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "kubectl-pgo")
	}
	dir := filepath.Join(cache, "tools", "krew-"+krewVersion)
	krew, validate = filepath.Join(dir, "krew"), filepath.Join(dir, "validate-krew-manifest")
	if isFile(krew) && isFile(validate) {
		return krew, validate
	}
	// Build into a private directory and rename it into place, so an interrupted build never
	// leaves a half-written tool in the cache.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".krew-install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	t.Logf("installing krew %s into %s", krewVersion, dir)
	run(t, tmp, []string{"GOBIN=" + tmp}, "go", "install",
		krewModule+"/cmd/krew@"+krewVersion, krewModule+"/cmd/validate-krew-manifest@"+krewVersion)
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return krew, validate
}

// run runs a command in dir with extra environment variables (later ones win) and returns
// its stdout and stderr together, as krew reports on stderr; a failure fails the test.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	return execute(t, dir, env, true, name, args...)
}

// stdout is run for output that is parsed: it returns stdout alone.
func stdout(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	return execute(t, dir, env, false, name, args...)
}

func execute(t *testing.T, dir string, env []string, withStderr bool, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// One buffer must be one writer: exec then copies both streams from a single pipe.
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if withStderr {
		cmd.Stderr = &out
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("$ %s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
