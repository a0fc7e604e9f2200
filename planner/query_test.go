package planner

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
)

var day = func(d int) time.Time { return datagen.DefaultDemoOptions().Start.AddDate(0, 0, d) }

func rssiIs(e event, f func(int32) bool) bool { return e.rssi != nil && f(*e.rssi) }

func strIs(s *string, f func(string) bool) bool { return s != nil && f(*s) }

// TestQueriesAgainstReference runs queries end to end over the demo
// warehouse and compares their rows (as multisets) with what plain Go
// computes from the tables as iceberg-go reads them.
func TestQueriesAgainstReference(t *testing.T) {
	ref := demoReference(t)
	id := func(e event) []any { return []any{e.id} }
	tests := []struct {
		sql    string
		params []any
		keep   func(e event) bool
		cols   func(e event) []any
	}{
		{sql: "SELECT id, rssi FROM probe_events WHERE rssi > -60", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v > -60 }) }, cols: func(e event) []any { return []any{e.id, e.rssi} }},
		{sql: "SELECT id FROM probe_events WHERE -60 < rssi", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v > -60 }) }},
		{sql: "SELECT id FROM mall.probe_events WHERE rssi IS NULL", keep: func(e event) bool { return e.rssi == nil }},
		{sql: "SELECT id, ap_mac FROM probe_events WHERE ap_mac IS NULL OR rssi < -85", keep: func(e event) bool {
			return e.apMAC == nil || rssiIs(e, func(v int32) bool { return v < -85 })
		}, cols: func(e event) []any { return []any{e.id, e.apMAC} }},
		{sql: "SELECT id FROM probe_events WHERE NOT (rssi >= -70)", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v < -70 }) }},
		{sql: "SELECT id FROM probe_events WHERE rssi <> -65", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v != -65 }) }},
		{sql: "SELECT id FROM probe_events WHERE NOT (rssi <> -65 OR ap_mac IS NULL)", keep: func(e event) bool {
			return rssiIs(e, func(v int32) bool { return v == -65 }) && e.apMAC != nil
		}},
		{sql: "SELECT id, shop_code FROM probe_events WHERE shop_code IN ('S0001', 'S0003')", keep: func(e event) bool {
			return strIs(e.shop, func(s string) bool { return s == "S0001" || s == "S0003" })
		}, cols: func(e event) []any { return []any{e.id, e.shop} }},
		{sql: "SELECT id FROM probe_events WHERE shop_code NOT IN ('S0001', NULL)", keep: func(event) bool { return false }},
		{sql: "SELECT id FROM probe_events WHERE shop_code IN ('S0002', NULL)", keep: func(e event) bool { return strIs(e.shop, func(s string) bool { return s == "S0002" }) }},
		{sql: "SELECT id FROM probe_events WHERE shop_code NOT IN ('S0001', 'S0002')", keep: func(e event) bool {
			return strIs(e.shop, func(s string) bool { return s != "S0001" && s != "S0002" })
		}},
		{sql: "SELECT id FROM probe_events WHERE shop_code LIKE 'S001%'", keep: func(e event) bool { return strIs(e.shop, func(s string) bool { return strings.HasPrefix(s, "S001") }) }},
		{sql: "SELECT id FROM probe_events WHERE shop_code NOT LIKE 'S000%'", keep: func(e event) bool { return strIs(e.shop, func(s string) bool { return !strings.HasPrefix(s, "S000") }) }},
		{sql: "SELECT id, ap_ip FROM probe_events WHERE ap_ip LIKE '%.1'", keep: func(e event) bool { return strIs(e.apIP, func(s string) bool { return strings.HasSuffix(s, ".1") }) }, cols: func(e event) []any { return []any{e.id, e.apIP} }},
		{sql: "SELECT id FROM probe_events WHERE ap_ip LIKE '10.0.1_.%'", keep: func(e event) bool {
			return strIs(e.apIP, func(s string) bool { return len(s) > 7 && strings.HasPrefix(s, "10.0.1") && s[7] == '.' })
		}},
		{sql: "SELECT id FROM probe_events WHERE user_device_mac ILIKE '%A0%'", keep: func(e event) bool {
			return strIs(e.mac, func(s string) bool { return strings.Contains(strings.ToLower(s), "a0") })
		}},
		{sql: "SELECT id, pt FROM probe_events WHERE pt = '2026-11-02'", keep: func(e event) bool { return e.pt.Equal(day(1)) }, cols: func(e event) []any { return []any{e.id, e.pt} }},
		{sql: "SELECT id FROM probe_events WHERE pt > '2026-11-01 12:00'", keep: func(e event) bool { return e.pt.After(day(0)) }},
		{sql: "SELECT id, occur_time FROM probe_events WHERE occur_time >= '2026-11-02 12:00:00' AND occur_time < '2026-11-02 13:00'", keep: func(e event) bool {
			return !e.occur.Before(day(1).Add(12*time.Hour)) && e.occur.Before(day(1).Add(13*time.Hour))
		}, cols: func(e event) []any { return []any{e.id, e.occur} }},
		{sql: "SELECT id FROM probe_events WHERE occur_time < '2026-11-01T08:30:00.5Z'", keep: func(e event) bool {
			return e.occur.Before(day(0).Add(8*time.Hour + 30*time.Minute + 500*time.Millisecond))
		}},
		{sql: "SELECT id FROM probe_events WHERE occur_time >= '2026-11-03'", keep: func(e event) bool { return !e.occur.Before(day(2)) }},
		{sql: "SELECT id FROM probe_events WHERE occur_time >= pt", keep: func(e event) bool { return true }},
		{sql: "SELECT id FROM probe_events WHERE pt BETWEEN '2026-11-01' AND '2026-11-02' AND rssi NOT BETWEEN -80 AND -50", keep: func(e event) bool {
			return !e.pt.After(day(1)) && rssiIs(e, func(v int32) bool { return v < -80 || v > -50 })
		}},
		// Integer columns against other constants.
		{sql: "SELECT id FROM probe_events WHERE rssi > -60.5", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v >= -60 }) }},
		{sql: "SELECT id FROM probe_events WHERE rssi = -60.0", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v == -60 }) }},
		{sql: "SELECT id FROM probe_events WHERE rssi = '-60'", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v == -60 }) }},
		{sql: "SELECT id FROM probe_events WHERE rssi IN (-60.0, -61, -62.5)", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v == -60 || v == -61 }) }},
		{sql: "SELECT id FROM probe_events WHERE rssi NOT IN (-60.0, -61)", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v != -60 && v != -61 }) }},
		{sql: "SELECT id FROM probe_events WHERE rssi > 10000000000", keep: func(event) bool { return false }},
		{sql: "SELECT id FROM probe_events WHERE rssi < 3000000000", keep: func(e event) bool { return e.rssi != nil }},
		{sql: "SELECT id FROM probe_events WHERE -3000000000 < rssi", keep: func(e event) bool { return e.rssi != nil }},
		{sql: "SELECT id FROM probe_events WHERE rssi IN (-60, 3000000000)", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v == -60 }) }},
		{sql: "SELECT id FROM probe_events WHERE id = 9223372036854775807", keep: func(event) bool { return false }},
		{sql: "SELECT id FROM probe_events WHERE id < 9223372036854775808", keep: func(event) bool { return true }},
		{sql: "SELECT id FROM probe_events WHERE id <= 0x10", keep: func(e event) bool { return e.id <= 16 }},
		{sql: "SELECT id FROM probe_events WHERE id < 0x7FFFFFFFFF", keep: func(event) bool { return true }},
		{sql: "SELECT id FROM probe_events WHERE id = 100", keep: func(e event) bool { return e.id == 100 }},
		// Constant predicates.
		{sql: "SELECT id FROM probe_events WHERE 1 = 1", keep: func(event) bool { return true }},
		{sql: "SELECT id FROM probe_events WHERE NULL", keep: func(event) bool { return false }},
		{sql: "SELECT id FROM probe_events WHERE NOT NULL", keep: func(event) bool { return false }},
		{sql: "SELECT id FROM probe_events WHERE NULL OR rssi > -40", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v > -40 }) }},
		{sql: "SELECT id FROM probe_events WHERE shop_code LIKE NULL", keep: func(event) bool { return false }},
		{sql: "SELECT id FROM probe_events WHERE rssi = NULL", keep: func(event) bool { return false }},
		// Qualified names.
		{sql: "SELECT p.id FROM mall.probe_events p WHERE p.rssi > -50", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v > -50 }) }},
		{sql: "SELECT probe_events.id FROM probe_events WHERE probe_events.rssi > -50", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v > -50 }) }},
		{sql: "SELECT mall.probe_events.id FROM mall.probe_events WHERE mall.probe_events.rssi > -50", keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v > -50 }) }},
		{sql: `SELECT "ID" FROM "Probe_Events" WHERE "RSSI" > -50`, keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v > -50 }) }},
		// Projections.
		{sql: "SELECT 1 AS one FROM probe_events WHERE pt = '2026-11-03'", keep: func(e event) bool { return e.pt.Equal(day(2)) }, cols: func(event) []any { return []any{1} }},
		{sql: "SELECT rssi IS NULL, ap_mac IS NOT NULL, id FROM probe_events", keep: func(event) bool { return true }, cols: func(e event) []any { return []any{e.rssi == nil, e.apMAC != nil, e.id} }},
		{sql: "SELECT rssi > -60 AND ap_mac IS NOT NULL AS strong, id FROM probe_events", keep: func(event) bool { return true }, cols: func(e event) []any {
			var strong any // three-valued AND
			switch {
			case e.apMAC == nil:
				strong = false
			case e.rssi == nil:
				strong = nil
			default:
				strong = *e.rssi > -60
			}
			return []any{strong, e.id}
		}},
		{sql: "SELECT * FROM probe_events WHERE id % 97 = 0 OR id < 3", keep: func(e event) bool { return e.id%97 == 0 || e.id < 3 }, cols: func(e event) []any {
			return []any{e.id, e.shop, e.apIP, e.occur, e.mac, e.rssi, e.apMAC, e.pt}
		}},
		// Parameters, numbered and JDBC style.
		{sql: "SELECT id FROM probe_events WHERE rssi > ? AND shop_code = ?", params: []any{-60, "S0001"}, keep: func(e event) bool {
			return rssiIs(e, func(v int32) bool { return v > -60 }) && strIs(e.shop, func(s string) bool { return s == "S0001" })
		}},
		{sql: "SELECT id FROM probe_events WHERE pt = $1", params: []any{"2026-11-02"}, keep: func(e event) bool { return e.pt.Equal(day(1)) }},
		{sql: "SELECT id FROM probe_events WHERE rssi IN ($1, $2)", params: []any{int32(-60), -61}, keep: func(e event) bool { return rssiIs(e, func(v int32) bool { return v == -60 || v == -61 }) }},
		{sql: "SELECT id FROM probe_events WHERE $1 <= rssi AND shop_code LIKE $2", params: []any{-50, "S000%"}, keep: func(e event) bool {
			return rssiIs(e, func(v int32) bool { return v >= -50 }) && strIs(e.shop, func(s string) bool { return strings.HasPrefix(s, "S000") })
		}},
		{sql: "SELECT id, $1 AS tag FROM probe_events WHERE id < 4", params: []any{"x"}, keep: func(e event) bool { return e.id < 4 }, cols: func(e event) []any { return []any{e.id, "x"} }},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			cols := tt.cols
			if cols == nil {
				cols = id
			}
			var want []string
			for _, e := range ref.events {
				if tt.keep(e) {
					want = append(want, render(cols(e)...))
				}
			}
			got := run(t, ctx, demoPlanner(t), tt.sql, tt.params...)
			if g, w := sorted(got), sorted(want); !reflect.DeepEqual(g, w) {
				t.Errorf("%d rows, want %d", len(g), len(w))
				reportDiff(t, g, w)
			}
		})
	}
}

