package planner

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/rules")

// TestRuleGolden checks each rewrite rule on its own: for every query in
// testdata/rules/RULE.txt, the logical plan just before RULE and just after
// it must equal the golden text, and must differ from each other (the rule
// did something). Run with -update to rewrite the files after a deliberate
// change; the query lines and comments are kept.
func TestRuleGolden(t *testing.T) {
	p := demoPlanner(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			path := filepath.Join("testdata", "rules", r.name+".txt")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("every rule needs golden cases: %v", err)
			}
			cases := parseGolden(string(data))
			if len(cases) == 0 {
				t.Fatalf("%s holds no cases", path)
			}
			var out strings.Builder
			for _, c := range cases {
				before, after := ruleStep(t, p, c.query, r.name)
				if before == after {
					t.Errorf("%s left the plan of %q unchanged:\n%s", r.name, c.query, before)
				}
				if !*updateGolden && (before != c.before || after != c.after) {
					t.Errorf("%s on %q:\n-- before\n%s-- after\n%s-- want before\n%s-- want after\n%s", r.name, c.query, before, after, c.before, c.after)
				}
				out.WriteString(c.comment)
				out.WriteString("query: " + c.query + "\n-- before\n" + before + "-- after\n" + after + "\n")
			}
			if *updateGolden {
				if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// ruleStep plans sql with a trace and returns the logical plan before and
// after the named rule.
func ruleStep(t *testing.T, p *Planner, sql, name string) (before, after string) {
	t.Helper()
	var steps []string
	var names []string
	st, pl, err := p.planForTrace(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	err = st.finish(pl, func(rule string, n lnode) {
		names = append(names, rule)
		steps = append(steps, explainLogical(n))
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	for i, n := range names {
		if n == name {
			return steps[i-1], steps[i]
		}
	}
	t.Fatalf("rule %s did not run", name)
	return "", ""
}

type goldenCase struct {
	comment, query, before, after string
}

// parseGolden reads "# comment" lines, a "query: SQL" line, then the
// "-- before" and "-- after" plans; cases are separated by blank lines.
func parseGolden(s string) []goldenCase {
	var out []goldenCase
	var cur *goldenCase
	section := ""
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			if cur != nil && cur.query != "" {
				out = append(out, *cur)
				cur = nil
			}
			if cur == nil {
				cur = &goldenCase{}
			}
			cur.comment += line + "\n"
			section = ""
		case strings.HasPrefix(line, "query: "):
			if cur == nil || cur.query != "" {
				if cur != nil {
					out = append(out, *cur)
				}
				cur = &goldenCase{}
			}
			cur.query = strings.TrimPrefix(line, "query: ")
			section = ""
		case line == "-- before":
			section = "before"
		case line == "-- after":
			section = "after"
		case line == "":
			section = "done"
		case cur != nil && section == "before":
			cur.before += line + "\n"
		case cur != nil && section == "after":
			cur.after += line + "\n"
		}
	}
	if cur != nil && cur.query != "" {
		out = append(out, *cur)
	}
	return out
}

func (p *Planner) planForTrace(ctx context.Context, sql string) (*stmt, *planned, error) {
	st, pl, _, err := p.build(ctx, Request{SQL: sql})
	return st, pl, err
}
