package planner

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/lakeflight/lakeflight/catalog"
)

// TestPlanErrors checks that planning fails with the right sentinel (the
// server maps each to a gRPC code) and a message that names the construct,
// object or position involved.
func TestPlanErrors(t *testing.T) {
	tests := []struct {
		sql     string
		is      error
		mention []string
		params  []scalar.Scalar
		session Session
	}{
		// Syntax, with 1-based positions.
		{sql: "SELEC 1", is: ErrSyntax, mention: []string{"position 1", `"SELEC"`}},
		{sql: "SELECT FROM WHERE", is: ErrSyntax, mention: []string{"position 13", `"WHERE"`}},
		{sql: "SELECT * FROM shops WHERE", is: ErrSyntax, mention: []string{"position 26", "end of input"}},
		{sql: "SELECT 'unterminated", is: ErrSyntax, mention: []string{"position 8", "unterminated quoted string"}},
		{sql: "", is: ErrSyntax, mention: []string{"empty statement"}},
		{sql: " ; ", is: ErrSyntax, mention: []string{"empty statement"}},
		{sql: "-- only a comment", is: ErrSyntax, mention: []string{"empty statement"}},

		// Valid SQL that lakeflight does not run.
		{sql: "SELECT 1; SELECT 2", is: ErrUnsupported, mention: []string{"more than one statement"}},
		{sql: "INSERT INTO shops VALUES ('x')", is: ErrUnsupported, mention: []string{"INSERT", "read-only"}},
		{sql: "UPDATE shops SET floor = 1", is: ErrUnsupported, mention: []string{"UPDATE"}},
		{sql: "DELETE FROM shops", is: ErrUnsupported, mention: []string{"DELETE"}},
		{sql: "CREATE TABLE x (a int)", is: ErrUnsupported, mention: []string{"CREATE TABLE"}},
		{sql: "DROP TABLE shops", is: ErrUnsupported, mention: []string{"DROP"}},
		{sql: "BEGIN", is: ErrUnsupported, mention: []string{"transaction"}},
		{sql: "SELECT * FROM shops FOR UPDATE", is: ErrUnsupported, mention: []string{"FOR UPDATE"}},
		{sql: "SELECT * INTO t2 FROM shops", is: ErrUnsupported, mention: []string{"SELECT INTO"}},
		{sql: "SELECT shop_code SIMILAR TO 'x' FROM shops", is: ErrUnsupported, mention: []string{"SIMILAR TO"}},
		{sql: "SELECT * FROM generate_series(1, 3)", is: ErrUnsupported, mention: []string{"table function"}},
		{sql: "SELECT B'101'", is: ErrUnsupported, mention: []string{"bit string"}},
		{sql: "SELECT CAST('{1}' AS int[])", is: ErrUnsupported, mention: []string{"array types"}},
		{sql: "SELECT * FROM shops NATURAL JOIN shops s2", is: ErrUnsupported, mention: []string{"NATURAL JOIN"}},
		{sql: "SELECT count(*) FROM shops s JOIN shops t ON s.shop_code IN (SELECT shop_code FROM shops)", is: ErrUnsupported, mention: []string{"JOIN ... ON", "WHERE"}},
		{sql: "EXPLAIN (SUMMARY) SELECT 1", is: ErrUnsupported, mention: []string{"summary", "ANALYZE, LOGICAL and RULES"}},
		{sql: "SELECT nosuchfn(floor) FROM shops", is: ErrUnsupported, mention: []string{"nosuchfn"}},
		{sql: "SELECT * FROM probe_events WHERE shop_code LIKE ap_mac", is: ErrUnsupported, mention: []string{"LIKE", "non-constant"}},
		{sql: "SELECT * FROM probe_events WHERE shop_code LIKE CAST(rssi AS text)", is: ErrUnsupported, mention: []string{"LIKE", "non-constant"}},

		// Unknown columns, with the position and the columns there are.
		{sql: "SELECT nope FROM shops", is: ErrNoSuchColumn, mention: []string{`"nope"`, "position 8", "shop_code"}},
		{sql: "SELECT shop_code FROM shops WHERE nope = 1", is: ErrNoSuchColumn, mention: []string{`"nope"`, "position 35"}},
		{sql: "SELECT shops.nope FROM shops", is: ErrNoSuchColumn, mention: []string{"shops.nope", "position 8"}},
		{sql: "SELECT info.nope FROM devices", is: ErrNoSuchColumn, mention: []string{"info.nope"}},
		{sql: "SELECT (info).os.nope FROM devices", is: ErrNoSuchColumn, mention: []string{"info.os.nope"}},

		// Semantic errors.
		{sql: "SELECT * FROM probe_events WHERE rssi = 'abc'", is: ErrInvalid, mention: []string{"'abc'", "int32", "rssi"}},
		{sql: "SELECT * FROM probe_events WHERE pt = 'not a date'", is: ErrInvalid, mention: []string{"'not a date'", "date"}},
		{sql: "SELECT * FROM probe_events WHERE occur_time < '2026-13-45'", is: ErrInvalid, mention: []string{"2026-13-45"}},
		{sql: "SELECT * FROM shops WHERE shop_code LIKE 5", is: ErrInvalid, mention: []string{"LIKE pattern", "int64"}},
		{sql: "SELECT * FROM probe_events WHERE rssi LIKE 'a%'", is: ErrInvalid, mention: []string{"LIKE", "rssi", "int32"}},
		{sql: "SELECT * FROM probe_events WHERE rssi", is: ErrInvalid, mention: []string{"boolean", "rssi"}},
		{sql: "SELECT * FROM probe_events WHERE rssi AND true", is: ErrInvalid, mention: []string{"boolean", "rssi"}},
		{sql: "SELECT * FROM shops LIMIT -1", is: ErrInvalid, mention: []string{"LIMIT", "-1"}},
		{sql: "SELECT * FROM shops LIMIT 1.5", is: ErrInvalid, mention: []string{"LIMIT", "1.5"}},
		{sql: "SELECT * FROM shops OFFSET 'x'", is: ErrInvalid, mention: []string{"OFFSET"}},
		{sql: "SELECT CAST(1 AS decimal(50,2))", is: ErrInvalid, mention: []string{"decimal(50,2)", "precision"}},
		{sql: "SELECT mac.x FROM devices", is: ErrInvalid, mention: []string{"mac", "not a struct", `"x"`}},
		{sql: "SELECT 1e400", is: ErrInvalid, mention: []string{"1e400", "out of range"}},
		{sql: "SELECT id FROM probe_events WHERE id < 0x1FFFFFFFFFFFFFFFFF", is: ErrInvalid, mention: []string{"0x1FFFFFFFFFFFFFFFFF", "out of range"}},
		{sql: "SELECT * FROM shops WHERE floor = $0", is: ErrInvalid, mention: []string{"$0", "numbered from 1"}},
		// A huge parameter number must not size ParamTypes (out of memory).
		{sql: "SELECT $2000000000", is: ErrInvalid, mention: []string{"$2000000000", "at most 65535"}},
		{sql: "SELECT * FROM shops WHERE floor = ?0000000000000000", is: ErrInvalid, mention: []string{"at most 65535"}},
		{sql: "SELECT * FROM shops WHERE floor = $2", is: ErrInvalid, mention: []string{"$2"}, params: []scalar.Scalar{scalar.NewInt32Scalar(1)}},
		{sql: "SELECT * FROM shops WHERE floor = ?", is: ErrInvalid, mention: []string{"parameter $1", "int32"}, params: []scalar.Scalar{scalar.NewStringScalar("two")}},
		{sql: "SELECT * FROM shops WHERE floor = ?", is: ErrInvalid, mention: []string{"out of range"}, params: []scalar.Scalar{scalar.NewInt64Scalar(1 << 40)}},

		// Tables, namespaces and catalogs.
		{sql: "SELECT * FROM nope", is: catalog.ErrNoSuchTable, mention: []string{"nope", "qualify"}},
		{sql: "SELECT * FROM mall.nope", is: catalog.ErrNoSuchTable, mention: []string{"mall.nope"}},
		{sql: "SELECT * FROM nope.shops", is: catalog.ErrNoSuchNamespace, mention: []string{"nope"}},
		{sql: "SELECT * FROM othercat.mall.shops", is: catalog.ErrNoSuchNamespace, mention: []string{`"othercat"`, `"default"`}},
		{sql: "SELECT * FROM shops", is: catalog.ErrNoSuchNamespace, mention: []string{`"elsewhere"`}, session: Session{Catalog: "elsewhere"}},
		{sql: "SELECT * FROM shops", is: catalog.ErrNoSuchNamespace, mention: []string{"nope"}, session: Session{Schema: "nope"}},
		{sql: "SELECT * FROM nope", is: catalog.ErrNoSuchTable, mention: []string{"nope"}, session: Session{Schema: "mall"}},
	}
	sentinels := []error{ErrSyntax, ErrUnsupported, ErrNoSuchColumn, ErrInvalid, catalog.ErrNoSuchTable, catalog.ErrNoSuchNamespace}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			q, err := demoPlanner(t).Plan(ctx, Request{SQL: tt.sql, Params: tt.params, Session: tt.session})
			if err == nil {
				t.Fatalf("planned (schema %s), want an error", q.Schema)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %q", err, tt.is)
			}
			for _, s := range sentinels {
				if s != tt.is && errors.Is(err, s) {
					t.Errorf("error %q also wraps %q", err, s)
				}
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
			if msg := err.Error(); msg != strings.TrimSpace(msg) || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line", msg)
			}
		})
	}
}

func TestSyntaxErrorType(t *testing.T) {
	_, ctx := newAlloc(t)
	_, err := demoPlanner(t).Plan(ctx, Request{SQL: "SELECT FROM WHERE"})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos != 13 || se.Msg == "" {
		t.Fatalf("error %#v, want a *SyntaxError at position 13", err)
	}
	if got := (&SyntaxError{Msg: "m"}).Error(); got != "syntax error: m" {
		t.Errorf("without a position: %q", got)
	}
	if got := (&SyntaxError{Msg: "m", Pos: 3}).Error(); got != "syntax error at position 3: m" {
		t.Errorf("with a position: %q", got)
	}
}