// reportDiff logs a few rows that only one side has.
func reportDiff(t *testing.T, got, want []string) {
	t.Helper()
	only := func(a, b []string) []string {
		var out []string
		for _, x := range a {
			if _, found := slices.BinarySearch(b, x); !found {
				out = append(out, x)
				if len(out) == 5 {
					break
				}
			}
		}
		return out
	}
	t.Logf("only in result:    %q", only(got, want))
	t.Logf("only in reference: %q", only(want, got))
}

func TestNestedAndDimensionQueries(t *testing.T) {
	ref := demoReference(t)
	tests := []struct {
		sql  string
		want func() []string
	}{
		{"SELECT id, info.vendor, (info).os.name FROM devices WHERE info.os.version IS NULL", func() []string {
			var out []string
			for _, d := range ref.devices {
				if d.infoNull || d.osNull || d.osVersion == nil {
					out = append(out, render(d.id, d.vendor, d.osName))
				}
			}
			return out
		}},
		{"SELECT id FROM devices WHERE geo.lat > 31.2", func() []string {
			var out []string
			for _, d := range ref.devices {
				if !d.geoNull && d.lat != nil && *d.lat > 31.2 {
					out = append(out, render(d.id))
				}
			}
			return out
		}},
		{"SELECT id, mac FROM devices WHERE info IS NULL", func() []string {
			var out []string
			for _, d := range ref.devices {
				if d.infoNull {
					out = append(out, render(d.id, d.mac))
				}
			}
			return out
		}},
		{"SELECT id, info.model FROM devices WHERE info.vendor IN ('Apple', 'Samsung') OR info.model IS NULL", func() []string {
			var out []string
			for _, d := range ref.devices {
				if strIs(d.vendor, func(s string) bool { return s == "Apple" || s == "Samsung" }) || d.model == nil {
					out = append(out, render(d.id, d.model))
				}
			}
			return out
		}},
		{"SELECT d.id FROM devices d WHERE d.info.vendor LIKE 'S%' AND d.geo.lon < 121.5", func() []string {
			var out []string
			for _, d := range ref.devices {
				if strIs(d.vendor, func(s string) bool { return strings.HasPrefix(s, "S") }) && !d.geoNull && d.lon != nil && *d.lon < 121.5 {
					out = append(out, render(d.id))
				}
			}
			return out
		}},
		{"SELECT * FROM shops", func() []string {
			var out []string
			for _, s := range ref.shops {
				out = append(out, render(s.code, s.name, s.category, s.floor, s.opened))
			}
			return out
		}},
		{"SELECT shop_code, floor FROM shops WHERE floor >= 2 AND opened < '2020-01-01'", func() []string {
			var out []string
			for _, s := range ref.shops {
				if s.floor != nil && *s.floor >= 2 && s.opened.Before(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
					out = append(out, render(s.code, s.floor))
				}
			}
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			want := tt.want()
			if len(want) == 0 {
				t.Fatalf("the reference selects no rows: pick another predicate")
			}
			got := run(t, ctx, demoPlanner(t), tt.sql)
			if g, w := sorted(got), sorted(want); !reflect.DeepEqual(g, w) {
				t.Errorf("%d rows, want %d", len(g), len(w))
				reportDiff(t, g, w)
			}
		})
	}
}

