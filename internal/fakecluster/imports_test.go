package fakecluster

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	self   = "github.com/kubectl-pgo/kubectl-pgo/internal/fakecluster"
	cmdPkg = "github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
)

// Only tests import this package, and it imports no command package.
func TestOnlyTestsImportIt(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		inSelf := filepath.Dir(path) == filepath.Join(root, "internal", "fakecluster")
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == self && !inSelf {
				t.Errorf("%s imports %s; only tests may", path, self)
			}
			if inSelf && (p == cmdPkg || strings.HasPrefix(p, cmdPkg+"/")) {
				t.Errorf("%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
