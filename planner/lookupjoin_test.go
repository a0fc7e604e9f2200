package planner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
)

func TestReadHints(t *testing.T) {
	got := readHints(`SELECT /*+ LOOKUP(s, mall.Device_Places) NO_LOOKUP("d2") FOO(x) */ '/*+ LOOKUP(q) */' -- /*+ LOOKUP(r) */
		FROM t /* LOOKUP(plain) */`)
	want := map[string]bool{"s": true, "mall.device_places": true, "d2": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hints %v, want %v", got, want)
	}
}

func TestStripAsOfProcessingTime(t *testing.T) {
	for _, sql := range []string{
		"SELECT * FROM e JOIN shops FOR SYSTEM_TIME AS OF e.proc_time AS s ON e.k = s.k",
		"SELECT * FROM e JOIN shops FOR SYSTEM_TIME AS OF PROCTIME() s ON e.k = s.k",
	} {
		out, clauses, err := stripAsOf(sql)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := clauses[strings.Index(sql, "shops")]
		if !ok || !c.procTime || len(out) != len(sql) || strings.Contains(strings.ToLower(out), "proc") {
			t.Errorf("%s: %q %+v", sql, out, clauses)
		}
	}
	if _, _, err := stripAsOf("SELECT * FROM t FOR TIMESTAMP AS OF e.ts"); err == nil {
		t.Error("TIMESTAMP AS OF a column: no error")
	}
}

// lookupPlanner is the demo planner with a lookup manager.
func lookupPlanner(t *testing.T, cat *catalog.Catalog, cfg lookup.Options) (*Planner, *lookup.Manager) {
	t.Helper()
	cfg.Catalog = cat
	m := lookup.NewManager(cfg)
	t.Cleanup(m.Close)
	opts := testOptions
	opts.Lookups = m
	// Several workers join batches at once against one reader.
	opts.Parallelism = 3
	return New(cat, opts), m
}

func explainText(t *testing.T, ctx context.Context, p *Planner, req Request) string {
	t.Helper()
	req.SQL = "EXPLAIN " + req.SQL
	q, err := p.Plan(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", req.SQL, err)
	}
	return strings.Join(runPart(t, ctx, q, 0, 1), "\n")
}

func runReq(t *testing.T, ctx context.Context, p *Planner, req Request) []string {
	t.Helper()
	q, err := p.Plan(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", req.SQL, err)
	}
	return sorted(runPart(t, ctx, q, 0, 1))
}

// TestLookupJoinChoice: the planner picks lookup joins from hints,
// session settings, FOR SYSTEM_TIME AS OF a column and estimates, says
// why in EXPLAIN, and the results equal the hash join's.
func TestLookupJoinChoice(t *testing.T) {
	_, ctx := newAlloc(t)
	plain := demoPlanner(t)
	p, m := lookupPlanner(t, demo.catalog(t), lookup.Options{})
	const join = "SELECT %s e.id, s.shop_name, s.floor FROM probe_events e %s JOIN shops %s s ON e.shop_code = s.shop_code %s"
	tests := []struct {
		name               string
		hint, jt, asOf, wh string
		sess               Session
		hold               bool // the manager holds shops in FULL mode first
		want               []string
	}{
		{name: "large probe, nothing held", want: []string{"HashJoin Inner", "lookup join not chosen: point reads (not held by the lookup manager); probe rows ~20,000 vs dimension rows 20"}},
		{name: "hint", hint: "/*+ LOOKUP(s) */", want: []string{"LookupJoin Inner mall.shops mode=full snapshot=N on s.shop_code = shop_code (hint LOOKUP; FULL mode, loads on first use)"}},
		{name: "hint by name", hint: "/*+ LOOKUP(shops) */", sess: Session{LookupMode: lookup.None}, want: []string{"LookupJoin Inner mall.shops mode=none", "hint LOOKUP; point reads (mode none)"}},
		{name: "no_lookup beats the session", hint: "/*+ NO_LOOKUP(s) */", sess: Session{LookupJoins: LookupJoinsPrefer}, want: []string{"HashJoin Inner", "(hint NO_LOOKUP)"}},
		{name: "session prefers", sess: Session{LookupJoins: LookupJoinsPrefer}, want: []string{"LookupJoin Inner", "session prefers lookup joins"}},
		{name: "held, small probe", hold: true, wh: "WHERE e.id < 40", want: []string{"LookupJoin Inner mall.shops mode=full", "FULL index held; probe rows ~"}},
		{name: "held, large probe", hold: true, want: []string{"HashJoin Inner", "lookup join not chosen: FULL index held; probe rows ~20,000 vs dimension rows 20"}},
		{name: "session off", hold: true, wh: "WHERE e.id < 40", sess: Session{LookupJoins: LookupJoinsOff}, want: []string{"HashJoin", "lookup joins are off for the session"}},
		{name: "left, processing time", jt: "LEFT", asOf: "FOR SYSTEM_TIME AS OF e.proc_time", wh: "AND s.floor > 1",
			want: []string{"LookupJoin Left mall.shops mode=full snapshot=N on s.shop_code = shop_code filter (floor > 1) (FOR SYSTEM_TIME AS OF, processing time"}},
		{name: "left, held, small probe", jt: "LEFT", hold: true, wh: "AND e.rssi > s.floor * -10 WHERE e.id < 40",
			want: []string{"LookupJoin Left", "residual (CAST(rssi AS int64) > (CAST(floor AS int64) * -10))", "FULL index held"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hold {
				r, err := m.Reader(ctx, table.Identifier{"mall", "shops"}, lookup.Full)
				if err != nil {
					t.Fatal(err)
				}
				r.Release()
			}
			sql := fmt.Sprintf(join, tt.hint, tt.jt, tt.asOf, tt.wh)
			text := normalizePlan(explainText(t, ctx, p, Request{SQL: sql, Session: tt.sess}))
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("plan lacks %q:\n%s", w, text)
				}
			}
			got := runReq(t, ctx, p, Request{SQL: sql, Session: tt.sess})
			want := runReq(t, ctx, plain, Request{SQL: sql})
			if !slices.Equal(got, want) {
				t.Errorf("%d rows, want %d", len(got), len(want))
				reportDiff(t, got, want)
			}
		})
	}
	// EXPLAIN ANALYZE counts the lookups.
	q, err := p.Plan(ctx, Request{SQL: "EXPLAIN ANALYZE " + fmt.Sprintf(join, "/*+ LOOKUP(s) */", "LEFT", "", "WHERE e.id < 100")})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(runPart(t, ctx, q, 0, 1), "\n")
	if !strings.Contains(text, "lookups=") || !strings.Contains(text, "hits=") || !strings.Contains(text, "read_snapshot=") {
		t.Errorf("EXPLAIN ANALYZE:\n%s", text)
	}
}

