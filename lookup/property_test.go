package lookup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
)

// wideType is a dimension keyed by (code, part) with columns of the types
// gathered by each path: fixed width, strings, booleans, decimals, lists.
var wideType = arrow.NewSchema([]arrow.Field{
	{Name: "code", Type: arrow.BinaryTypes.String},
	{Name: "part", Type: arrow.PrimitiveTypes.Int32},
	{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "seen", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "tags", Type: arrow.ListOfField(arrow.Field{Name: "element", Type: arrow.PrimitiveTypes.Int32, Nullable: true}), Nullable: true},
}, nil)

// wideRow is the model's row: the version it was written at.
type wideRow struct{ version int }

func wideValues(code string, part int32, version int) string {
	return fmt.Sprintf("%s/%d@%d", code, part, version)
}

func wideBatch(keys [][2]any, version int) arrow.Table {
	b := array.NewRecordBuilder(memory.DefaultAllocator, wideType)
	defer b.Release()
	for _, k := range keys {
		code, part := k[0].(string), k[1].(int32)
		b.Field(0).(*array.StringBuilder).Append(code)
		b.Field(1).(*array.Int32Builder).Append(part)
		if version%3 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(wideValues(code, part, version))
		}
		b.Field(3).(*array.BooleanBuilder).Append(version%2 == 0)
		b.Field(4).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(version*100 + int(part))))
		b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(version))
		lb := b.Field(6).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{int32(version), part}, nil)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(wideType, []arrow.RecordBatch{rec})
}

