package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/scan"
)

// The page fixture is one Parquet file of pageRows rows sorted by k, in
// row groups of pageGroupRows rows cut into data pages of a few dozen rows,
// written with column and offset indexes. Row i holds:
//
//	k  int64   i
//	d  date    day pageDay0 + i/40
//	s  string  "s" and i in five digits
//	n  int32   NULL in runs of 300 rows ((i/300)%3 == 1), else i%1000
//	x  int64   (i*7919)%1009, not sorted
//	p  string  a payload of 100 to 250 bytes
//
// iceberg-go (v0.7) writes no page indexes, so the file is written with
// pqarrow and added to the table.
const (
	pageRows      = 8000
	pageGroupRows = 2000
	pageDay0      = 19000
)

func pageSchema() *iceberg.Schema {
	return iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "d", Type: iceberg.PrimitiveTypes.Date, Required: true},
		iceberg.NestedField{ID: 3, Name: "s", Type: iceberg.PrimitiveTypes.String, Required: true},
		iceberg.NestedField{ID: 4, Name: "n", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 5, Name: "x", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 6, Name: "p", Type: iceberg.PrimitiveTypes.String},
	)
}

func pageNull(i int) bool { return (i/300)%3 == 1 }
func pageX(i int) int64   { return int64(i*7919) % 1009 }

// writePageFile writes the fixture and checks that it has page indexes
// and many pages per chunk. The writer has its own allocator.
func writePageFile(t *testing.T, mem memory.Allocator, asc *arrow.Schema) []byte {
	t.Helper()
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(memory.NewGoAllocator()),
		parquet.WithPageIndexEnabled(true),
		parquet.WithDataPageSize(256),
		parquet.WithBatchSize(32),
		parquet.WithMaxRowGroupLength(pageGroupRows),
		parquet.WithDictionaryFor("x", true),
		parquet.WithDictionaryDefault(false),
	)
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(asc, &buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(memory.NewGoAllocator())))
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, asc)
	defer b.Release()
	for i := range pageRows {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Date32Builder).Append(arrow.Date32(pageDay0 + i/40))
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("s%05d", i))
		if nb := b.Field(3).(*array.Int32Builder); pageNull(i) {
			nb.AppendNull()
		} else {
			nb.Append(int32(i % 1000))
		}
		b.Field(4).(*array.Int64Builder).Append(pageX(i))
		b.Field(5).(*array.StringBuilder).Append(fmt.Sprintf("payload-%05d-%s", i, strings.Repeat("z", 85+(i*31)%150)))
	}
	rec := b.NewRecordBatch()
	err = w.Write(rec)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	md := pr.MetaData()
	if md.NumRowGroups() != pageRows/pageGroupRows {
		t.Fatalf("%d row groups", md.NumRowGroups())
	}
	rgi, err := pr.GetPageIndexReader().RowGroup(0)
	if err != nil || rgi == nil {
		t.Fatalf("no page index: %v", err)
	}
	for col := range md.Schema.NumColumns() {
		ci, err := rgi.GetColumnIndex(col)
		if err != nil || ci == nil {
			t.Fatalf("column %d: no column index (%v)", col, err)
		}
		oi, err := rgi.GetOffsetIndex(col)
		if err != nil || oi == nil || len(oi.GetPageLocations()) < 10 {
			t.Fatalf("column %d: offset index %v (%v), want many pages", col, oi, err)
		}
	}
	return buf.Bytes()
}

