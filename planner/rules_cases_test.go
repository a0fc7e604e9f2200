package planner

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
)

// sameAnswer runs query and an equivalent written without the construct
// under test, and compares their rows (in order when ordered). Each must
// return at least one row.
func sameAnswer(t *testing.T, query, equivalent string, ordered bool) {
	t.Helper()
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	got, want := run(t, ctx, p, query), run(t, ctx, p, equivalent)
	if !ordered {
		got, want = sorted(got), sorted(want)
	}
	if len(want) == 0 {
		t.Fatalf("%s: no rows, the case shows nothing", equivalent)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s\n got %d rows %.300q\nwant %d rows %.300q (%s)", query, len(got), got, len(want), want, equivalent)
	}
}

// TestFoldKeepsFailingConstants: fold_constants must not fold away a
// constant that fails to evaluate (1 % 0) when another term of its AND or
// OR decides the result; execution reports the error, as it does without
// the decisive term.
func TestFoldKeepsFailingConstants(t *testing.T) {
	for _, sql := range []string{
		"SELECT count(*) FROM shops WHERE 1 % 0 = 1 OR true",
		"SELECT count(*) FROM shops WHERE floor > 0 AND NOT (1 % 0 = 1 AND false)",
		"SELECT count(*) FROM shops s LEFT JOIN shops t ON 1 % 0 = 1 OR true",
		"SELECT shop_code, (1 % 0 = 1) OR true AS b FROM shops",
	} {
		t.Run(sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			q := plan(t, ctx, demoPlanner(t), sql)
			err := executor.Drain(ctx, q.Operator(0, 1), func(arrow.RecordBatch) error { return nil })
			if !errors.Is(err, executor.ErrDivisionByZero) {
				t.Fatalf("error %v, want division by zero", err)
			}
		})
	}
	// A decisive term still folds the rest away when nothing fails.
	_, ctx := newAlloc(t)
	if got := run(t, ctx, demoPlanner(t), "SELECT count(*) FROM shops WHERE 1 % 2 = 1 OR true"); !slices.Equal(got, []string{"20"}) {
		t.Errorf("got %v, want 20", got)
	}
}