// TestLookupJoinTwoDimensions: both dimensions of the demo joined by
// lookups onto the facts, which stay split into parts.
func TestLookupJoinTwoDimensions(t *testing.T) {
	_, ctx := newAlloc(t)
	plain := demoPlanner(t)
	p, _ := lookupPlanner(t, demo.catalog(t), lookup.Options{})
	sql := `SELECT e.id, s.shop_name, d.x, d.y FROM probe_events e JOIN shops s ON e.shop_code = s.shop_code
		JOIN device_places d ON d.user_device_mac = e.user_device_mac AND d.min_rssi <= e.rssi`
	req := Request{SQL: sql, Session: Session{LookupJoins: LookupJoinsPrefer}}
	text := explainText(t, ctx, p, req)
	if strings.Count(text, "LookupJoin Inner") != 2 || strings.Contains(text, "HashJoin") || !strings.Contains(text, "residual (min_rssi <= rssi)") {
		t.Errorf("plan:\n%s", text)
	}
	q, err := p.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if q.Parts < 2 {
		t.Errorf("%d parts, want the fact table's", q.Parts)
	}
	var got []string
	for part := range q.Parts {
		got = append(got, runPart(t, ctx, q, part, q.Parts)...)
	}
	want := runReq(t, ctx, plain, Request{SQL: sql})
	if got = sorted(got); !slices.Equal(got, want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
		reportDiff(t, got, want)
	}
}

// generated is a warehouse of a dimension keyed by (a long, b string), a
// dimension keyed by id long, and facts whose x is an int (int32) and
// whose keys miss, repeat and are NULL.
type generated struct {
	cat *catalog.Catalog
}