// TestTimestampTZLiterals compares a timestamptz column with literals
// written with different offsets (the same instant) and with the reference.
// The predicate is pushed into the scan of a table with nested columns.
func TestTimestampTZLiterals(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	cut := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	var want []string
	for _, d := range demoReference(t).devices {
		if d.firstSeen != nil && d.firstSeen.Before(cut) {
			want = append(want, render(d.id))
		}
	}
	if len(want) == 0 || len(want) == len(demoReference(t).devices) {
		t.Fatalf("the cut selects %d of %d devices: pick another", len(want), len(demoReference(t).devices))
	}
	for _, sql := range []string{
		"SELECT id FROM devices WHERE first_seen < '2026-05-01 16:00:00+08:00'",
		"SELECT id FROM devices WHERE first_seen < '2026-05-01T08:00:00Z'",
		"SELECT id FROM devices WHERE first_seen < '2026-05-01 08:00:00'",
		"SELECT id FROM devices WHERE NOT (first_seen >= '2026-05-01 08:00')",
	} {
		got := run(t, ctx, p, sql)
		if g, w := sorted(got), sorted(want); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %d rows, want %d", sql, len(g), len(w))
		}
	}
	q := plan(t, ctx, p, "EXPLAIN SELECT id FROM devices WHERE first_seen < '2026-05-01T08:00:00Z'")
	if got := strings.Join(runPart(t, ctx, q, 0, 1), "\n"); !strings.Contains(got, "filter=LessThan(term=Reference(name='first_seen'), literal=2026-05-01 08:00:00.000000)") {
		t.Errorf("the timestamptz predicate is not pushed into the scan:\n%s", got)
	}
}

