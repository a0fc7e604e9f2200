package changes_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"go.uber.org/goleak"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/changes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// history writes a keyed table through a history of commits of every kind
// and returns the catalog, the table's identifier and its snapshots.
type history struct {
	cat   *catalog.Catalog
	ident table.Identifier
	dir   string
}

var rowType = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func rowsTable(t *testing.T, ids []int64, vals []string) arrow.Table {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, rowType)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(ids, nil)
	for _, v := range vals {
		if v == "<null>" {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(v)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(rowType, []arrow.RecordBatch{rec})
}

// recordsOf is rows of (id, v) as a batch sequence.
func recordsOf(t *testing.T, ids []int64, vals []string) func(func(arrow.RecordBatch, error) bool) {
	tbl := rowsTable(t, ids, vals)
	return func(yield func(arrow.RecordBatch, error) bool) {
		defer tbl.Release()
		tr := array.NewTableReader(tbl, -1)
		defer tr.Release()
		for tr.Next() {
			rec := tr.RecordBatch()
			rec.Retain()
			if !yield(rec, nil) {
				return
			}
		}
	}
}

func newHistory(t *testing.T) *history {
	return newHistoryVersion(t, "2")
}

func newHistoryVersion(t *testing.T, formatVersion string) *history {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if err := cat.Iceberg().CreateNamespace(ctx, table.Identifier{"ns"}, nil); err != nil {
		t.Fatal(err)
	}
	schema := iceberg.NewSchemaWithIdentifiers(0, []int{1},
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "v", Type: iceberg.PrimitiveTypes.String},
	)
	ident := table.Identifier{"ns", "keyed"}
	if _, err := cat.Iceberg().CreateTable(ctx, ident, schema, icecat.WithProperties(iceberg.Properties{"format-version": formatVersion})); err != nil {
		t.Fatal(err)
	}
	return &history{cat: cat, ident: ident, dir: dir}
}

func (h *history) load(t *testing.T) *table.Table {
	t.Helper()
	tbl, err := h.cat.LoadTable(context.Background(), h.ident)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func (h *history) commit(t *testing.T, what string, fn func(tx *table.Transaction) error) {
	t.Helper()
	tx := h.load(t).NewTransaction()
	if err := fn(tx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if _, err := tx.Commit(context.Background()); err != nil {
		t.Fatalf("%s: commit: %v", what, err)
	}
}

// compact commits every live row rewritten into one new file, unless a
// data file has delete files (a rewrite would have to apply them).
func (h *history) compact(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	h.commit(t, "compact", func(tx *table.Transaction) error {
		cur := h.load(t)
		tasks, err := cur.Scan().PlanFiles(ctx)
		if err != nil {
			return err
		}
		var data []string
		for _, task := range tasks {
			if len(task.DeleteFiles)+len(task.EqualityDeleteFiles)+len(task.DeletionVectorFiles) > 0 {
				return nil
			}
			data = append(data, task.File.FilePath())
		}
		all, err := cur.Scan().ToArrowTable(ctx)
		if err != nil {
			return err
		}
		defer all.Release()
		return tx.ReplaceDataFiles(ctx, data, []string{h.writeParquet(t, name, all)}, nil)
	})
}

// state reads the table at a snapshot as id -> rendered row.
func state(t *testing.T, tbl *table.Table, snap int64) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	if snap == 0 {
		return out
	}
	at, err := tbl.Scan(table.WithSnapshotID(snap)).ToArrowTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	tr := array.NewTableReader(at, -1)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			id, row := render(rec, i)
			if _, dup := out[id]; dup {
				t.Fatalf("snapshot %d holds id %d twice", snap, id)
			}
			out[id] = row
		}
	}
	return out
}