// pageTable creates a table holding the page fixture.
func pageTable(t *testing.T, ctx context.Context, mem memory.Allocator, name string) *table.Table {
	t.Helper()
	tbl := newTestTable(t, name, pageSchema(), nil)
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	data := writePageFile(t, mem, asc)
	path := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "data", "pages.parquet")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	txn := tbl.NewTransaction()
	if err := txn.AddFiles(ctx, []string{"file://" + path}, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err = txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Loaded through the catalog, the table's reads are counted
	// (catalog.Storage).
	if tbl, err = demoCatalog(t).LoadTable(ctx, tbl.Identifier()); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// pageFilters generates random filters over the fixture's columns: ranges,
// equality, IN, NOT IN, NULL tests and prefixes, combined with AND, OR and
// NOT.
type pageFilters struct{ r *rand.Rand }

func (g pageFilters) leaf() iceberg.BooleanExpression {
	i := g.r.IntN(pageRows+400) - 200 // some literals outside the data
	k, n := iceberg.Reference("k"), iceberg.Reference("n")
	switch g.r.IntN(14) {
	case 0:
		return iceberg.LessThan(k, int64(i))
	case 1:
		return iceberg.GreaterThanEqual(k, int64(i))
	case 2:
		lo := int64(i)
		return iceberg.NewAnd(iceberg.GreaterThan(k, lo), iceberg.LessThanEqual(k, lo+int64(g.r.IntN(300))))
	case 3:
		return iceberg.EqualTo(k, int64(i))
	case 4:
		return iceberg.IsIn(k, int64(i), int64(g.r.IntN(pageRows)), int64(g.r.IntN(pageRows)))
	case 5:
		return iceberg.NotIn(k, int64(i), int64(i+1))
	case 6:
		return iceberg.NotEqualTo(k, int64(i))
	case 7:
		return iceberg.LessThanEqual(iceberg.Reference("d"), iceberg.Date(pageDay0+i/40))
	case 8:
		return iceberg.EqualTo(iceberg.Reference("d"), iceberg.Date(pageDay0+i/40))
	case 9:
		if g.r.IntN(2) == 0 {
			return iceberg.GreaterThan(iceberg.Reference("s"), fmt.Sprintf("s%05d", i))
		}
		return iceberg.LessThanEqual(iceberg.Reference("s"), fmt.Sprintf("s%03d", max(i, 0)/100))
	case 10:
		if g.r.IntN(2) == 0 {
			return iceberg.IsNull(n)
		}
		return iceberg.NotNull(n)
	case 11:
		return iceberg.LessThan(n, int32(g.r.IntN(1000)))
	case 12:
		return iceberg.IsIn(n, int32(g.r.IntN(1000)), int32(g.r.IntN(1000)))
	default:
		return iceberg.EqualTo(iceberg.Reference("x"), pageX(i))
	}
}

func (g pageFilters) expr(depth int) iceberg.BooleanExpression {
	if depth == 0 || g.r.IntN(3) == 0 {
		return g.leaf()
	}
	switch g.r.IntN(3) {
	case 0:
		return iceberg.NewAnd(g.expr(depth-1), g.expr(depth-1))
	case 1:
		return iceberg.NewOr(g.expr(depth-1), g.expr(depth-1))
	}
	return iceberg.NewNot(g.expr(depth - 1))
}

// TestPagePruningRandom compares, over random filters, the rows the scan
// returns with page-index pruning and late materialization, without them,
// and iceberg-go's: all the same, in the same order. With PruneOnly the
// scan returns every matching row (and may return others).
func TestPagePruningRandom(t *testing.T) {
	mem, ctx := newAlloc(t)
	tbl := pageTable(t, ctx, mem, "pages_random_for_scan_test")
	g := pageFilters{r: rand.New(rand.NewPCG(4, 2))}
	var pagesSkipped, lateSkipped int64
	for n := range 120 {
		f := g.expr(2)
		fields := [][]string{nil, {"k", "p"}, {"s"}, {"x", "n", "d"}}[n%4]
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, ctx := newAlloc(t)
			p := plan(t, ctx, scan.Request{Table: tbl, Filter: f, Fields: fields, BatchSize: 300})
			got, st := compareWithIceberg(t, ctx, p, p.Part(0, 1))
			pagesSkipped += st.PagesSkipped
			lateSkipped += st.LateRowsSkipped

			off := plan(t, ctx, scan.Request{Table: tbl, Filter: f, Fields: fields, BatchSize: 301})
			scan.SetPageIndex(off, false)
			scan.SetLate(off, false)
			want, offStats := readAll(t, ctx, off, off.Part(0, 1))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("filter %s: %d rows with page pruning, %d without", f, len(got), len(want))
			}
			if os := offStats.Stats(); os.PagesSkipped != 0 || os.LateRowGroups != 0 {
				t.Errorf("pruning off, figures %+v", os)
			}
			if st.RowsRead+st.RowsSkipped+st.LateRowsSkipped != pageGroupRows*st.RowGroups {
				t.Errorf("figures %+v: rows read and skipped are not the rows of the row groups read", st)
			}

			loose := plan(t, ctx, scan.Request{Table: tbl, Filter: f, Fields: fields, BatchSize: 300, PruneOnly: true})
			all, _ := readAll(t, ctx, loose, loose.Part(0, 1))
			seen := map[string]int{}
			for _, r := range all {
				seen[r]++
			}
			for _, r := range got {
				if seen[r]--; seen[r] < 0 {
					t.Fatalf("filter %s: PruneOnly lost the matching row %s", f, r)
				}
			}
		})
	}
	if pagesSkipped == 0 || lateSkipped == 0 {
		t.Errorf("over all filters %d pages and %d rows skipped late; want some of both", pagesSkipped, lateSkipped)
	}
}