func TestLimitOffset(t *testing.T) {
	ref := demoReference(t)
	all := map[string]bool{}
	for _, e := range ref.events {
		all[render(e.id)] = true
	}
	n := len(ref.events)
	tests := []struct {
		sql  string
		want int
	}{
		{"SELECT id FROM probe_events LIMIT 7", 7},
		{"SELECT id FROM probe_events LIMIT 7 OFFSET 3", 7},
		{"SELECT id FROM probe_events LIMIT 2500 OFFSET 999", 2500},
		{"SELECT id FROM probe_events OFFSET 5", n - 5},
		{"SELECT id FROM probe_events OFFSET 19995", 5},
		{"SELECT id FROM probe_events OFFSET 30000", 0},
		{"SELECT id FROM probe_events LIMIT 0", 0},
		{"SELECT id FROM probe_events LIMIT ALL", n},
		{"SELECT id FROM probe_events LIMIT NULL OFFSET 1", n - 1},
		{"SELECT id FROM probe_events WHERE ap_mac <> 'x' LIMIT 10 OFFSET 10", 10},
		{"SELECT id FROM probe_events WHERE rssi > -60 LIMIT 10", 10},
		{"SELECT id FROM probe_events FETCH FIRST 3 ROWS ONLY", 3},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			q := plan(t, ctx, demoPlanner(t), tt.sql)
			if strings.Contains(tt.sql, "LIMIT 7") && q.Parts != 1 {
				t.Errorf("a limited query is split into %d parts", q.Parts)
			}
			got := runPart(t, ctx, q, 0, 1)
			if len(got) != tt.want {
				t.Errorf("%d rows, want %d", len(got), tt.want)
			}
			seen := map[string]bool{}
			for _, r := range got {
				if !all[r] || seen[r] {
					t.Errorf("row %s is unknown or repeated", r)
				}
				seen[r] = true
			}
		})
	}
	// With params.
	_, ctx := newAlloc(t)
	if got := run(t, ctx, demoPlanner(t), "SELECT id FROM probe_events LIMIT $1 OFFSET $2", 4, 2); len(got) != 4 {
		t.Errorf("LIMIT $1 OFFSET $2 (4, 2): %d rows", len(got))
	}
}

