package server_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

// explainLines runs EXPLAIN ANALYZE of query and returns its lines.
func explainLines(t *testing.T, ctx context.Context, c *flightsql.Client, query string) []string {
	t.Helper()
	info, err := c.Execute(ctx, "EXPLAIN ANALYZE "+query)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, ep := range info.Endpoint {
		rdr, err := c.DoGet(ctx, ep.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rdr.Next() {
			col := rdr.RecordBatch().Column(0).(*array.String)
			for i := 0; i < col.Len(); i++ {
				lines = append(lines, col.Value(i))
			}
		}
		if err := rdr.Err(); err != nil {
			t.Fatal(err)
		}
		rdr.Release()
	}
	return lines
}

var scanFigures = regexp.MustCompile(`files=(\d+) rowgroups=(\d+)/(\d+) skipped=(\d+) rows_read=(\d+) bytes_read=(\d+) bytes_skipped=(\d+)`)

// scanLine finds the figures of the scan of table in EXPLAIN ANALYZE
// output: files, row groups read and in range, skipped, rows decoded,
// bytes read and skipped (summed over the scan operators of the table).
func scanLine(t *testing.T, lines []string, tbl string) (figs [7]int64) {
	t.Helper()
	found := false
	for _, l := range lines {
		if !strings.Contains(l, "Scan "+tbl+" ") {
			continue
		}
		m := scanFigures.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("scan line without read figures: %s", l)
		}
		found = true
		for i := range figs {
			v, _ := strconv.ParseInt(m[i+1], 10, 64)
			figs[i] += v
		}
	}
	if !found {
		t.Fatalf("no scan of %s in\n%s", tbl, strings.Join(lines, "\n"))
	}
	return figs
}

// TestExplainAnalyzeRowGroups checks that EXPLAIN ANALYZE reports, per scan,
// the row groups column statistics let it skip. The demo's probe event
// files hold one row group each (their filters prune whole files at
// planning), so the test writes a table sorted by k in row groups of 500
// rows.
func TestExplainAnalyzeRowGroups(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)

	ident := table.Identifier{"mall", "readings"}
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "v", Type: iceberg.PrimitiveTypes.Int32},
	)
	tbl, err := f.cat.Iceberg().CreateTable(ctx, ident, sc, icecat.WithProperties(iceberg.Properties{
		table.PropertyFormatVersion:   "2",
		table.ParquetRowGroupLimitKey: "500",
	}))
	if err != nil {
		t.Fatal(err)
	}
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for k := 0; k < 5000; k++ {
		rows = append(rows, fmt.Sprintf(`{"k": %d, "v": %d}`, k, k%97))
	}
	appendJSON(t, ctx, tbl, asc, rows, 5000)

	// k >= 4000 lies in the last two of ten row groups.
	lines := explainLines(t, ctx, c, "SELECT count(*), sum(v) FROM mall.readings WHERE k >= 4000")
	t.Log(strings.Join(lines, "\n"))
	figs := scanLine(t, lines, "mall.readings")
	files, read, inRange, skipped, decoded, bytesRead, bytesSkipped := figs[0], figs[1], figs[2], figs[3], figs[4], figs[5], figs[6]
	if files != 1 || inRange != 10 || skipped <= 0 || read+skipped != inRange {
		t.Errorf("files=%d rowgroups=%d/%d skipped=%d: want one file of 10 row groups, some skipped\n%s", files, read, inRange, skipped, strings.Join(lines, "\n"))
	}
	if read != 2 || decoded != 1000 || bytesRead <= 0 || bytesSkipped <= bytesRead {
		t.Errorf("read %d row groups, %d rows, %d bytes (skipped %d bytes): want the last 2 row groups\n%s", read, decoded, bytesRead, bytesSkipped, strings.Join(lines, "\n"))
	}
	var scanRows string
	for _, l := range lines {
		if strings.Contains(l, "Scan mall.readings ") {
			scanRows = regexp.MustCompile(`\(rows=(\d+) `).FindStringSubmatch(l)[1]
		}
	}
	if scanRows != "1000" {
		t.Errorf("the scan returned %s rows, want the 1000 with k >= 4000\n%s", scanRows, strings.Join(lines, "\n"))
	}

	// Without a filter nothing is skipped; the demo's filtered scans prune
	// files at planning and read every row group of the files they keep.
	figs = scanLine(t, explainLines(t, ctx, c, "SELECT count(*) FROM mall.readings"), "mall.readings")
	if figs[1] != 10 || figs[3] != 0 || figs[4] != 5000 {
		t.Errorf("unfiltered scan figures %v: want all 10 row groups and 5000 rows read", figs)
	}
	lines = explainLines(t, ctx, c, "SELECT count(*) FROM mall.probe_events WHERE rssi > -50")
	if figs = scanLine(t, lines, "mall.probe_events"); figs[0] == 0 || figs[1] == 0 || !strings.Contains(strings.Join(lines, "\n"), "table_files=") {
		t.Errorf("demo scan figures %v\n%s", figs, strings.Join(lines, "\n"))
	}
}

