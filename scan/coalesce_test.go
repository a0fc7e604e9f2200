package scan_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/scan"
)

// wideColumns is the number of columns of the wide fixture: half int64,
// half strings.
const wideColumns = 20

// wideTable creates a table of wideColumns columns and rows rows, written
// in row groups of groupRows rows.
func wideTable(t testing.TB, ctx context.Context, name string, rows, groupRows int) *table.Table {
	t.Helper()
	fields := make([]iceberg.NestedField, wideColumns)
	for i := range fields {
		fields[i] = iceberg.NestedField{ID: i + 1, Name: fmt.Sprintf("c%02d", i), Type: iceberg.PrimitiveTypes.Int64, Required: true}
		if i%2 == 1 {
			fields[i].Type = iceberg.PrimitiveTypes.String
		}
	}
	cat := demoCatalog(t).Iceberg()
	ident := table.Identifier{datagen.Namespace, name}
	tbl, err := cat.CreateTable(ctx, ident, iceberg.NewSchema(0, fields...), icecat.WithProperties(iceberg.Properties{
		table.PropertyFormatVersion:   "2",
		table.ParquetRowGroupLimitKey: strconv.Itoa(groupRows),
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.DropTable(context.Background(), ident) })
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, asc)
	defer b.Release()
	for r := range rows {
		for c := range wideColumns {
			v := int64(r*(c+3)) % 100_003
			if c%2 == 0 {
				b.Field(c).(*array.Int64Builder).Append(v)
			} else {
				b.Field(c).(*array.StringBuilder).Append("v" + strconv.FormatInt(v, 36))
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	at := array.NewTableFromRecords(asc, []arrow.RecordBatch{rec})
	defer at.Release()
	txn := tbl.NewTransaction()
	if err := txn.AppendTable(ctx, at, int64(rows), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Loaded through the catalog, the table's reads are counted.
	tbl, err = demoCatalog(t).LoadTable(ctx, tbl.Identifier())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestCoalescedReads reads every column of a file of 4 row groups of 20
// columns with each row group's chunks fetched in one read and with each
// chunk read on its own, and checks the rows are the same and the reads
// fewer.
func TestCoalescedReads(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := wideTable(t, ctx, "wide_for_coalescing", 8000, 2000)
	read := func(fetch scan.FetchOptions) ([]string, int64, scan.ReadStats) {
		p := plan(t, ctx, scan.Request{Table: tbl, Fetch: fetch, Concurrency: 1})
		if !scan.ReadsNatively(p) {
			t.Fatal("not read natively")
		}
		before := catalog.Storage()
		r, err := p.Open(ctx, p.Part(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		rows := drain(t, r, p.Schema())
		return rows, catalog.Storage().Requests - before.Requests, r.Stats()
	}
	// Read once so that the footer is cached for both. Local files are
	// coalesced only when asked.
	on := scan.FetchOptions{LocalGapBytes: 1 << 20}
	read(on)
	rows, reqs, st := read(on)
	want, reqsOff, _ := read(scan.FetchOptions{})
	t.Logf("requests: %d coalesced, %d one per chunk; %+v", reqs, reqsOff, st)
	if len(rows) != 8000 || !reflect.DeepEqual(rows, want) {
		t.Fatalf("%d rows, %d without coalescing; they differ", len(rows), len(want))
	}
	if st.RowGroups != 4 {
		t.Fatalf("%d row groups, want 4", st.RowGroups)
	}
	// Opening the file is one request; then one per row group instead of
	// one per chunk.
	if reqs > 1+st.RowGroups || reqsOff < st.RowGroups*wideColumns {
		t.Errorf("%d requests coalesced (want at most %d), %d without (want at least %d)", reqs, 1+st.RowGroups, reqsOff, st.RowGroups*wideColumns)
	}
}

// BenchmarkFetchLocal reads every column of a local file of 8 row groups
// of 20 columns with the chunks of a row group fetched together (gaps of
// 1 byte and 1 MiB) and on their own (0, the default), which decided the
// default for local files.
func BenchmarkFetchLocal(b *testing.B) {
	ctx := context.Background()
	tbl := wideTable(b, ctx, "wide_for_fetch_bench", 400_000, 50_000)
	for _, gap := range []int64{0, 1, 1 << 20} {
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fetch: scan.FetchOptions{LocalGapBytes: gap}, Concurrency: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("gap=%d", gap), func(b *testing.B) {
			b.ReportAllocs()
			var reqs int64
			cpu0 := cpuTime()
			for b.Loop() {
				before := catalog.Storage().Requests
				r, err := p.Open(ctx, p.Part(0, 1))
				if err != nil {
					b.Fatal(err)
				}
				for {
					rec, err := r.Next()
					if err != nil {
						break
					}
					rec.Release()
				}
				r.Close()
				reqs = catalog.Storage().Requests - before
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(float64(reqs), "requests/op")
		})
	}
}
