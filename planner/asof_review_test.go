package planner

import "testing"

// Valid SQL that holds no time travel clause goes through the pre-pass
// unchanged: a column named version or timestamp aliased "of", and the
// words inside escape and dollar-quoted strings.
func TestStripAsOfLeavesValidSQL(t *testing.T) {
	for _, sql := range []string{
		"SELECT version AS of FROM t",
		"SELECT DISTINCT timestamp AS of FROM t",
		`SELECT E'it\'s FOR VERSION AS OF 1' FROM t`,
		`SELECT E'\\' AS x FROM t`,
		"SELECT $$ FOR VERSION AS OF 1 $$ FROM t",
		"SELECT $q$ it's FOR VERSION AS OF 1 $q$ FROM t",
	} {
		out, clauses, err := stripAsOf(sql)
		if err != nil || len(clauses) != 0 || out != sql {
			t.Errorf("%s: became %q, clauses %v, err %v", sql, out, clauses, err)
		}
	}
	// A dollar-quoted string before a real clause does not hide it.
	out, clauses, err := stripAsOf("SELECT $$x$$ FROM t VERSION AS OF 3")
	if err != nil || len(clauses) != 1 {
		t.Errorf("dollar string then clause: %q %v %v", out, clauses, err)
	}
}
