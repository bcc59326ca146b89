// Command gendocs writes docs/, one markdown page per command of kubectl pgo, from the cobra
// command tree, so the reference never drifts from --help. Run it through `make docs`.
//
//	go run ./hack/gendocs [DIR]   (default: docs)
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
)

func main() {
	dir := "docs"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := generate(dir); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

// generate replaces the markdown pages in dir with freshly generated ones; pages of commands
// that no longer exist go too.
// pagePattern matches the generated pages: one per command, named after its path.
const pagePattern = "kubectl_pgo*.md"

func generate(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Only the generated pages: docs/ also holds written ones (benchmarks.md).
	old, err := filepath.Glob(filepath.Join(dir, pagePattern))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return doc.GenMarkdownTree(docRoot(), dir)
}

// docRoot is the command tree as documented: without the dated footer and without defaults
// that depend on the machine, so that every checkout generates the same pages.
func docRoot() *cobra.Command {
	root := cmd.NewCmdPGO(genericiooptions.NewTestIOStreamsDiscard())
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		for _, child := range c.Commands() {
			walk(child)
		}
	}
	walk(root)
	home, _ := os.UserHomeDir()
	if f := root.PersistentFlags().Lookup("cache-dir"); f != nil && home != "" {
		f.DefValue = strings.Replace(f.DefValue, home, "$HOME", 1)
	}
	return root
}