// render is a row's id and its id and v values (the columns every schema
// of the history has).
func render(rec arrow.RecordBatch, i int) (int64, string) {
	sc := rec.Schema()
	id := rec.Column(sc.FieldIndices("id")[0]).(*array.Int64).Value(i)
	v := rec.Column(sc.FieldIndices("v")[0])
	val := "NULL"
	if !v.IsNull(i) {
		val = v.ValueStr(i)
	}
	extra := ""
	if idx := sc.FieldIndices("extra"); len(idx) == 1 && !rec.Column(idx[0]).IsNull(i) {
		extra = "|" + rec.Column(idx[0]).ValueStr(i)
	}
	return id, fmt.Sprintf("%d|%s%s", id, val, extra)
}

type change struct {
	kind    string
	id      int64
	row     string
	snap    int64
	ordinal int64
}

func readChanges(t *testing.T, ctx context.Context, tbl *table.Table, from, to int64) []change {
	t.Helper()
	return readChangesNet(t, ctx, tbl, from, to, false)
}

func readChangesNet(t *testing.T, ctx context.Context, tbl *table.Table, from, to int64, net bool) []change {
	t.Helper()
	sc, seq, err := changes.Read(ctx, changes.Request{Table: tbl, From: from, To: to, Net: net})
	if err != nil {
		t.Fatalf("changes (%d, %d]: %v", from, to, err)
	}
	n := sc.NumFields()
	if sc.Field(n-4).Name != changes.ChangeTypeColumn || sc.Field(n-1).Name != changes.ChangeOrdinalColumn {
		t.Fatalf("schema %s", sc)
	}
	var out []change
	for rec, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		for i := range int(rec.NumRows()) {
			id, row := render(rec, i)
			out = append(out, change{
				kind: rec.Column(n - 4).ValueStr(i), id: id, row: row,
				snap:    rec.Column(n - 3).(*array.Int64).Value(i),
				ordinal: rec.Column(n - 1).(*array.Int64).Value(i),
			})
		}
		rec.Release()
	}
	return out
}