// TestPagePruningFigures checks what page pruning skips for filters whose
// matching rows are known, and that the bytes read from storage drop.
func TestPagePruningFigures(t *testing.T) {
	mem, ctx := newAlloc(t)
	tbl := pageTable(t, ctx, mem, "pages_figures_for_scan_test")
	k := iceberg.Reference("k")
	tests := []struct {
		name   string
		filter iceberg.BooleanExpression
		fields []string
		rows   int
		// groups is the number of row groups read; pages says that pages
		// must be skipped; late is the number of row groups whose filter
		// columns are read first.
		groups int64
		pages  bool
		late   int64
	}{
		{"k range", iceberg.NewAnd(iceberg.GreaterThanEqual(k, int64(2100)), iceberg.LessThan(k, int64(2200))), nil, 100, 1, true, 1},
		{"k in", iceberg.IsIn(k, int64(10), int64(4500), int64(4501)), []string{"k", "p"}, 3, 2, true, 2},
		{"k or", iceberg.NewOr(iceberg.LessThan(k, int64(50)), iceberg.GreaterThan(k, int64(7950))), []string{"p"}, 99, 2, true, 2},
		{"s range", iceberg.NewAnd(iceberg.GreaterThanEqual(iceberg.Reference("s"), "s0610"), iceberg.LessThan(iceberg.Reference("s"), "s0620")), []string{"k"}, 100, 1, true, 0},
		{"d equal", iceberg.EqualTo(iceberg.Reference("d"), iceberg.Date(pageDay0+7)), []string{"p"}, 40, 1, true, 1},
		// s takes more bytes than k: it is not read first.
		// n is NULL in rows [300, 600), [1200, 1500), ...: whole pages.
		// Reading n first does not pay (most rows the pages leave match):
		// it stops after two row groups.
		{"n null", iceberg.IsNull(iceberg.Reference("n")), []string{"k", "p"}, 2700, 4, true, 2},
		// x is not sorted: no page of x can be skipped, but the other
		// columns' pages without a match are not read.
		{"x equal", iceberg.EqualTo(iceberg.Reference("x"), pageX(1234)), []string{"k", "p"}, 8, 4, true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ctx := newAlloc(t)
			p := plan(t, ctx, scan.Request{Table: tbl, Filter: tt.filter, Fields: tt.fields})
			before := catalog.Storage()
			r, err := p.Open(ctx, p.Part(0, 1))
			if err != nil {
				t.Fatal(err)
			}
			rows := drain(t, r, p.Schema())
			st := r.Stats()
			read := catalog.Storage().Bytes - before.Bytes

			off := plan(t, ctx, scan.Request{Table: tbl, Filter: tt.filter, Fields: tt.fields, BatchSize: 1000})
			scan.SetPageIndex(off, false)
			scan.SetLate(off, false)
			before = catalog.Storage()
			ro, err := off.Open(ctx, off.Part(0, 1))
			if err != nil {
				t.Fatal(err)
			}
			want := drain(t, ro, off.Schema())
			ost := ro.Stats()
			readOff := catalog.Storage().Bytes - before.Bytes
			t.Logf("with pages: %+v, %d bytes from storage; without: %+v, %d bytes", st, read, ost, readOff)

			if len(rows) != tt.rows || !reflect.DeepEqual(rows, want) {
				t.Errorf("%d rows, want %d, the same as without page pruning (%d)", len(rows), tt.rows, len(want))
			}
			if st.RowGroups != tt.groups {
				t.Errorf("%d row groups read, want %d", st.RowGroups, tt.groups)
			}
			if tt.pages && (st.Pages == 0 || st.PagesSkipped == 0 || st.PagesSkipped > st.Pages) {
				t.Errorf("figures %+v: want pages skipped", st)
			}
			if st.LateRowGroups != tt.late {
				t.Errorf("figures %+v: %d row groups read filter columns first, want %d", st, st.LateRowGroups, tt.late)
			}
			if st.RowsRead >= ost.RowsRead {
				t.Errorf("%d rows decoded, %d without page pruning: want fewer", st.RowsRead, ost.RowsRead)
			}
			if st.BytesRead >= ost.BytesRead || st.BytesRead+st.BytesSkipped < ost.BytesRead+ost.BytesSkipped {
				t.Errorf("bytes read %d and skipped %d, without page pruning %d and %d: want fewer read, as many in all",
					st.BytesRead, st.BytesSkipped, ost.BytesRead, ost.BytesSkipped)
			}
			if read >= readOff {
				t.Errorf("%d bytes read from storage, %d without page pruning: want fewer", read, readOff)
			}
		})
	}
}