// TestParts runs queries split into parts and checks that together the
// parts return exactly the rows of one part.
func TestParts(t *testing.T) {
	tests := []struct {
		sql       string
		wantParts int
	}{
		{"SELECT id, rssi FROM probe_events WHERE rssi > -70", 4},
		{"SELECT * FROM probe_events", 4},
		{"SELECT id, shop_code FROM probe_events WHERE ap_mac <> 'x' AND shop_code LIKE '%1'", 4},
		{"SELECT id FROM probe_events WHERE pt = '2026-11-02'", 2},
		{"SELECT id, info.vendor FROM devices WHERE geo.lat > 31.2", 1},
		{"SELECT 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			q := plan(t, ctx, demoPlanner(t), tt.sql)
			if q.Parts != tt.wantParts {
				t.Errorf("Parts = %d, want %d", q.Parts, tt.wantParts)
			}
			one := sorted(runPart(t, ctx, q, 0, 1))
			var union []string
			for i := 0; i < q.Parts; i++ {
				rows := runPart(t, ctx, q, i, q.Parts)
				if q.Parts > 1 && len(rows) == len(one) {
					t.Errorf("part %d of %d returns every row", i, q.Parts)
				}
				union = append(union, rows...)
			}
			if u := sorted(union); !reflect.DeepEqual(u, one) {
				t.Errorf("parts return %d rows together, one part %d", len(u), len(one))
				reportDiff(t, u, one)
			}
		})
	}
}