// writeParquet writes tbl as one Parquet file under the table's folder and
// returns its path.
func (h *history) writeParquet(t *testing.T, name string, tbl arrow.Table) string {
	t.Helper()
	path := filepath.Join(h.dir, "wh", "ns", "keyed", "data", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pqarrow.WriteTable(tbl, f, 1024, nil, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return "file://" + path
}

func TestChangesOfEveryKindOfCommit(t *testing.T) {
	// Writes use the default allocator; reading the changes a checked one.
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rctx := compute.WithAllocator(ctx, mem)
	h := newHistory(t)
	ids := func(from, to int64) ([]int64, []string) {
		var is []int64
		var vs []string
		for i := from; i <= to; i++ {
			is = append(is, i)
			vs = append(vs, fmt.Sprintf("v%d", i))
		}
		return is, vs
	}
	// 1, 2: appends.
	h.commit(t, "append 1..10", func(tx *table.Transaction) error {
		i, v := ids(1, 10)
		return tx.AppendTable(ctx, rowsTable(t, i, v), 100, nil)
	})
	h.commit(t, "append 11..15", func(tx *table.Transaction) error {
		i, v := ids(11, 15)
		return tx.AppendTable(ctx, rowsTable(t, i, v), 100, nil)
	})
	// 3: copy-on-write delete of 3 and 12 (files rewritten).
	h.commit(t, "delete 3, 12", func(tx *table.Transaction) error {
		return tx.Delete(ctx, iceberg.IsIn(iceberg.Reference("id"), int64(3), int64(12)), nil)
	})
	// 4: copy-on-write overwrite of id 5: an update.
	h.commit(t, "update 5", func(tx *table.Transaction) error {
		return tx.OverwriteTable(ctx, rowsTable(t, []int64{5}, []string{"five"}), 100, nil,
			table.WithOverwriteFilter(iceberg.EqualTo(iceberg.Reference("id"), int64(5))))
	})
	// 5: compaction: every live row into one new file (replace).
	h.compact(t, "compacted.parquet")
	// 6: merge-on-read delete of 7 (a position delete file).
	h.commit(t, "merge-on-read mode", func(tx *table.Transaction) error {
		return tx.SetProperties(iceberg.Properties{table.WriteDeleteModeKey: table.WriteModeMergeOnRead})
	})
	h.commit(t, "delete 7 by position", func(tx *table.Transaction) error {
		return tx.Delete(ctx, iceberg.EqualTo(iceberg.Reference("id"), int64(7)), nil)
	})
	// 7, 8: an upsert the way Flink writes one: equality deletes of the
	// keys, then the new rows.
	h.commit(t, "equality delete 8, 9", func(tx *table.Transaction) error {
		return tx.CommitEqualityDeletes(ctx, []int{1}, recordsOf(t, []int64{8, 9}, []string{"<null>", "<null>"}), nil)
	})
	h.commit(t, "append 8", func(tx *table.Transaction) error {
		return tx.AppendTable(ctx, rowsTable(t, []int64{8}, []string{"eight"}), 100, nil)
	})
	// 9: schema evolution, then an append with the new column.
	h.commit(t, "add column extra", func(tx *table.Transaction) error {
		return tx.UpdateSchema(true, false).AddColumn([]string{"extra"}, iceberg.PrimitiveTypes.Int32, "", false, nil).Commit()
	})
	h.commit(t, "append 16 with extra", func(tx *table.Transaction) error {
		sc := arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "extra", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).Append(16)
		b.Field(1).(*array.StringBuilder).Append("v16")
		b.Field(2).(*array.Int32Builder).Append(42)
		rec := b.NewRecordBatch()
		defer rec.Release()
		return tx.AppendTable(ctx, array.NewTableFromRecords(sc, []arrow.RecordBatch{rec}), 100, nil)
	})

	tbl := h.load(t)
	var snaps []int64
	for _, s := range tbl.Metadata().Snapshots() {
		snaps = append(snaps, s.SnapshotID)
	}
	snapOp := map[int64]string{}
	for _, s := range tbl.Metadata().Snapshots() {
		snapOp[s.SnapshotID] = string(s.Summary.Operation)
	}

	// What each commit changed, exactly.
	want := [][]string{
		{"insert 1|v1", "insert 2|v2", "insert 3|v3", "insert 4|v4", "insert 5|v5", "insert 6|v6", "insert 7|v7", "insert 8|v8", "insert 9|v9", "insert 10|v10"},
		{"insert 11|v11", "insert 12|v12", "insert 13|v13", "insert 14|v14", "insert 15|v15"},
		{"delete 3|v3", "delete 12|v12"},
		{"update_before 5|v5", "update_after 5|five"},
		nil, // compaction
		{"delete 7|v7"},
		{"delete 8|v8", "delete 9|v9"},
		{"insert 8|eight"},
		{"insert 16|v16|42"},
	}
	if len(want) != len(snaps) {
		t.Fatalf("%d snapshots, operations %v", len(snaps), snapOp)
	}
	prev := int64(0)
	for i, s := range snaps {
		var got []string
		for _, c := range readChanges(t, rctx, tbl, prev, s) {
			if c.snap != s || c.ordinal != 0 {
				t.Errorf("snapshot %d: change %+v tagged with snapshot %d, ordinal %d", s, c, c.snap, c.ordinal)
			}
			got = append(got, c.kind+" "+c.row)
		}
		slices.Sort(got)
		w := slices.Clone(want[i])
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("commit %d (%s): changes\n  %v\nwant\n  %v", i+1, snapOp[s], got, w)
		}
		prev = s
	}

	// For every pair a < b: the table at a with the changes of (a, b]
	// applied by key is the table at b.
	all := append([]int64{0}, snaps...)
	for ai, a := range all {
		for _, b := range all[ai+1:] {
			st := state(t, tbl, a)
			lastOrdinal := int64(-1)
			for _, c := range readChanges(t, rctx, tbl, a, b) {
				if c.ordinal < lastOrdinal {
					t.Fatalf("(%d, %d]: ordinals out of order", a, b)
				}
				lastOrdinal = c.ordinal
				switch c.kind {
				case changes.Delete, changes.UpdateBefore:
					if st[c.id] != c.row {
						t.Errorf("(%d, %d]: %s of %q, the table held %q", a, b, c.kind, c.row, st[c.id])
					}
					delete(st, c.id)
				case changes.Insert, changes.UpdateAfter:
					if _, ok := st[c.id]; ok {
						t.Errorf("(%d, %d]: %s of %q over existing %q", a, b, c.kind, c.row, st[c.id])
					}
					st[c.id] = c.row
				default:
					t.Fatalf("change type %q", c.kind)
				}
			}
			if got, want := renderState(st), renderState(state(t, tbl, b)); got != want {
				t.Errorf("(%d, %d]: applying the changes gives\n  %s\nthe table at %d is\n  %s", a, b, got, b, want)
			}
		}
	}
}

