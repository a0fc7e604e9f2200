package planner

import (
	"strings"
	"testing"
)

func TestNumberParams(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"", ""},
		{"?", "$1"},
		{"SELECT ?", "SELECT $1"},
		{"SELECT ?, ?", "SELECT $1, $2"},
		{"SELECT ?,?,?,?,?,?,?,?,?,?,?", "SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
		{"WHERE a = ? AND b IN (?, ?)", "WHERE a = $1 AND b IN ($2, $3)"},
		{"SELECT 1 - ?, 4 / ?", "SELECT 1 - $1, 4 / $2"},
		// String literals and quoted identifiers keep their question marks.
		{"WHERE a = '?' AND b = ?", "WHERE a = '?' AND b = $1"},
		{"WHERE a = 'it''s ?' AND b = ?", "WHERE a = 'it''s ?' AND b = $1"},
		{"WHERE a = '''?''' AND b = ?", "WHERE a = '''?''' AND b = $1"},
		{"WHERE a = '' AND b = ?", "WHERE a = '' AND b = $1"},
		{`SELECT "col?" FROM t WHERE x = ?`, `SELECT "col?" FROM t WHERE x = $1`},
		{`SELECT "a""?" , ?`, `SELECT "a""?" , $1`},
		{`SELECT "it's", ?`, `SELECT "it's", $1`},
		{`SELECT '"', ?, '"'`, `SELECT '"', $1, '"'`},
		{"SELECT 'é?日', ?", "SELECT 'é?日', $1"},
		// E'...' strings escape with backslashes.
		{`SELECT E'\'?', ?`, `SELECT E'\'?', $1`},
		{`SELECT e'a\\', ?`, `SELECT e'a\\', $1`},
		{`SELECT '\', ?`, `SELECT '\', $1`},
		{`SELECT name'\', ?`, `SELECT name'\', $1`},
		// Dollar quotes.
		{"SELECT $$who?$$, ?", "SELECT $$who?$$, $1"},
		{"SELECT $tag$ a $$ ? $tag$, ?", "SELECT $tag$ a $$ ? $tag$, $1"},
		{"SELECT $1, ?", "SELECT $1, $1"},
		{"SELECT a$b, ?", "SELECT a$b, $1"},
		{"SELECT $$unterminated ?", "SELECT $$unterminated ?"},
		// Comments.
		{"SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2"},
		{"SELECT ? -- ?", "SELECT $1 -- ?"},
		{"SELECT ?--?\n?", "SELECT $1--?\n$2"},
		{"SELECT /* ? */ ?", "SELECT /* ? */ $1"},
		{"SELECT /* a /* ? */ ? */ ?", "SELECT /* a /* ? */ ? */ $1"},
		{"SELECT /**/ ?", "SELECT /**/ $1"},
		{"SELECT ? /* ?", "SELECT $1 /* ?"},
		{"SELECT ? /*", "SELECT $1 /*"},
		{"SELECT ? /", "SELECT $1 /"},
		{"SELECT ? -", "SELECT $1 -"},
		// Unterminated quotes run to the end.
		{"SELECT ?, 'abc?", "SELECT $1, 'abc?"},
		{`SELECT ?, "abc?`, `SELECT $1, "abc?`},
		{"SELECT ?, '", "SELECT $1, '"},
		{`SELECT ?, E'\`, `SELECT $1, E'\`},
	}
	for _, tt := range tests {
		if got := numberParams(tt.in); got != tt.want {
			t.Errorf("numberParams(%q)\n got  %q\n want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzNumberParams checks that rewriting keeps every byte other than the
// question marks it numbers, and never panics.
func FuzzNumberParams(f *testing.F) {
	for _, s := range []string{"SELECT ?", "'?'", `"?"`, "-- ?\n?", "/* /* ? */ */ ?", "$$?$$ ?", `E'\'?' ?`, "$a$ ? $a$?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := numberParams(s)
		if !strings.Contains(s, "?") && got != s {
			t.Fatalf("numberParams(%q) = %q changed a statement without ?", s, got)
		}
		// Removing the $n the rewrite introduced gives back the input
		// without the rewritten question marks.
		if strings.Count(got, "?") > strings.Count(s, "?") {
			t.Fatalf("numberParams(%q) = %q added question marks", s, got)
		}
	})
}