func TestSnapshotsAndSource(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	q := plan(t, ctx, p, "SELECT id FROM probe_events")
	tbl, err := demo.catalog(t).LoadTable(ctx, table.Identifier{"mall", "probe_events"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Snapshots, map[string]int64{"mall.probe_events": tbl.CurrentSnapshot().SnapshotID}; !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshots = %v, want %v", got, want)
	}
	if want := (catalog.ColumnSource{Catalog: "default", Schema: "mall", Table: "probe_events"}); q.Source != want {
		t.Errorf("Source = %+v, want %+v", q.Source, want)
	}
	// Pinning the first snapshot reads the first day only.
	first := tbl.Metadata().Snapshots()[0].SnapshotID
	pinned, err := p.Plan(ctx, Request{SQL: "SELECT id, pt FROM probe_events", Snapshots: map[string]int64{"mall.probe_events": first}})
	if err != nil {
		t.Fatal(err)
	}
	if pinned.Snapshots["mall.probe_events"] != first {
		t.Errorf("pinned plan reads snapshot %d, want %d", pinned.Snapshots["mall.probe_events"], first)
	}
	rows := runPart(t, ctx, pinned, 0, 1)
	want := 0
	for _, e := range demoReference(t).events {
		if e.pt.Equal(day(0)) {
			want++
		}
	}
	if len(rows) != want {
		t.Errorf("first snapshot: %d rows, want the %d rows of the first day", len(rows), want)
	}
	for _, r := range rows {
		if !strings.HasSuffix(r, "|"+render(day(0))) {
			t.Fatalf("first snapshot returns row %s of another day", r)
		}
	}
}

func TestResultSchema(t *testing.T) {
	tests := []struct {
		sql  string
		want string // name type [null], ...
	}{
		{"SELECT id, rssi FROM probe_events", "id int64, rssi int32 null"},
		{"SELECT rssi AS r, shop_code s, pt FROM probe_events", "r int32 null, s utf8 null, pt date32 null"},
		{"SELECT * FROM shops", "shop_code utf8, shop_name utf8 null, category utf8 null, floor int32 null, opened date32 null"},
		{"SELECT info.vendor, (info).os.name, id FROM devices", "vendor utf8 null, name utf8 null, id int64"},
		{"SELECT rssi > -60 AS strong, rssi IS NULL FROM probe_events", "strong bool null, ?column? bool null"},
		{"SELECT 1, 'a' AS s, NULL AS n", "?column? int64, s utf8, n utf8 null"},
		{"SELECT CAST(rssi AS bigint), CAST('2026-11-01' AS date) d FROM probe_events", "rssi int64 null, d date32"},
		{"SELECT first_seen FROM devices", "first_seen timestamp[us, tz=UTC] null"},
		{"EXPLAIN SELECT * FROM shops", "plan utf8 null"},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			q := plan(t, ctx, demoPlanner(t), tt.sql)
			var parts []string
			for _, f := range q.Schema.Fields() {
				s := f.Name + " " + f.Type.String()
				if f.Nullable {
					s += " null"
				}
				parts = append(parts, s)
			}
			if got := strings.Join(parts, ", "); got != tt.want {
				t.Errorf("schema %q, want %q", got, tt.want)
			}
			// The batches have the announced schema (runPart checks).
			runPart(t, ctx, q, 0, 1)
		})
	}
}

func TestParamTypes(t *testing.T) {
	i32, i64, str := arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String
	date, ts := arrow.FixedWidthTypes.Date32, &arrow.TimestampType{Unit: arrow.Microsecond}
	tests := []struct {
		sql  string
		want []arrow.DataType
	}{
		{"SELECT * FROM probe_events WHERE rssi > $1 AND shop_code = $2", []arrow.DataType{i32, str}},
		{"SELECT * FROM probe_events WHERE $1 < rssi", []arrow.DataType{i32}},
		{"SELECT * FROM probe_events WHERE pt = ? AND occur_time < ?", []arrow.DataType{date, ts}},
		{"SELECT * FROM probe_events WHERE id = ? AND rssi = ?", []arrow.DataType{i64, i32}},
		{"SELECT $1", []arrow.DataType{arrow.Null}},
		{"SELECT * FROM probe_events WHERE shop_code IN ($1, $2)", []arrow.DataType{str, str}},
		{"SELECT * FROM probe_events WHERE shop_code LIKE $1", []arrow.DataType{str}},
		{"SELECT * FROM probe_events LIMIT $1", []arrow.DataType{i64}},
		{"SELECT * FROM probe_events WHERE rssi BETWEEN $1 AND $2", []arrow.DataType{i32, i32}},
		{"SELECT * FROM probe_events WHERE id = $2", []arrow.DataType{arrow.Null, i64}},
		{"SELECT * FROM probe_events WHERE rssi = $1 OR $1 IS NULL", []arrow.DataType{i32}},
		{"SELECT * FROM devices WHERE info.vendor = $1", []arrow.DataType{str}},
		{"SELECT * FROM shops", []arrow.DataType{}},
		{"EXPLAIN SELECT * FROM shops WHERE floor = ?", []arrow.DataType{i32}},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			q := plan(t, ctx, demoPlanner(t), tt.sql)
			if len(q.ParamTypes) != len(tt.want) {
				t.Fatalf("ParamTypes = %v, want %v", q.ParamTypes, tt.want)
			}
			for i := range tt.want {
				if !arrow.TypeEqual(q.ParamTypes[i], tt.want[i]) {
					t.Errorf("ParamTypes = %v, want %v", q.ParamTypes, tt.want)
					break
				}
			}
		})
	}
}