func renderState(st map[int64]string) string {
	var rows []string
	for _, r := range st {
		rows = append(rows, r)
	}
	slices.Sort(rows)
	return strings.Join(rows, " ")
}

// TestDeletionVectors reads the changes of merge-on-read deletes of a v3
// table, which writes deletion vectors; a second delete in the same file
// replaces its vector with one holding both positions.
func TestDeletionVectors(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rctx := compute.WithAllocator(ctx, mem)
	h := newHistoryVersion(t, "3")
	h.commit(t, "append", func(tx *table.Transaction) error {
		return tx.AppendTable(ctx, rowsTable(t, []int64{1, 2, 3, 4, 5}, []string{"a", "b", "c", "d", "e"}), 100, nil)
	})
	h.commit(t, "merge-on-read", func(tx *table.Transaction) error {
		return tx.SetProperties(iceberg.Properties{table.WriteDeleteModeKey: table.WriteModeMergeOnRead})
	})
	for _, id := range []int64{2, 4} {
		h.commit(t, "delete", func(tx *table.Transaction) error {
			return tx.Delete(ctx, iceberg.EqualTo(iceberg.Reference("id"), id), nil)
		})
	}
	tbl := h.load(t)
	snaps := tbl.Metadata().Snapshots()
	if len(snaps) != 3 {
		t.Fatalf("%d snapshots", len(snaps))
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || len(tasks[0].DeletionVectorFiles) != 1 {
		t.Fatalf("want one data file with a deletion vector, got %d tasks (%+v)", len(tasks), tasks)
	}
	for i, want := range []string{"delete 2|b", "delete 4|d"} {
		var got []string
		for _, c := range readChanges(t, rctx, tbl, snaps[i].SnapshotID, snaps[i+1].SnapshotID) {
			got = append(got, c.kind+" "+c.row)
		}
		if !slices.Equal(got, []string{want}) {
			t.Errorf("delete %d: changes %v, want [%s]", i+1, got, want)
		}
	}
}

func TestRangeErrors(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	for i := range 2 {
		h.commit(t, "append", func(tx *table.Transaction) error {
			return tx.AppendTable(ctx, rowsTable(t, []int64{int64(i)}, []string{"x"}), 10, nil)
		})
	}
	tbl := h.load(t)
	s := tbl.Metadata().Snapshots()
	first, second := s[0].SnapshotID, s[1].SnapshotID
	_, _, err := changes.Read(ctx, changes.Request{Table: tbl, From: second, To: first})
	if !errors.Is(err, changes.ErrInvalidRange) || !strings.Contains(err.Error(), fmt.Sprint(second)) {
		t.Errorf("start after end: %v", err)
	}
	_, _, err = changes.Read(ctx, changes.Request{Table: tbl, From: 42, To: second})
	if !errors.Is(err, changes.ErrNoSuchSnapshot) || !strings.Contains(err.Error(), "42") {
		t.Errorf("unknown start: %v", err)
	}
	_, _, err = changes.Read(ctx, changes.Request{Table: tbl, To: 43})
	if !errors.Is(err, changes.ErrNoSuchSnapshot) || !strings.Contains(err.Error(), "43") {
		t.Errorf("unknown end: %v", err)
	}
}

// TestChangesFromManifestsAlone checks that snapshots of a table without
// delete files are read from the manifests they wrote, without planning the
// table (so the cost follows the files a snapshot touched, not the table's
// size), and that a table with delete files falls back to comparing plans.
func TestChangesFromManifestsAlone(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	for i := range 5 {
		h.commit(t, "append", func(tx *table.Transaction) error {
			return tx.AppendTable(ctx, rowsTable(t, []int64{int64(10 * i), int64(10*i + 1)}, []string{"a", "b"}), 100, nil)
		})
	}
	h.commit(t, "delete", func(tx *table.Transaction) error {
		return tx.Delete(ctx, iceberg.EqualTo(iceberg.Reference("id"), int64(20)), nil)
	})
	tbl := h.load(t)
	snaps := tbl.Metadata().Snapshots()
	changes.ForgetPlans()
	got := readChanges(t, ctx, tbl, snaps[3].SnapshotID, snaps[5].SnapshotID)
	if len(got) != 3 || changes.PlannedSnapshots() != 0 {
		t.Errorf("changes %+v, %d snapshots planned; want 3 changes and none planned", got, changes.PlannedSnapshots())
	}
	h.commit(t, "merge-on-read", func(tx *table.Transaction) error {
		return tx.SetProperties(iceberg.Properties{table.WriteDeleteModeKey: table.WriteModeMergeOnRead})
	})
	h.commit(t, "delete by position", func(tx *table.Transaction) error {
		return tx.Delete(ctx, iceberg.EqualTo(iceberg.Reference("id"), int64(31)), nil)
	})
	tbl = h.load(t)
	last := tbl.CurrentSnapshot()
	got = readChanges(t, ctx, tbl, *last.ParentSnapshotID, last.SnapshotID)
	if len(got) != 1 || got[0].kind != changes.Delete || got[0].id != 31 || changes.PlannedSnapshots() == 0 {
		t.Errorf("changes %+v, %d snapshots planned; want the delete of 31 from compared plans", got, changes.PlannedSnapshots())
	}
}

// TestCompactionIsNoChange commits a compaction: data files swapped for one
// holding the same rows. It changes no row. (iceberg-go commits it as an
// overwrite, so the rows cancel out; a replace snapshot, as Spark's
// rewrite_data_files commits, is skipped without reading.)
func TestCompactionIsNoChange(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	for _, ids := range [][]int64{{1, 2}, {3, 4}} {
		h.commit(t, "append", func(tx *table.Transaction) error {
			return tx.AppendTable(ctx, rowsTable(t, ids, []string{"x", "y"}), 100, nil)
		})
	}
	// The compacted file is written through a staging table with the same
	// schema, whose data file the replace then adds.
	ident := table.Identifier{"ns", "staging"}
	staged, err := h.cat.Iceberg().CreateTable(ctx, ident, h.load(t).Schema())
	if err != nil {
		t.Fatal(err)
	}
	tx := staged.NewTransaction()
	if err := tx.AppendTable(ctx, rowsTable(t, []int64{1, 2, 3, 4}, []string{"x", "y", "x", "y"}), 100, nil); err != nil {
		t.Fatal(err)
	}
	if staged, err = tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	newTasks, err := staged.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldTasks, err := h.load(t).Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var olds, news []iceberg.DataFile
	for _, task := range oldTasks {
		olds = append(olds, task.File)
	}
	for _, task := range newTasks {
		news = append(news, task.File)
	}
	h.commit(t, "compact", func(tx *table.Transaction) error {
		return tx.ReplaceFiles(ctx, olds, news, nil, nil)
	})
	tbl := h.load(t)
	last := tbl.CurrentSnapshot()
	if op := last.Summary.Operation; op != table.OpReplace && op != table.OpOverwrite {
		t.Fatalf("compaction committed %q", op)
	}
	if got := readChanges(t, ctx, tbl, *last.ParentSnapshotID, last.SnapshotID); len(got) != 0 {
		t.Errorf("a compaction changed %v", got)
	}
	if got := renderState(state(t, tbl, last.SnapshotID)); got != "1|x 2|y 3|x 4|y" {
		t.Errorf("table after compaction: %s", got)
	}
}
