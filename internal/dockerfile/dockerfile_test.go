// Package dockerfile checks the repository's Dockerfile with the parser
// Docker's own builder uses, so a syntax error fails the tests where no
// Docker engine runs.
package dockerfile

import (
	"os"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func TestDockerfileParses(t *testing.T) {
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile does not parse: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile warning: %s", w.Short)
	}
	known := map[string]bool{"from": true, "run": true, "copy": true, "workdir": true, "env": true, "arg": true,
		"user": true, "expose": true, "entrypoint": true, "cmd": true, "label": true, "add": true, "healthcheck": true}
	var stages, entry int
	for _, n := range res.AST.Children {
		if !known[strings.ToLower(n.Value)] {
			t.Errorf("line %d: unknown instruction %q", n.StartLine, n.Value)
		}
		switch strings.ToLower(n.Value) {
		case "from":
			stages++
		case "entrypoint":
			entry++
		}
	}
	if stages != 2 || entry != 1 {
		t.Errorf("want a two-stage build with one ENTRYPOINT, got %d stages, %d entrypoints", stages, entry)
	}
}