// TestSubqueriesToldApart: two different subqueries are different
// expressions, whatever their kind and type; the same subquery written
// twice is the same.
func TestSubqueriesToldApart(t *testing.T) {
	const counts = "(SELECT shop_code, count(*) AS n, max(rssi) AS m FROM probe_events GROUP BY shop_code)"
	// (a AND b) OR (a' AND c) with a <> a' must not become a AND (b OR c).
	sameAnswer(t,
		"SELECT count(*) FROM shops s WHERE ((SELECT count(*) FROM probe_events e WHERE e.shop_code = s.shop_code) > 1000 AND s.floor < 4) "+
			"OR ((SELECT max(rssi) FROM probe_events e WHERE e.shop_code = s.shop_code) > 1000 AND s.floor >= 4)",
		"SELECT count(*) FROM shops s LEFT JOIN "+counts+" a ON a.shop_code = s.shop_code WHERE (coalesce(a.n, 0) > 1000 AND s.floor < 4) OR (a.m > 1000 AND s.floor >= 4)", false)
	sameAnswer(t,
		"SELECT count(*) FROM shops WHERE (floor > (SELECT min(floor) FROM shops) AND category < 'M') OR (floor > (SELECT max(floor) FROM shops) AND category >= 'M')",
		"SELECT count(*) FROM shops CROSS JOIN (SELECT min(floor) AS lo, max(floor) AS hi FROM shops) b WHERE (floor > b.lo AND category < 'M') OR (floor > b.hi AND category >= 'M')", false)
	// ORDER BY a subquery other than the selected one.
	sameAnswer(t,
		"SELECT s.shop_code, (SELECT count(*) FROM probe_events e WHERE e.shop_code = s.shop_code) AS n FROM shops s "+
			"ORDER BY (SELECT max(rssi) FROM probe_events e WHERE e.shop_code = s.shop_code) DESC, s.shop_code",
		"SELECT s.shop_code, coalesce(a.n, 0) AS n FROM shops s LEFT JOIN "+counts+" a ON a.shop_code = s.shop_code ORDER BY a.m DESC, s.shop_code", true)
	// GROUP BY: the same subquery matches the select list, another does not.
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	// Two different EXISTS are not one factor of an OR, which would leave
	// the first as a condition of WHERE.
	_, err := p.Plan(ctx, Request{SQL: "SELECT count(*) FROM shops s WHERE (EXISTS (SELECT 1 FROM probe_events e WHERE e.shop_code = s.shop_code AND e.rssi > -31) AND s.floor < 4) " +
		"OR (EXISTS (SELECT 1 FROM probe_events e WHERE e.shop_code = s.shop_code AND e.rssi < -94) AND s.floor >= 4)"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "EXISTS") {
		t.Errorf("two EXISTS in an OR: error %v, want them refused there", err)
	}
	if got := run(t, ctx, p, "SELECT floor + (SELECT max(floor) FROM shops) AS m, count(*) FROM shops GROUP BY floor + (SELECT max(floor) FROM shops)"); len(got) == 0 {
		t.Error("GROUP BY the selected subquery expression: no rows")
	}
	_, err = p.Plan(ctx, Request{SQL: "SELECT floor + (SELECT max(floor) FROM shops) AS m, count(*) FROM shops GROUP BY floor + (SELECT min(floor) FROM shops)"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "GROUP BY") {
		t.Errorf("GROUP BY another subquery: error %v, want floor to be missing from GROUP BY", err)
	}
}

// TestDecorrelateEverywhere: a correlated scalar subquery inside an
// aggregate, GROUP BY, a window function or the value an IN tests becomes
// a join like one in WHERE or the select list.
func TestDecorrelateEverywhere(t *testing.T) {
	const n = "(SELECT count(*) FROM probe_events e WHERE e.shop_code = s.shop_code)"
	const counts = "LEFT JOIN (SELECT shop_code, count(*) AS n FROM probe_events GROUP BY shop_code) a ON a.shop_code = s.shop_code"
	for _, c := range []struct {
		query, equivalent string
		ordered           bool
	}{
		{"SELECT s.floor, sum(" + n + ") AS t, count(*) FILTER (WHERE " + n + " > 1000) AS big FROM shops s GROUP BY s.floor",
			"SELECT s.floor, sum(coalesce(a.n, 0)) AS t, count(*) FILTER (WHERE coalesce(a.n, 0) > 1000) AS big FROM shops s " + counts + " GROUP BY s.floor", false},
		{"SELECT count(*) AS c, min(s.shop_code) AS m FROM shops s GROUP BY " + n,
			"SELECT count(*) AS c, min(s.shop_code) AS m FROM shops s " + counts + " GROUP BY coalesce(a.n, 0)", false},
		{"SELECT s.shop_code, sum(" + n + ") OVER (PARTITION BY s.floor) AS t, rank() OVER (ORDER BY " + n + ", s.shop_code) AS r FROM shops s",
			"SELECT s.shop_code, sum(coalesce(a.n, 0)) OVER (PARTITION BY s.floor) AS t, rank() OVER (ORDER BY coalesce(a.n, 0), s.shop_code) AS r FROM shops s " + counts, false},
		{"SELECT s.shop_code FROM shops s WHERE " + n + " % 7 IN (SELECT CAST(floor AS bigint) FROM shops) AND EXISTS (SELECT 1 FROM shops x WHERE x.category = s.category AND x.floor > s.floor)",
			"SELECT s.shop_code FROM shops s " + counts + " WHERE coalesce(a.n, 0) % 7 IN (SELECT CAST(floor AS bigint) FROM shops) AND EXISTS (SELECT 1 FROM shops x WHERE x.category = s.category AND x.floor > s.floor)", false},
		{"SELECT s.shop_code FROM shops s WHERE " + n + " % 7 NOT IN (SELECT CAST(floor AS bigint) FROM shops WHERE floor < 3)",
			"SELECT s.shop_code FROM shops s " + counts + " WHERE coalesce(a.n, 0) % 7 NOT IN (SELECT CAST(floor AS bigint) FROM shops WHERE floor < 3)", false},
	} {
		t.Run(c.query, func(t *testing.T) { sameAnswer(t, c.query, c.equivalent, c.ordered) })
	}
}

// TestCorrelatedAggregateWithoutGroupBy: an aggregate without GROUP BY
// yields one row also for an outer row that no row matches (count 0, max
// NULL); IN and NOT IN must see that row, and a HAVING that holds over no
// rows cannot be told from one that rejected a group.
func TestCorrelatedAggregateWithoutGroupBy(t *testing.T) {
	const few = "(SELECT count(*) FROM probe_events e WHERE e.shop_code = s.shop_code AND e.rssi > -40 AND e.id < 300)"
	const fewCounts = "LEFT JOIN (SELECT shop_code, count(*) AS n FROM probe_events WHERE rssi > -40 AND id < 300 GROUP BY shop_code) a ON a.shop_code = s.shop_code"
	for _, c := range []struct{ query, equivalent string }{
		{"SELECT s.shop_code FROM shops s WHERE 0 IN " + few,
			"SELECT s.shop_code FROM shops s " + fewCounts + " WHERE a.n IS NULL"},
		{"SELECT s.shop_code FROM shops s WHERE 0 NOT IN " + few,
			"SELECT s.shop_code FROM shops s " + fewCounts + " WHERE a.n IS NOT NULL"},
		{"SELECT s.shop_code FROM shops s WHERE s.floor NOT IN (SELECT max(x.floor) FROM shops x WHERE x.category = s.category AND x.floor > 3)",
			"SELECT s.shop_code FROM shops s JOIN (SELECT category, max(floor) AS m FROM shops WHERE floor > 3 GROUP BY category) a ON a.category = s.category WHERE s.floor <> a.m"},
		{"SELECT s.shop_code, s.floor IN (SELECT max(x.floor) FROM shops x WHERE x.category = s.category AND x.floor > 3) AS b FROM shops s",
			"SELECT s.shop_code, s.floor = a.m AS b FROM shops s LEFT JOIN (SELECT category, max(floor) AS m FROM shops WHERE floor > 3 GROUP BY category) a ON a.category = s.category"},
		{"SELECT s.shop_code, (SELECT count(*) FROM probe_events e WHERE e.shop_code = s.shop_code AND e.rssi > -40 AND e.id < 300 HAVING count(*) > 1) AS n FROM shops s",
			"SELECT s.shop_code, CASE WHEN a.n > 1 THEN a.n END AS n FROM shops s " + fewCounts},
	} {
		t.Run(c.query, func(t *testing.T) { sameAnswer(t, c.query, c.equivalent, false) })
	}
	_, ctx := newAlloc(t)
	_, err := demoPlanner(t).Plan(ctx, Request{SQL: "SELECT s.shop_code, " +
		"(SELECT count(*) FROM probe_events e WHERE e.shop_code = s.shop_code HAVING count(*) < 5) AS n FROM shops s"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "HAVING") {
		t.Errorf("HAVING that holds over no rows: error %v, want it refused", err)
	}
}