func TestSession(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	for _, sess := range []Session{{}, {Schema: "mall"}, {Catalog: "default"}, {Catalog: "DEFAULT", Schema: "mall"}} {
		q, err := p.Plan(ctx, Request{SQL: "SELECT shop_code FROM shops", Session: sess})
		if err != nil {
			t.Errorf("session %+v: %v", sess, err)
			continue
		}
		if rows := runPart(t, ctx, q, 0, 1); len(rows) != len(demoReference(t).shops) {
			t.Errorf("session %+v: %d rows", sess, len(rows))
		}
	}
	if got := run(t, ctx, p, "SELECT shop_code FROM default.mall.shops"); len(got) != len(demoReference(t).shops) {
		t.Errorf("catalog-qualified name: %d rows", len(got))
	}
}

// TestAmbiguousTable plans against a catalog where two namespaces hold a
// table of the same name.
func TestAmbiguousTable(t *testing.T) {
	_, ctx := newAlloc(t)
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + dir + "/c.db", Warehouse: "file://" + dir + "/wh"})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	for _, ns := range []string{"a", "b"} {
		if err := cat.Iceberg().CreateNamespace(ctx, table.Identifier{ns}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := cat.Iceberg().CreateTable(ctx, table.Identifier{ns, "t"}, oneColumn); err != nil {
			t.Fatal(err)
		}
	}
	p := New(cat, testOptions)
	_, err = p.Plan(ctx, Request{SQL: "SELECT * FROM t"})
	if !errorsIs(err, ErrInvalid) || !strings.Contains(err.Error(), "a.t") || !strings.Contains(err.Error(), "b.t") {
		t.Errorf("ambiguous name: %v, want ErrInvalid naming a.t and b.t", err)
	}
	// Qualified or with a default schema, it resolves; the table has no
	// snapshot and no rows.
	for _, req := range []Request{{SQL: "SELECT * FROM b.t"}, {SQL: "SELECT k FROM t", Session: Session{Schema: "a"}}} {
		q, err := p.Plan(ctx, req)
		if err != nil {
			t.Errorf("%s: %v", req.SQL, err)
			continue
		}
		if rows := runPart(t, ctx, q, 0, 1); len(rows) != 0 {
			t.Errorf("%s: %d rows from an empty table", req.SQL, len(rows))
		}
		if q.Snapshots[req.Session.Schema+"b.t"] != 0 && q.Snapshots["a.t"] != 0 {
			t.Errorf("empty table with a snapshot: %v", q.Snapshots)
		}
	}
}