// EXPLAIN ANALYZE shows what each stateful operator held at its peak and
// the query's peak memory; a join's hash table holds at least its build
// rows' bytes.
func TestExplainAnalyzeMemory(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)
	lines := explainLines(t, ctx, c, `SELECT s.category, count(*) AS n FROM mall.probe_events e
		JOIN mall.shops s ON e.shop_code = s.shop_code GROUP BY s.category ORDER BY n DESC`)
	mem := regexp.MustCompile(`memory=([0-9.]+)(B|KiB|MiB|GiB)`)
	bytesOf := func(m []string) float64 {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v * map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2]]
	}
	seen := map[string]float64{}
	for _, l := range lines {
		op := strings.Fields(strings.TrimSpace(l))[0]
		if m := mem.FindStringSubmatch(l); m != nil && (op == "HashJoin" || op == "HashAggregate" || op == "Sort") {
			seen[op] = bytesOf(m)
		}
	}
	for _, op := range []string{"HashJoin", "HashAggregate", "Sort"} {
		if seen[op] <= 0 {
			t.Errorf("%s reports no memory held:\n%s", op, strings.Join(lines, "\n"))
		}
	}
	last := lines[len(lines)-1]
	m := regexp.MustCompile(`peak_memory=([0-9.]+)(B|KiB|MiB|GiB)`).FindStringSubmatch(last)
	if m == nil || bytesOf(m) < seen["HashJoin"] {
		t.Errorf("total line %q: want a peak_memory at least the join's %v bytes", last, seen["HashJoin"])
	}
}

var lateFigures = regexp.MustCompile(`late_rows_skipped=(\d+)`)

var probeFigures = regexp.MustCompile(`rowgroups=(\d+)/(\d+) skipped=(\d+) .* skipped_dict=(\d+) skipped_bloom=(\d+)`)