func newGenerated(t *testing.T) *generated {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + filepath.Join(dir, "c.db"), Warehouse: "file://" + filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if err := cat.Iceberg().CreateNamespace(ctx, table.Identifier{"g"}, nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	create := func(name string, sc *iceberg.Schema, fill func(b *array.RecordBuilder)) {
		tbl, err := cat.Iceberg().CreateTable(ctx, table.Identifier{"g", name}, sc)
		if err != nil {
			t.Fatal(err)
		}
		as, err := catalog.ArrowSchema(tbl.Schema())
		if err != nil {
			t.Fatal(err)
		}
		b := array.NewRecordBuilder(memory.DefaultAllocator, as)
		defer b.Release()
		fill(b)
		rec := b.NewRecordBatch()
		defer rec.Release()
		at := array.NewTableFromRecords(as, []arrow.RecordBatch{rec})
		defer at.Release()
		tx := tbl.NewTransaction()
		if err := tx.AppendTable(ctx, at, 64, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	create("pairs", iceberg.NewSchemaWithIdentifiers(0, []int{1, 2},
		iceberg.NestedField{ID: 1, Name: "a", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "b", Type: iceberg.PrimitiveTypes.String, Required: true},
		iceberg.NestedField{ID: 3, Name: "v", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "w", Type: iceberg.PrimitiveTypes.Int64},
	), func(b *array.RecordBuilder) {
		for a := int64(0); a < 60; a++ {
			for _, s := range []string{"p", "q"} {
				if rng.IntN(4) == 0 {
					continue
				}
				b.Field(0).(*array.Int64Builder).Append(a)
				b.Field(1).(*array.StringBuilder).Append(s)
				if rng.IntN(5) == 0 {
					b.Field(2).AppendNull()
				} else {
					b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("v%d%s", a, s))
				}
				b.Field(3).(*array.Int64Builder).Append(int64(rng.IntN(8)))
			}
		}
	})
	create("ones", iceberg.NewSchemaWithIdentifiers(0, []int{1},
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "name", Type: iceberg.PrimitiveTypes.String},
	), func(b *array.RecordBuilder) {
		for id := int64(0); id < 200; id += 2 {
			b.Field(0).(*array.Int64Builder).Append(id)
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("n%d", id))
		}
	})
	create("facts", iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "n", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "x", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 3, Name: "y", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "z", Type: iceberg.PrimitiveTypes.Int64},
	), func(b *array.RecordBuilder) {
		for n := range 5000 {
			b.Field(0).(*array.Int64Builder).Append(int64(n))
			if rng.IntN(10) == 0 {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.Int32Builder).Append(int32(rng.IntN(70)))
			}
			if rng.IntN(10) == 0 {
				b.Field(2).AppendNull()
			} else {
				b.Field(2).(*array.StringBuilder).Append([]string{"p", "q", "r"}[rng.IntN(3)])
			}
			if rng.IntN(10) == 0 {
				b.Field(3).AppendNull()
			} else {
				b.Field(3).(*array.Int64Builder).Append(int64(rng.IntN(220)))
			}
		}
	})
	return &generated{cat: cat}
}

// TestLookupJoinEqualsHashJoin runs joins on generated data as lookup
// joins in each mode and as hash joins, and compares the results.
func TestLookupJoinEqualsHashJoin(t *testing.T) {
	_, ctx := newAlloc(t)
	g := newGenerated(t)
	plain := New(g.cat, testOptions)
	p, _ := lookupPlanner(t, g.cat, lookup.Options{})
	queries := []string{
		// Two-column key, an int probe column against a long key column.
		"SELECT f.n, d.v, d.w FROM g.facts f JOIN g.pairs d ON d.a = f.x AND d.b = f.y",
		"SELECT f.n, d.v, d.w FROM g.facts f LEFT JOIN g.pairs d ON d.a = f.x AND d.b = f.y",
		// Filters on the dimension and conditions across both sides.
		"SELECT f.n, d.a, d.v FROM g.facts f JOIN g.pairs d ON f.x = d.a AND f.y = d.b WHERE d.w < 5 AND d.w <> f.z % 8",
		"SELECT f.n, d.a, d.v FROM g.facts f LEFT JOIN g.pairs d ON f.x = d.a AND f.y = d.b AND d.w < 5 AND d.w <> f.z % 8",
		// An expression as key; a key equality that is not the whole key
		// stays a hash join.
		"SELECT f.n, o.name FROM g.facts f JOIN g.ones o ON o.id = f.z + 1",
		"SELECT f.n, d.v FROM g.facts f JOIN g.pairs d ON d.a = f.x",
		// Two dimensions, one read through the other's columns.
		"SELECT f.n, d.v, o.name FROM g.facts f JOIN g.pairs d ON d.a = f.x AND d.b = f.y LEFT JOIN g.ones o ON o.id = d.w * 2",
		"SELECT f.n, d.v, o.name FROM g.facts f JOIN g.pairs d ON d.a = f.x AND d.b = f.y JOIN g.ones o ON o.id = f.z",
		// Aggregates over a lookup join.
		"SELECT d.b, count(*), count(d.v), sum(f.z) FROM g.facts f LEFT JOIN g.pairs d ON d.a = f.x AND d.b = f.y GROUP BY d.b",
	}
	for _, mode := range []lookup.Mode{lookup.Full, lookup.Partial, lookup.None} {
		for _, sql := range queries {
			t.Run(mode.String()+"/"+sql, func(t *testing.T) {
				req := Request{SQL: sql, Session: Session{LookupMode: mode, LookupJoins: LookupJoinsPrefer}}
				text := explainText(t, ctx, p, req)
				wantLookup := !strings.HasSuffix(sql, "ON d.a = f.x")
				if strings.Contains(text, "LookupJoin") != wantLookup || (wantLookup && !strings.Contains(text, "mode="+mode.String())) {
					t.Errorf("lookup join %v expected, plan:\n%s", wantLookup, text)
				}
				got := runReq(t, ctx, p, req)
				want := runReq(t, ctx, plain, Request{SQL: sql})
				if !slices.Equal(got, want) {
					t.Errorf("%d rows, want %d\n%s", len(got), len(want), text)
					reportDiff(t, got, want)
				}
			})
		}
	}
}
