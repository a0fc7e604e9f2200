// Package deps_test enforces the import direction between lakeflight's
// packages: lower layers never import higher ones.
//
//	expr, catalog  <-  pruning  <-  scan  <-  executor  <-  planner  <-  server  <-  cmd
//	catalog  <-  changes  <-  lookup, planner, server
//	scan, changes  <-  lookup  <-  planner
package deps_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const module = "github.com/lakeflight/lakeflight"

// rule limits the lakeflight packages that pkg may depend on, directly or
// not. Exactly one of only and never is set: only lists every package pkg
// may depend on (empty for none), never lists package path prefixes it
// must not depend on.
type rule struct {
	pkg   string
	only  []string
	never []string
}

var rules = []rule{
	{pkg: "expr", only: []string{}},
	{pkg: "catalog", only: []string{}},
	{pkg: "pruning", only: []string{"expr"}},
	{pkg: "scan", only: []string{"catalog", "pruning", "expr"}},
	{pkg: "changes", only: []string{"catalog"}},
	{pkg: "lookup", only: []string{"catalog", "changes", "scan", "pruning", "expr"}},
	{pkg: "executor", only: []string{"scan", "expr", "catalog", "pruning"}},
	{pkg: "planner", never: []string{"server", "cmd"}},
	{pkg: "server", never: []string{"cmd"}},
}

type listed struct {
	ImportPath string
	Deps       []string
	Error      *struct{ Err string }
}

// listPackages runs go list over the module: the non-test dependencies of
// every package, transitive.
func listPackages(t *testing.T) map[string]listed {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command in PATH")
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Deps,Error", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// internal returns the lakeflight packages among deps, relative to the
// module root.
func internal(deps []string) []string {
	var out []string
	for _, d := range deps {
		if rel, ok := strings.CutPrefix(d, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

func TestImportDirection(t *testing.T) {
	pkgs := listPackages(t)
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			p, ok := pkgs[module+"/"+r.pkg]
			if !ok {
				t.Fatalf("package %s not found by go list", r.pkg)
			}
			if p.Error != nil {
				t.Logf("go list reports an error for %s (checking its imports anyway): %s", r.pkg, p.Error.Err)
			}
			for _, dep := range internal(p.Deps) {
				if r.only != nil && !slices.Contains(r.only, dep) {
					t.Errorf("%s depends on %s; it may depend only on %v", r.pkg, dep, r.only)
				}
				for _, bad := range r.never {
					if dep == bad || strings.HasPrefix(dep, bad+"/") {
						t.Errorf("%s depends on %s, a higher layer", r.pkg, dep)
					}
				}
			}
		})
	}
}

// TestNoPackageImportsCmd checks that nothing outside cmd/ imports a
// command (main packages cannot be imported, but internal helpers under
// cmd/ could be).
func TestNoPackageImportsCmd(t *testing.T) {
	for path, p := range listPackages(t) {
		rel, ok := strings.CutPrefix(path, module+"/")
		if !ok || rel == "cmd" || strings.HasPrefix(rel, "cmd/") {
			continue
		}
		for _, dep := range internal(p.Deps) {
			if dep == "cmd" || strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s depends on %s", rel, dep)
			}
		}
	}
}