// TestExplainAnalyzeDictionaryAndBloom checks that EXPLAIN ANALYZE counts
// the row groups dictionaries and bloom filters skip, in a table written
// by iceberg-go: four row groups whose v and w ranges overlap (statistics
// skip none) but whose values differ; v is dictionary-encoded, w is not
// but has bloom filters.
func TestExplainAnalyzeDictionaryAndBloom(t *testing.T) {
	f := startServer(t, nil)
	ctx := context.Background()
	c := f.client(t)

	ident := table.Identifier{"mall", "probed"}
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "v", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 3, Name: "w", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 4, Name: "payload", Type: iceberg.PrimitiveTypes.String},
	)
	tbl, err := f.cat.Iceberg().CreateTable(ctx, ident, sc, icecat.WithProperties(iceberg.Properties{
		table.PropertyFormatVersion:                           "2",
		table.ParquetRowGroupLimitKey:                         "500",
		table.ParquetBloomFilterColumnEnabledKeyPrefix + ".w": "true",
		"write.parquet.dict-encoding-enabled.column.w":        "false",
		table.ParquetBloomFilterMaxBytesKey:                   "1024",
	}))
	if err != nil {
		t.Fatal(err)
	}
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	// Row r of row group g holds the code g + 8*(r%25): v = code, w =
	// 1000*code.
	var rows []string
	for i := 0; i < 2000; i++ {
		code := i/500 + 8*(i%500%25)
		rows = append(rows, fmt.Sprintf(`{"k": %d, "v": %d, "w": %d, "payload": "%016x"}`, i, code, 1000*code, uint64(i)*0x9E3779B97F4A7C15))
	}
	appendJSON(t, ctx, tbl, asc, rows, 2000)

	// The last query's statistics skip the row groups of k < 1500. count
	// is the answer: 20 rows hold each code of residue 0 to 3 modulo 8.
	for _, tt := range []struct {
		where                          string
		read, skipped, byDict, byBloom int
		count                          int64
	}{
		{"v = 26", 1, 3, 3, 0, 20},
		{"v IN (4, 12)", 0, 4, 4, 0, 0},
		{"w = 26000", 1, 3, 0, 3, 20},
		{"w IN (9000, 11000, 4000)", 2, 2, 0, 2, 40},
		{"k >= 1500 AND w = 4000", 0, 4, 0, 1, 0},
	} {
		info, err := c.Execute(ctx, "SELECT count(*) AS n FROM mall.probed WHERE "+tt.where)
		if err != nil {
			t.Fatal(err)
		}
		if _, n := readAll(t, ctx, c, info, "n"); len(n) != 1 || n[0] != tt.count {
			t.Errorf("%s: count %v, want %d", tt.where, n, tt.count)
		}
		lines := explainLines(t, ctx, c, "SELECT count(*), max(payload) FROM mall.probed WHERE "+tt.where)
		var scanLine string
		for _, l := range lines {
			if strings.Contains(l, "Scan mall.probed ") {
				scanLine = l
			}
		}
		m := probeFigures.FindStringSubmatch(scanLine)
		if m == nil || scanFigures.FindStringSubmatch(scanLine) == nil {
			t.Fatalf("%s: scan line without read figures:\n%s", tt.where, strings.Join(lines, "\n"))
		}
		want := []string{fmt.Sprint(tt.read), "4", fmt.Sprint(tt.skipped), fmt.Sprint(tt.byDict), fmt.Sprint(tt.byBloom)}
		if got := m[1:]; !slices.Equal(got, want) {
			t.Errorf("%s: rowgroups=%s/%s skipped=%s skipped_dict=%s skipped_bloom=%s, want %v\n%s", tt.where, m[1], m[2], m[3], m[4], m[5], want, scanLine)
		}
		// Rows not decoded are those reading the filter column first skipped.
		decoded, _ := strconv.Atoi(scanFigures.FindStringSubmatch(scanLine)[5])
		if m := lateFigures.FindStringSubmatch(scanLine); m != nil {
			late, _ := strconv.Atoi(m[1])
			decoded += late
		}
		if decoded != 500*tt.read {
			t.Errorf("%s: rows_read and late_rows_skipped add up to %d, want the %d rows of the row groups read\n%s", tt.where, decoded, 500*tt.read, scanLine)
		}
	}
}

// appendJSON commits rows (JSON objects of schema sc) to tbl as one append,
// in row groups of rowGroup rows.
func appendJSON(t *testing.T, ctx context.Context, tbl *table.Table, sc *arrow.Schema, rows []string, rowGroup int64) {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader("["+strings.Join(rows, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	at := array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
	rec.Release()
	defer at.Release()
	txn := tbl.NewTransaction()
	if err := txn.AppendTable(ctx, at, rowGroup, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
