package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/lakeflight/lakeflight/server"
)

// spans records the spans of the package's servers. The server's tracer
// is taken from the global provider, which delegates to the first
// provider set, so it is set once.
var spans = sync.OnceValue(func() *tracetest.SpanRecorder {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	return rec
})

// scrape returns the value of a metric with the given labels (rendered as
// Prometheus writes them, e.g. `outcome="read"`; "" for none), 0 when
// absent.
func scrape(t *testing.T, body, name, labels string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if labels != "" && !strings.Contains(line, labels) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return v
	}
	return 0
}

// TestPruningFigures runs a query that prunes files and row groups and
// checks that its figures appear in EXPLAIN ANALYZE, on the query's span
// and in the Prometheus counters.
func TestPruningFigures(t *testing.T) {
	rec := spans()
	metrics, handler, err := server.PrometheusMetrics()
	if err != nil {
		t.Fatal(err)
	}
	f := startServer(t, func(o *server.Options) { o.Metrics = metrics })
	ctx := context.Background()
	c := f.client(t)

	// Two files of ten row groups of 500 rows, sorted by k: 0..4999 and
	// 5000..9999.
	ident := table.Identifier{"mall", "pruned"}
	tbl, err := f.cat.Iceberg().CreateTable(ctx, ident, iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "v", Type: iceberg.PrimitiveTypes.Int32},
	), icecat.WithProperties(iceberg.Properties{table.PropertyFormatVersion: "2", table.ParquetRowGroupLimitKey: "500"}))
	if err != nil {
		t.Fatal(err)
	}
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for file := range 2 {
		var rows []string
		for k := file * 5000; k < (file+1)*5000; k++ {
			rows = append(rows, fmt.Sprintf(`{"k": %d, "v": %d}`, k, k%97))
		}
		appendJSON(t, ctx, tbl, asc, rows, 5000)
		if tbl, err = f.cat.Iceberg().LoadTable(ctx, ident); err != nil {
			t.Fatal(err)
		}
	}

	// k >= 9000: the first file is pruned at planning, 8 of the second's
	// 10 row groups by statistics.
	const q = "SELECT count(*), sum(v) FROM mall.pruned WHERE k >= 9000"
	lines := explainLines(t, ctx, c, q)
	text := strings.Join(lines, "\n")
	if !regexp.MustCompile(`files=1 rowgroups=2/10 skipped=8 .*table_files=2 table_bytes=\d+`).MatchString(text) {
		t.Errorf("EXPLAIN ANALYZE lacks the pruning figures:\n%s", text)
	}

	body := func() string {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(w.Body)
		return string(b)
	}
	before := body()
	rec.Reset()
	info, err := c.Execute(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := readAll(t, ctx, c, info, ""); n != 1 {
		t.Fatalf("%d rows", n)
	}

	// The span of the query's stream carries the figures.
	var attrs map[string]int64
	for _, s := range rec.Ended() {
		if s.Name() != "query.execute" {
			continue
		}
		attrs = map[string]int64{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.AsInt64()
		}
	}
	if attrs == nil {
		t.Fatal("no query.execute span ended")
	}
	want := map[string]int64{
		"lakeflight.scan.files.table":                   2,
		"lakeflight.scan.files.planned":                 1,
		"lakeflight.scan.files.skipped":                 1,
		"lakeflight.scan.row_groups.total":              10,
		"lakeflight.scan.row_groups.read":               2,
		"lakeflight.scan.row_groups.skipped_stats":      8,
		"lakeflight.scan.row_groups.skipped_dictionary": 0,
		"lakeflight.scan.rows.read":                     1000,
	}
	for k, v := range want {
		if got, ok := attrs[k]; !ok || got != v {
			t.Errorf("span attribute %s = %d (present %v), want %d", k, got, ok, v)
		}
	}
	for _, k := range []string{"lakeflight.scan.bytes.read", "lakeflight.scan.bytes.skipped", "lakeflight.scan.bytes.table"} {
		if attrs[k] <= 0 {
			t.Errorf("span attribute %s = %d, want > 0", k, attrs[k])
		}
	}
	if attrs["lakeflight.scan.bytes.read"] >= attrs["lakeflight.scan.bytes.table"] {
		t.Errorf("read %d bytes of a table of %d", attrs["lakeflight.scan.bytes.read"], attrs["lakeflight.scan.bytes.table"])
	}

	// The counters grew by the query's figures.
	after := body()
	delta := func(name, labels string) float64 {
		return scrape(t, after, name, labels) - scrape(t, before, name, labels)
	}
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"lakeflight_scan_files_total", `outcome="read"`, 1},
		{"lakeflight_scan_files_total", `outcome="skipped"`, 1},
		{"lakeflight_scan_row_groups_total", `outcome="read"`, 2},
		{"lakeflight_scan_row_groups_total", `outcome="skipped_stats"`, 8},
		{"lakeflight_scan_row_groups_total", `outcome="skipped_bloom"`, 0},
		{"lakeflight_scan_read_bytes_total", "", float64(attrs["lakeflight.scan.bytes.read"])},
		{"lakeflight_scan_skipped_bytes_total", "", float64(attrs["lakeflight.scan.bytes.skipped"])},
		{"lakeflight_scan_table_bytes_total", "", float64(attrs["lakeflight.scan.bytes.table"])},
	} {
		if got := delta(c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} grew by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if !strings.Contains(after, "lakeflight_storage_requests_total") || !strings.Contains(after, `lakeflight_scan_pages_total{`) {
		t.Errorf("storage request or page counters missing from /metrics")
	}
}
