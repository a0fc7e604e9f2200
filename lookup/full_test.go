package lookup_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"go.uber.org/goleak"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var dimType = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

func dimRows(ids []int64, tag string) arrow.Table {
	b := array.NewRecordBuilder(memory.DefaultAllocator, dimType)
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("%s%d", tag, id))
		b.Field(2).(*array.Float64Builder).Append(float64(id) / 4)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(dimType, []arrow.RecordBatch{rec})
}

type dim struct {
	cat   *catalog.Catalog
	ident table.Identifier
}

func newDim(t *testing.T, keyed bool) *dim { return newDimTB(t, keyed) }

func newDimB(b *testing.B) *dim { return newDimTB(b, true) }

func (d *dim) commitB(b *testing.B, fn func(tx *table.Transaction) error) {
	b.Helper()
	tbl, err := d.cat.LoadTable(context.Background(), d.ident)
	if err != nil {
		b.Fatal(err)
	}
	tx := tbl.NewTransaction()
	if err := fn(tx); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Commit(context.Background()); err != nil {
		b.Fatal(err)
	}
}

func newDimTB(t testing.TB, keyed bool) *dim {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + filepath.Join(dir, "c.db"), Warehouse: "file://" + filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if err := cat.Iceberg().CreateNamespace(ctx, table.Identifier{"d"}, nil); err != nil {
		t.Fatal(err)
	}
	fields := []iceberg.NestedField{
		{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		{ID: 2, Name: "name", Type: iceberg.PrimitiveTypes.String},
		{ID: 3, Name: "score", Type: iceberg.PrimitiveTypes.Float64},
	}
	schema := iceberg.NewSchema(0, fields...)
	if keyed {
		schema = iceberg.NewSchemaWithIdentifiers(0, []int{1}, fields...)
	}
	ident := table.Identifier{"d", "shops"}
	if _, err := cat.Iceberg().CreateTable(ctx, ident, schema); err != nil {
		t.Fatal(err)
	}
	return &dim{cat: cat, ident: ident}
}

func (d *dim) load(t *testing.T) *table.Table {
	t.Helper()
	tbl, err := d.cat.LoadTable(context.Background(), d.ident)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func (d *dim) commit(t *testing.T, fn func(tx *table.Transaction) error) {
	t.Helper()
	tx := d.load(t).NewTransaction()
	if err := fn(tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func ids(vals ...any) arrow.Array {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for _, v := range vals {
		if v == nil {
			b.AppendNull()
		} else {
			b.Append(int64(v.(int)))
		}
	}
	return b.NewArray()
}

// names looks keys up and returns the name column, "-" for a miss.
func names(t *testing.T, ctx context.Context, ix lookup.Reader, keys ...any) []string {
	t.Helper()
	k := ids(keys...)
	defer k.Release()
	rec, err := ix.Lookup(ctx, []arrow.Array{k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != int64(len(keys)) {
		t.Fatalf("%d rows for %d keys", rec.NumRows(), len(keys))
	}
	var out []string
	col := rec.Column(1)
	for i := range len(keys) {
		if col.IsNull(i) {
			out = append(out, "-")
		} else {
			out = append(out, col.ValueStr(i))
		}
	}
	return out
}

func TestFullIndexLookupsAndRefresh(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := compute.WithAllocator(context.Background(), mem)
	wctx := context.Background()
	d := newDim(t, true)
	var all []int64
	for i := int64(1); i <= 1000; i++ {
		all = append(all, i)
	}
	d.commit(t, func(tx *table.Transaction) error { return tx.AppendTable(wctx, dimRows(all, "s"), 1000, nil) })
	v1, err := lookup.Load(ctx, d.load(t))
	if err != nil {
		t.Fatal(err)
	}
	if v1.Len() != 1000 {
		t.Fatalf("%d keys", v1.Len())
	}
	want := []string{"s5", "-", "-", "s999", "s1"}
	if got := names(t, ctx, v1, 5, 2000, nil, 999, 1); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lookups %v, want %v", got, want)
	}

	// An update, a delete and an insert; the refreshed version sees them,
	// the old one still answers from its snapshot.
	d.commit(t, func(tx *table.Transaction) error {
		return tx.OverwriteTable(wctx, dimRows([]int64{5}, "new"), 10, nil, table.WithOverwriteFilter(iceberg.EqualTo(iceberg.Reference("id"), int64(5))))
	})
	d.commit(t, func(tx *table.Transaction) error {
		return tx.Delete(wctx, iceberg.EqualTo(iceberg.Reference("id"), int64(999)), nil)
	})
	d.commit(t, func(tx *table.Transaction) error { return tx.AppendTable(wctx, dimRows([]int64{2000}, "s"), 10, nil) })
	tbl := d.load(t)
	v2, err := v1.Refresh(ctx, tbl)
	if err != nil {
		t.Fatal(err)
	}
	if v2.Snapshot() != tbl.CurrentSnapshot().SnapshotID || v2.Len() != 1000 {
		t.Errorf("refreshed to %d with %d keys", v2.Snapshot(), v2.Len())
	}
	if got := names(t, ctx, v2, 5, 2000, nil, 999, 1); fmt.Sprint(got) != fmt.Sprint([]string{"new5", "s2000", "-", "-", "s1"}) {
		t.Errorf("after refresh: %v", got)
	}
	if got := names(t, ctx, v1, 5, 2000, 999); fmt.Sprint(got) != fmt.Sprint([]string{"s5", "-", "s999"}) {
		t.Errorf("the old version changed: %v", got)
	}
	v1.Release()

	// Changes to more than a tenth of the keys rebuild the base.
	var many []int64
	for i := int64(1); i <= 300; i++ {
		many = append(many, i)
	}
	d.commit(t, func(tx *table.Transaction) error {
		return tx.Delete(wctx, iceberg.LessThanEqual(iceberg.Reference("id"), int64(300)), nil)
	})
	d.commit(t, func(tx *table.Transaction) error { return tx.AppendTable(wctx, dimRows(many, "again"), 1000, nil) })
	v3, err := v2.Refresh(ctx, d.load(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, ctx, v3, 5, 300, 301, 2000, 999); fmt.Sprint(got) != fmt.Sprint([]string{"again5", "again300", "s301", "s2000", "-"}) {
		t.Errorf("after a large change: %v", got)
	}
	if v3.Len() != 1000 {
		t.Errorf("%d keys after a large change", v3.Len())
	}
	if got := names(t, ctx, v2, 5, 300); fmt.Sprint(got) != fmt.Sprint([]string{"new5", "s300"}) {
		t.Errorf("version 2 changed: %v", got)
	}
	v2.Release()
	v3.Release()
}

func TestLoadNeedsAKey(t *testing.T) {
	d := newDim(t, false)
	d.commit(t, func(tx *table.Transaction) error {
		return tx.AppendTable(context.Background(), dimRows([]int64{1}, "s"), 10, nil)
	})
	_, err := lookup.Load(context.Background(), d.load(t))
	if !errors.Is(err, lookup.ErrNoKey) {
		t.Fatalf("err %v", err)
	}
}

// TestLookupColumnOrder: the columns come back in the order asked for,
// also when that is every column in another order.
func TestLookupColumnOrder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := compute.WithAllocator(context.Background(), mem)
	d := newDim(t, true)
	d.commit(t, func(tx *table.Transaction) error {
		return tx.AppendTable(context.Background(), dimRows([]int64{1, 2}, "s"), 10, nil)
	})
	ix, err := lookup.Load(ctx, d.load(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Release()
	k := ids(2)
	defer k.Release()
	for _, cols := range [][]int{{2, 0, 1}, {1}, {0, 1, 2}, {1, 1}} {
		rec, err := ix.Lookup(ctx, []arrow.Array{k}, cols)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := range int(rec.NumCols()) {
			got = append(got, rec.ColumnName(i)+"="+rec.Column(i).ValueStr(0))
		}
		var want []string
		vals := []string{"2", "s2", "0.5"}
		for _, c := range cols {
			want = append(want, dimType.Field(c).Name+"="+vals[c])
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("columns %v: got %v, want %v", cols, got, want)
		}
		rec.Release()
	}
}