func TestConstantSelect(t *testing.T) {
	tests := []struct {
		sql  string
		want []string
	}{
		{"SELECT 1", []string{"1"}},
		{"SELECT 1, 'a', true, 2.5, NULL", []string{"1|a|true|2.5|NULL"}},
		{"SELECT 1 LIMIT 0", nil},
		{"SELECT 1 OFFSET 1", nil},
		{"SELECT 1 = 1, 1 < 2.5, NULL = NULL, NULL IS NULL, 'b' IN ('a', 'b')", []string{"true|true|NULL|true|true"}},
		{"SELECT NULL AND false, NULL OR true, NOT NULL", []string{"false|true|NULL"}},
		{"SELECT 'abc' LIKE 'a%', 'abc' NOT ILIKE 'A_C'", []string{"true|false"}},
		{"SELECT CAST('2026-11-02' AS date), CAST(7 AS double precision)", []string{render(day(1)) + "|7"}},
		{"SELECT $$who?$$, E'it\\'s?', 'x?'", []string{"who?|it's?|x?"}},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			if got := run(t, ctx, demoPlanner(t), tt.sql); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestExplain compares rendered plans (snapshot ids masked, Iceberg set
// members sorted) with golden text.
func TestExplain(t *testing.T) {
	ref := demoReference(t)
	day2 := 0
	for _, e := range ref.events {
		if e.pt.Equal(day(1)) {
			day2++
		}
	}
	tests := []struct {
		sql  string
		want string
	}{
		{"EXPLAIN SELECT id, shop_code FROM probe_events WHERE rssi > -60 AND ap_mac <> 'x' LIMIT 10", `
Project id, shop_code
  Limit 10
    Filter ((rssi > -60) AND (ap_mac <> 'x'))
      Scan mall.probe_events [snapshot=N files=6 records=20000 filter=And(left=GreaterThan(term=Reference(name='rssi'), literal=-60), right=NotEqual(term=Reference(name='ap_mac'), literal=x))] tasks=6`},
		{"EXPLAIN SELECT * FROM shops", `
Scan mall.shops [snapshot=N files=1 records=20 filter=AlwaysTrue()] tasks=1`},
		{"EXPLAIN SELECT info.vendor, (info).os.name AS os FROM devices WHERE info.vendor LIKE 'App%' AND geo.lat > 31.2", `
Project info.vendor AS vendor, info.os.name AS os
  Filter ((info.vendor LIKE 'App%') AND (geo.lat > 31.2))
    Scan mall.devices [snapshot=N files=1 records=300 filter=AlwaysTrue()] tasks=1`},
		{"EXPLAIN SELECT id FROM probe_events WHERE pt = '2026-11-02' AND shop_code IN ('S0002', 'S0001')", fmt.Sprintf(`
Project id
  Filter ((pt = '2026-11-02') AND (shop_code IN ('S0002', 'S0001')))
    Scan mall.probe_events [snapshot=N files=2 records=%d filter=And(left=Equal(term=Reference(name='pt'), literal=2026-11-02), right=In(term=Reference(name='shop_code'), {[S0001 S0002]}))] tasks=2`, day2)},
		{"EXPLAIN SELECT 1", `
Project 1 AS ?column?
  Values 1 rows`},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			q := plan(t, ctx, demoPlanner(t), tt.sql)
			got := normalizePlan(strings.Join(runPart(t, ctx, q, 0, 1), "\n"))
			want := strings.TrimPrefix(tt.want, "\n")
			if got != want {
				t.Errorf("EXPLAIN:\n%s\nwant:\n%s", got, want)
			}
			// Query.Explain renders the same plan as the EXPLAIN statement.
			inner := plan(t, ctx, demoPlanner(t), strings.TrimPrefix(tt.sql, "EXPLAIN "))
			if e := normalizePlan(strings.TrimRight(inner.Explain(), "\n")); e != want {
				t.Errorf("Query.Explain:\n%s\nwant:\n%s", e, want)
			}
		})
	}
}

// TestFloatConstantsExact compares float columns with numeric constants
// written as the shortest decimal of each stored value: the row must match
// itself. Numeric constants with a point are exact decimals, and converting
// them to float64 must round correctly (31.2 once became
// 31.200000000000003, so geo.lat = 31.2 missed the row holding 31.2).
func TestFloatConstantsExact(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	checked := 0
	for _, d := range demoReference(t).devices {
		if d.geoNull || d.lat == nil || checked == 25 {
			continue
		}
		checked++
		lit := strconv.FormatFloat(*d.lat, 'f', -1, 64)
		for _, sql := range []string{
			"SELECT id FROM devices WHERE geo.lat = " + lit,
			"SELECT id FROM devices WHERE geo.lat >= " + lit + " AND geo.lat <= " + lit,
		} {
			got := run(t, ctx, p, sql)
			if !slices.Contains(got, render(d.id)) {
				t.Errorf("%s: device %d (lat %s) not returned: %v", sql, d.id, lit, got)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no device with a latitude")
	}
}
