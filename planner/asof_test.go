package planner

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/scan"
)

func TestStripAsOf(t *testing.T) {
	tests := []struct {
		sql, table string // table: the name the clause attaches to; "" for none
		version    bool
		value      string
	}{
		{"SELECT * FROM t FOR VERSION AS OF 42", "t", true, "42"},
		{"SELECT * FROM mall.t FOR version as of 'nightly' WHERE x = 1", "mall.t", true, "nightly"},
		{"SELECT * FROM \"Mall\".t AS e FOR TIMESTAMP AS OF '2026-11-20 08:00:00'", "\"Mall\".t", false, "2026-11-20 08:00:00"},
		{"SELECT * FROM t e FOR SYSTEM_TIME AS OF TIMESTAMP '2026-11-20T08:00:00Z'", "t", false, "2026-11-20T08:00:00Z"},
		{"SELECT * FROM a JOIN b FOR VERSION AS OF 7 ON a.k = b.k", "b", true, "7"},
		{"SELECT 'FROM t FOR VERSION AS OF 1' -- FOR VERSION AS OF 2\nFROM t", "", false, ""},
		{"SELECT substring(s FROM 1 FOR 3) FROM t", "", false, ""},
		// Spark's spellings, without FOR.
		{"SELECT * FROM t VERSION AS OF 42", "t", true, "42"},
		{"SELECT * FROM mall.t e TIMESTAMP AS OF '2026-11-20 08:00:00' WHERE x = 1", "mall.t", false, "2026-11-20 08:00:00"},
		{"SELECT * FROM a JOIN b VERSION AS OF 'nightly' ON a.k = b.k", "b", true, "nightly"},
		{"SELECT CAST(x AS timestamp) AS of FROM t", "", false, ""},
	}
	for _, tt := range tests {
		out, clauses, err := stripAsOf(tt.sql)
		if err != nil {
			t.Fatalf("%s: %v", tt.sql, err)
		}
		if len(out) != len(tt.sql) {
			t.Errorf("%s: length changed to %d", tt.sql, len(out))
		}
		if tt.table == "" {
			if len(clauses) != 0 || out != tt.sql {
				t.Errorf("%s: found clauses %v", tt.sql, clauses)
			}
			continue
		}
		at := strings.Index(tt.sql, " "+tt.table+" ") + 1
		c, ok := clauses[at]
		if !ok || len(clauses) != 1 || c.byTime == tt.version || c.value != tt.value {
			t.Errorf("%s: clauses %+v, want one at %d for %s with %q", tt.sql, clauses, at, tt.table, tt.value)
		}
		if strings.Contains(strings.ToUpper(out), " AS OF") || !strings.Contains(out, tt.table) {
			t.Errorf("%s: left %q", tt.sql, out)
		}
	}
	for _, bad := range []string{"SELECT * FROM t FOR VERSION AS OF x", "SELECT 1 FOR VERSION AS OF 3"} {
		if _, _, err := stripAsOf(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: err %v, want a syntax error", bad, err)
		}
	}
}

// FOR VERSION / TIMESTAMP / SYSTEM_TIME AS OF read the snapshot they name;
// two references to one table may read two snapshots.
func TestTimeTravelClauses(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	tbl, err := demo.catalog(t).LoadTable(ctx, table.Identifier{"mall", "probe_events"})
	if err != nil {
		t.Fatal(err)
	}
	snaps := tbl.Metadata().Snapshots()
	if len(snaps) < 3 {
		t.Fatalf("demo table has %d snapshots", len(snaps))
	}
	perDay := map[int]int{}
	for _, e := range demoReference(t).events {
		for d := 0; d < len(snaps); d++ {
			if e.pt.Equal(day(d)) {
				perDay[d]++
			}
		}
	}
	upTo := func(k int) int { // rows of snapshot k (days 0..k)
		n := 0
		for d := 0; d <= k; d++ {
			n += perDay[d]
		}
		return n
	}
	count := func(sql string) string {
		t.Helper()
		rows := run(t, ctx, p, sql)
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows", sql, len(rows))
		}
		return rows[0]
	}
	first, second := snaps[0], snaps[1]
	if got, want := count(fmt.Sprintf("SELECT count(*) FROM probe_events FOR VERSION AS OF %d", first.SnapshotID)), render(int64(upTo(0))); got != want {
		t.Errorf("VERSION AS OF first: %s, want %s", got, want)
	}
	at := time.UnixMilli(second.TimestampMs).UTC().Format("2006-01-02 15:04:05.000")
	if got, want := count(fmt.Sprintf("SELECT count(*) FROM mall.probe_events e FOR TIMESTAMP AS OF '%s' WHERE e.id >= 0", at)), render(int64(upTo(1))); got != want {
		t.Errorf("TIMESTAMP AS OF the second snapshot's time: %s, want %s", got, want)
	}
	iso := time.UnixMilli(second.TimestampMs).UTC().Format(time.RFC3339Nano)
	if got, want := count(fmt.Sprintf("SELECT count(*) FROM probe_events AS e FOR SYSTEM_TIME AS OF TIMESTAMP '%s'", iso)), render(int64(upTo(1))); got != want {
		t.Errorf("SYSTEM_TIME AS OF: %s, want %s", got, want)
	}
	// Two snapshots of one table in one statement.
	both := fmt.Sprintf("SELECT (SELECT count(*) FROM probe_events FOR VERSION AS OF %d) - (SELECT count(*) FROM probe_events FOR VERSION AS OF %d)",
		second.SnapshotID, first.SnapshotID)
	if got, want := count(both), render(int64(perDay[1])); got != want {
		t.Errorf("difference of two versions: %s, want %s", got, want)
	}
	// The current snapshot stays what the query pins for tables without a clause.
	q := plan(t, ctx, p, fmt.Sprintf("SELECT count(*) FROM probe_events FOR VERSION AS OF %d", first.SnapshotID))
	if _, pinned := q.Snapshots["mall.probe_events"]; pinned {
		t.Errorf("a time-travel read was pinned as the table's current snapshot: %v", q.Snapshots)
	}

	errs := []struct {
		sql  string
		want error
	}{
		{"SELECT * FROM probe_events FOR VERSION AS OF 1", scan.ErrNoSuchSnapshot},
		{"SELECT * FROM probe_events FOR VERSION AS OF 'no_such_tag'", scan.ErrNoSuchSnapshot},
		{"SELECT * FROM probe_events FOR TIMESTAMP AS OF '1999-01-01 00:00:00'", scan.ErrNoSuchSnapshot},
		{"SELECT * FROM probe_events FOR TIMESTAMP AS OF 'yesterday'", ErrInvalid},
		{"WITH w AS (SELECT * FROM shops) SELECT * FROM w FOR VERSION AS OF 1", ErrSyntax},
	}
	for _, e := range errs {
		_, err := p.Plan(ctx, Request{SQL: e.sql})
		if !errors.Is(err, e.want) {
			t.Errorf("%s: err %v, want %v", e.sql, err, e.want)
		}
	}
}