// TestIndexMatchesModel commits random appends, replacements and deletes
// to a table with a two-column string and integer key, refreshes a FULL
// index after each commit, and checks every kind of column of lookups of
// live, deleted and unknown keys against a model, also through point
// reads.
func TestIndexMatchesModel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := compute.WithAllocator(context.Background(), mem)
	wctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.Open(wctx, catalog.Options{URI: "sqlite://" + filepath.Join(dir, "c.db"), Warehouse: "file://" + filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if err := cat.Iceberg().CreateNamespace(wctx, table.Identifier{"d"}, nil); err != nil {
		t.Fatal(err)
	}
	sch := iceberg.NewSchemaWithIdentifiers(0, []int{1, 2},
		iceberg.NestedField{ID: 1, Name: "code", Type: iceberg.PrimitiveTypes.String, Required: true},
		iceberg.NestedField{ID: 2, Name: "part", Type: iceberg.PrimitiveTypes.Int32, Required: true},
		iceberg.NestedField{ID: 3, Name: "label", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "flag", Type: iceberg.PrimitiveTypes.Bool},
		iceberg.NestedField{ID: 5, Name: "price", Type: iceberg.DecimalTypeOf(10, 2)},
		iceberg.NestedField{ID: 6, Name: "seen", Type: iceberg.PrimitiveTypes.Timestamp},
		iceberg.NestedField{ID: 7, Name: "tags", Type: &iceberg.ListType{ElementID: 8, Element: iceberg.PrimitiveTypes.Int32}},
	)
	ident := table.Identifier{"d", "wide"}
	if _, err := cat.Iceberg().CreateTable(wctx, ident, sch); err != nil {
		t.Fatal(err)
	}
	d := &dim{cat: cat, ident: ident}
	rnd := rand.New(rand.NewPCG(7, 11))
	model := map[[2]any]wideRow{}
	var codes []string
	for i := range 120 {
		codes = append(codes, fmt.Sprintf("c%03d-%x", i, rnd.Uint32()))
	}
	randomKeys := func(n int) [][2]any {
		seen := map[[2]any]bool{}
		var out [][2]any
		for len(out) < n {
			k := [2]any{codes[rnd.IntN(len(codes))], int32(rnd.IntN(3))}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		return out
	}
	// The manager's keepers follow the table by themselves.
	m := lookup.NewManager(lookup.Options{Catalog: cat, Default: lookup.TableConfig{Refresh: 5 * time.Millisecond, CacheBytes: 1 << 20}})
	defer m.Close()
	var ix *lookup.Index
	defer func() {
		if ix != nil {
			ix.Release()
		}
	}()
	for version := 1; version <= 24; version++ {
		switch {
		case version == 1 || rnd.IntN(3) == 0:
			// Append keys not live yet.
			var fresh [][2]any
			for _, k := range randomKeys(60) {
				if _, live := model[k]; !live {
					fresh = append(fresh, k)
				}
			}
			d.commit(t, func(tx *table.Transaction) error { return tx.AppendTable(wctx, wideBatch(fresh, version), 1000, nil) })
			for _, k := range fresh {
				model[k] = wideRow{version}
			}
		case version > 12:
			// Upsert some keys the way streaming writers do: one snapshot
			// with equality deletes of the keys and their new rows. (Only
			// from here on: iceberg-go's copy-on-write deletes rewrite a
			// file without applying its equality deletes, so later
			// rewrites would bring deleted rows back.)
			keys := randomKeys(2 + rnd.IntN(40))
			gone := keys[:len(keys)/3] // deleted, not written again
			d.upsert(t, keys, gone, version)
			for _, k := range gone {
				delete(model, k)
			}
			for _, k := range keys[len(gone):] {
				model[k] = wideRow{version}
			}
		case rnd.IntN(2) == 0:
			// Replace every row of some codes.
			pick := map[string]bool{}
			for range 1 + rnd.IntN(20) {
				pick[codes[rnd.IntN(len(codes))]] = true
			}
			var lits []string
			var keys [][2]any
			for c := range pick {
				lits = append(lits, c)
				for part := range int32(3) {
					keys = append(keys, [2]any{c, part})
				}
			}
			d.commit(t, func(tx *table.Transaction) error {
				return tx.OverwriteTable(wctx, wideBatch(keys, version), 1000, nil,
					table.WithOverwriteFilter(iceberg.IsIn(iceberg.Reference("code"), lits...)))
			})
			for k := range model {
				if pick[k[0].(string)] {
					delete(model, k)
				}
			}
			for _, k := range keys {
				model[k] = wideRow{version}
			}
		default:
			// Delete one part of some codes.
			part := int32(rnd.IntN(3))
			var lits []string
			for range 1 + rnd.IntN(15) {
				lits = append(lits, codes[rnd.IntN(len(codes))])
			}
			d.commit(t, func(tx *table.Transaction) error {
				return tx.Delete(wctx, iceberg.NewAnd(iceberg.IsIn(iceberg.Reference("code"), lits...),
					iceberg.EqualTo(iceberg.Reference("part"), part)), nil)
			})
			for _, c := range lits {
				delete(model, [2]any{c, part})
			}
		}
		tbl := d.load(t)
		if ix == nil {
			if ix, err = lookup.Load(ctx, tbl); err != nil {
				t.Fatal(err)
			}
		} else {
			next, err := ix.Refresh(ctx, tbl)
			if err != nil {
				t.Fatal(err)
			}
			ix.Release()
			ix = next
		}
		if ix.Len() != len(model) {
			t.Fatalf("version %d: index has %d keys, model %d", version, ix.Len(), len(model))
		}
		probe := randomKeys(200)
		probe = append(probe, [2]any{"never", int32(1)})
		pr, err := lookup.NewPointReader(tbl, 0)
		if err != nil {
			t.Fatal(err)
		}
		readers := []lookup.Reader{pr, ix}
		for _, mode := range []lookup.Mode{lookup.Full, lookup.Partial} {
			readers = append(readers, waitFor(t, ctx, m, ident, mode, tbl.CurrentSnapshot().SnapshotID))
		}
		for _, r := range readers {
			checkWide(t, ctx, r, probe, model, version)
		}
		for _, r := range readers[2:] {
			r.Release()
		}
	}
}

func checkWide(t *testing.T, ctx context.Context, r lookup.Reader, probe [][2]any, model map[[2]any]wideRow, version int) {
	t.Helper()
	mem := compute.GetAllocator(ctx)
	cb := array.NewStringBuilder(mem)
	pb := array.NewInt32Builder(mem)
	for _, k := range probe {
		cb.Append(k[0].(string))
		pb.Append(k[1].(int32))
	}
	cb.AppendNull()
	pb.Append(0)
	codes, parts := cb.NewArray(), pb.NewArray()
	cb.Release()
	pb.Release()
	defer codes.Release()
	defer parts.Release()
	rec, err := r.Lookup(ctx, []arrow.Array{codes, parts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	want := wideBatch(nil, 0)
	want.Release()
	for i, k := range probe {
		row, live := model[k]
		if !live {
			for c := range rec.NumCols() {
				if !rec.Column(int(c)).IsNull(i) {
					t.Fatalf("%v version %d: key %v is not live but column %d is %s", r.Mode(), version, k, c, rec.Column(int(c)).ValueStr(i))
				}
			}
			continue
		}
		got := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s", rec.Column(0).ValueStr(i), rec.Column(1).ValueStr(i), rec.Column(2).ValueStr(i),
			rec.Column(3).ValueStr(i), rec.Column(4).ValueStr(i), rec.Column(5).ValueStr(i), rec.Column(6).ValueStr(i))
		exp := wideBatch([][2]any{k}, row.version)
		tr := array.NewTableReader(exp, 1)
		tr.Next()
		er := tr.RecordBatch()
		expStr := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s", er.Column(0).ValueStr(0), er.Column(1).ValueStr(0), er.Column(2).ValueStr(0),
			er.Column(3).ValueStr(0), er.Column(4).ValueStr(0), er.Column(5).ValueStr(0), er.Column(6).ValueStr(0))
		tr.Release()
		exp.Release()
		if got != expStr {
			t.Fatalf("%v version %d: key %v got %s want %s", r.Mode(), version, k, got, expStr)
		}
	}
	if last := len(probe); !rec.Column(0).IsNull(last) {
		t.Fatalf("a NULL key matched")
	}
}

// upsert commits, in one snapshot, equality deletes of keys on (code,
// part) and rows at version for those of them not in gone (a prefix).
func (d *dim) upsert(t *testing.T, keys, gone [][2]any, version int) {
	t.Helper()
	ctx := context.Background()
	tbl := d.load(t)
	tx := tbl.NewTransaction()
	keySchema := arrow.NewSchema([]arrow.Field{wideType.Field(0), wideType.Field(1)}, nil)
	kb := array.NewRecordBuilder(memory.DefaultAllocator, keySchema)
	for _, k := range keys {
		kb.Field(0).(*array.StringBuilder).Append(k[0].(string))
		kb.Field(1).(*array.Int32Builder).Append(k[1].(int32))
	}
	krec := kb.NewRecordBatch()
	kb.Release()
	dels, err := tx.WriteEqualityDeletes(ctx, []int{1, 2}, func(yield func(arrow.RecordBatch, error) bool) { yield(krec, nil) })
	if err != nil {
		t.Fatal(err)
	}
	rows := wideBatch(keys[len(gone):], version)
	defer rows.Release()
	tr := array.NewTableReader(rows, -1)
	defer tr.Release()
	var adds []iceberg.DataFile
	for df, err := range table.WriteRecords(ctx, tbl, wideType, func(yield func(arrow.RecordBatch, error) bool) {
		for tr.Next() {
			rec := tr.RecordBatch()
			rec.Retain()
			if !yield(rec, nil) {
				return
			}
		}
	}) {
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, df)
	}
	rd := tx.NewRowDelta(nil)
	rd.AddRows(adds...)
	rd.AddDeletes(dels...)
	if err := rd.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitFor returns a reader of the table in mode once it answers from
// snapshot want.
func waitFor(t *testing.T, ctx context.Context, m *lookup.Manager, ident table.Identifier, mode lookup.Mode, want int64) lookup.Reader {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := m.Reader(ctx, ident, mode)
		if err != nil {
			t.Fatal(err)
		}
		if r.Snapshot() == want {
			return r
		}
		r.Release()
		if time.Now().After(deadline) {
			t.Fatalf("%v: still not at snapshot %d", mode, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
