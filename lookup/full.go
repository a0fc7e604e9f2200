// Package lookup serves keyed lookups from dimension tables: Iceberg
// tables whose identifier fields are their key.
//
// A FULL index holds the whole table in Arrow batches with a hash index of
// its keys. It is immutable: Refresh applies the changes of the snapshots
// committed since (package changes) into a small overlay on top of the
// same base, and returns the next version, so that a refresh costs what
// changed, not the table; readers keep the version they started with.
// When the overlay grows past a share of the base, the next refresh
// rebuilds the base from the current version.
package lookup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/changes"
)

// ErrNoKey means a table has no identifier fields to look rows up by.
var ErrNoKey = errors.New("table has no identifier fields")

// loc is a row of an index: batch and row.
type loc struct{ batch, row int32 }

// rows is a set of rows by key: Arrow batches and the location of each
// key's row. A nil location in an overlay is a deleted key. Versions of an
// index share a base: it is freed when the last one is released.
type rows struct {
	batches []arrow.RecordBatch
	keys    map[string]*loc
	refs    atomic.Int32
}

func newRows(n int) *rows {
	r := &rows{keys: make(map[string]*loc, n)}
	r.refs.Store(1)
	return r
}

func (r *rows) ref() { r.refs.Add(1) }

func (r *rows) unref() {
	if r.refs.Add(-1) == 0 {
		r.release()
	}
}

func (r *rows) size() int { return len(r.keys) }

// Index is a FULL lookup index of a table at one snapshot.
type Index struct {
	table    table.Identifier
	snapshot int64
	schema   *arrow.Schema // the table's columns
	keyCols  []int
	base     *rows
	overlay  *rows // keys changed since the base was built
}

// Key is the positions of the key columns in Schema.
func (ix *Index) Key() []int { return ix.keyCols }

// Mode is Full.
func (ix *Index) Mode() Mode { return Full }

// Bytes is the memory the index holds: its batches and key table.
func (ix *Index) Bytes() int64 { return ix.base.bytes() + ix.overlay.bytes() }

// bytes is the memory of the batches and an estimate of the key map.
func (r *rows) bytes() int64 {
	var n int64
	for _, b := range r.batches {
		n += recordBytes(b)
	}
	return n + int64(len(r.keys))*48
}

func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}

// Snapshot is the snapshot the index holds.
func (ix *Index) Snapshot() int64 { return ix.snapshot }

// Schema is the schema of the rows the index returns.
func (ix *Index) Schema() *arrow.Schema { return ix.schema }

// Len is the number of keys.
func (ix *Index) Len() int {
	n := ix.base.size()
	for k, l := range ix.overlay.keys {
		_, inBase := ix.base.keys[k]
		switch {
		case l == nil && inBase:
			n--
		case l != nil && !inBase:
			n++
		}
	}
	return n
}

// keyColumns finds the identifier fields of a table among its columns.
func keyColumns(tbl *table.Table, s *arrow.Schema) ([]int, error) {
	sch := tbl.Schema()
	if len(sch.IdentifierFieldIDs) == 0 {
		return nil, fmt.Errorf("%w: %s (a lookup needs a key: set identifier fields)", ErrNoKey, strings.Join(tbl.Identifier(), "."))
	}
	var out []int
	for _, id := range sch.IdentifierFieldIDs {
		f, ok := sch.FindFieldByID(id)
		if !ok {
			return nil, fmt.Errorf("%w: identifier field %d of %s", ErrNoKey, id, strings.Join(tbl.Identifier(), "."))
		}
		idx := s.FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%w: identifier field %s of %s is not a top-level column", ErrNoKey, f.Name, strings.Join(tbl.Identifier(), "."))
		}
		out = append(out, idx[0])
	}
	return out, nil
}

// Load builds an index of tbl at its current snapshot.
func Load(ctx context.Context, tbl *table.Table) (*Index, error) {
	return loadWithin(ctx, tbl, 0)
}

// loadWithin builds an index of tbl at its current snapshot, failing with
// ErrMemory once it holds more than limit bytes (0 for no limit).
func loadWithin(ctx context.Context, tbl *table.Table, limit int64) (*Index, error) {
	schema, err := catalog.ArrowSchema(tbl.Schema())
	if err != nil {
		return nil, err
	}
	keys, err := keyColumns(tbl, schema)
	if err != nil {
		return nil, err
	}
	ix := &Index{table: tbl.Identifier(), schema: schema, keyCols: keys, base: newRows(0), overlay: newRows(0)}
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return ix, nil
	}
	ix.snapshot = cur.SnapshotID
	scan := tbl.Scan(table.WithSnapshotID(cur.SnapshotID))
	_, seq, err := scan.ToArrowRecords(ctx)
	if err != nil {
		return nil, err
	}
	for rec, err := range seq {
		if err != nil {
			ix.Release()
			return nil, err
		}
		ix.base.add(conform(rec, schema), keys)
		rec.Release()
		if limit > 0 && ix.Bytes() > limit {
			ix.Release()
			return nil, fmt.Errorf("%w: more than %s", ErrMemory, formatBytes(limit))
		}
	}
	return ix, nil
}

// add keeps the rows of rec (owned by r from now on) under their keys.
func (r *rows) add(rec arrow.RecordBatch, keyCols []int) {
	b := int32(len(r.batches))
	r.batches = append(r.batches, rec)
	for i := range int(rec.NumRows()) {
		r.keys[encodeKey(rec, i, keyCols)] = &loc{batch: b, row: int32(i)}
	}
}

// Release lets go of this version; the memory it shares with other
// versions is freed with the last of them.
func (ix *Index) Release() {
	ix.base.unref()
	ix.overlay.unref()
}

// Refresh returns the index at tbl's current snapshot: this version's base
// with the changes since applied to a copy of its overlay. When the overlay
// would hold more than a tenth of the base's keys, the base is rebuilt from
// the index instead. The receiver stays valid and unchanged.
func (ix *Index) Refresh(ctx context.Context, tbl *table.Table) (*Index, error) {
	cur := tbl.CurrentSnapshot()
	if cur == nil || cur.SnapshotID == ix.snapshot {
		return ix, nil
	}
	_, seq, err := changes.Read(ctx, changes.Request{Table: tbl, From: ix.snapshot, To: cur.SnapshotID})
	if err != nil {
		return nil, err
	}
	overlay := newRows(len(ix.overlay.keys))
	overlay.batches = retainAll(ix.overlay.batches)
	ix.base.ref()
	next := &Index{table: ix.table, snapshot: cur.SnapshotID, schema: ix.schema, keyCols: ix.keyCols, base: ix.base, overlay: overlay}
	for k, l := range ix.overlay.keys {
		next.overlay.keys[k] = l
	}
	width := ix.schema.NumFields()
	for rec, err := range seq {
		if err != nil {
			next.Release()
			return nil, err
		}
		kinds := rec.Column(width).(*array.String)
		cols := make([]arrow.Array, width)
		copy(cols, rec.Columns()[:width])
		rows := array.NewRecordBatch(ix.schema, cols, rec.NumRows())
		b := int32(len(next.overlay.batches))
		next.overlay.batches = append(next.overlay.batches, rows)
		for i := range int(rec.NumRows()) {
			k := encodeKey(rows, i, ix.keyCols)
			switch kinds.Value(i) {
			case changes.Delete, changes.UpdateBefore:
				next.overlay.keys[k] = nil
			default:
				next.overlay.keys[k] = &loc{batch: b, row: int32(i)}
			}
		}
		rec.Release()
	}
	if len(next.overlay.keys)*10 > max(ix.base.size(), 1000) {
		return next.compact(ctx)
	}
	return next, nil
}

func retainAll(bs []arrow.RecordBatch) []arrow.RecordBatch {
	out := make([]arrow.RecordBatch, len(bs))
	for i, b := range bs {
		b.Retain()
		out[i] = b
	}
	return out
}

func (r *rows) release() {
	for _, b := range r.batches {
		b.Release()
	}
	r.batches = nil
}

// compact builds a new base holding every live row of ix and releases ix
// (the old base stays for the versions that still use it).
func (ix *Index) compact(ctx context.Context) (*Index, error) {
	defer ix.Release()
	var picks []pick
	for k, l := range ix.base.keys {
		if _, changed := ix.overlay.keys[k]; !changed {
			picks = append(picks, pick{from: ix.base, at: l})
		}
	}
	for _, l := range ix.overlay.keys {
		if l != nil {
			picks = append(picks, pick{from: ix.overlay, at: l})
		}
	}
	base := newRows(len(picks))
	if len(picks) > 0 {
		rec, err := ix.gather(ctx, picks, nil)
		if err != nil {
			base.unref()
			return nil, err
		}
		base.add(rec, ix.keyCols)
	}
	return &Index{table: ix.table, snapshot: ix.snapshot, schema: ix.schema, keyCols: ix.keyCols, base: base, overlay: newRows(0)}, nil
}

// pick is one row to gather: where it is, or none for a NULL row.
type pick struct {
	from *rows
	at   *loc
}

// gather builds a batch of the picked rows, in order: the rows of each
// source batch are taken at once, then put in place, NULL rows where
// nothing was picked.
func (ix *Index) gather(ctx context.Context, picks []pick, which []int) (arrow.RecordBatch, error) {
	mem := compute.GetAllocator(ctx)
	type group struct {
		rec  arrow.RecordBatch
		rows []int64
	}
	var groups []*group
	groupOf := map[arrow.RecordBatch]int{}
	pb := array.NewInt64Builder(mem)
	defer pb.Release()
	type place struct{ g, i int }
	places := make([]place, len(picks))
	for i, p := range picks {
		if p.at == nil {
			places[i] = place{-1, 0}
			continue
		}
		rec := p.from.batches[p.at.batch]
		g, ok := groupOf[rec]
		if !ok {
			g = len(groups)
			groupOf[rec] = g
			groups = append(groups, &group{rec: rec})
		}
		places[i] = place{g, len(groups[g].rows)}
		groups[g].rows = append(groups[g].rows, int64(p.at.row))
	}
	offsets := make([]int64, len(groups)+1)
	for i, g := range groups {
		offsets[i+1] = offsets[i] + int64(len(g.rows))
	}
	for _, pl := range places {
		if pl.g < 0 {
			pb.AppendNull()
		} else {
			pb.Append(offsets[pl.g] + int64(pl.i))
		}
	}
	perm := pb.NewArray()
	defer perm.Release()
	idx := make([]arrow.Array, len(groups))
	for i, g := range groups {
		b := array.NewInt64Builder(mem)
		b.AppendValues(g.rows, nil)
		idx[i] = b.NewArray()
		b.Release()
	}
	defer func() {
		for _, a := range idx {
			a.Release()
		}
	}()
	if which == nil {
		which = make([]int, ix.schema.NumFields())
		for i := range which {
			which[i] = i
		}
	}
	fields := make([]arrow.Field, len(which))
	for i, c := range which {
		fields[i] = ix.schema.Field(c)
	}
	cols := make([]arrow.Array, len(which))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for at, c := range which {
		f := ix.schema.Field(c)
		if len(groups) == 0 {
			cols[at] = array.MakeArrayOfNull(mem, f.Type, len(picks))
			continue
		}
		if col := copyRows(mem, f.Type, c, picks); col != nil {
			cols[at] = col
			continue
		}
		pieces := make([]arrow.Array, 0, len(groups))
		for i, g := range groups {
			t, err := compute.TakeArray(ctx, g.rec.Column(c), idx[i])
			if err != nil {
				for _, p := range pieces {
					p.Release()
				}
				return nil, err
			}
			pieces = append(pieces, t)
		}
		all := pieces[0]
		if len(pieces) > 1 {
			var err error
			all, err = array.Concatenate(pieces, mem)
			for _, p := range pieces {
				p.Release()
			}
			if err != nil {
				return nil, err
			}
		}
		out, err := compute.TakeArray(ctx, all, perm)
		all.Release()
		if err != nil {
			return nil, err
		}
		cols[at] = out
	}
	schema := ix.schema
	if len(which) != ix.schema.NumFields() {
		schema = arrow.NewSchema(fields, nil)
	}
	return array.NewRecordBatch(schema, cols, int64(len(picks))), nil
}

// Lookup finds the rows of keys (one array per key column, in key order)
// and returns their columns cols (nil for all) in the keys' order, a NULL
// row for a key not in the table (left-join semantics). A NULL key
// matches nothing.
func (ix *Index) Lookup(ctx context.Context, keys []arrow.Array, cols []int) (arrow.RecordBatch, error) {
	if len(keys) != len(ix.keyCols) {
		return nil, fmt.Errorf("lookup in %s: %d key columns given, the key has %d", strings.Join(ix.table, "."), len(keys), len(ix.keyCols))
	}
	n := 0
	if len(keys) > 0 {
		n = keys[0].Len()
	}
	probe := make([]arrow.Array, len(keys))
	copy(probe, keys)
	probeRec := array.NewRecordBatch(arrow.NewSchema(keyFields(keys), nil), probe, int64(n))
	defer probeRec.Release()
	all := make([]int, len(keys))
	for i := range all {
		all[i] = i
	}
	picks := make([]pick, n)
	var buf [8]byte
	for i := range n {
		if anyNull(probeRec, i) {
			continue
		}
		if len(keys) == 1 {
			if v, ok := intValue(keys[0], i); ok {
				// The map index converts without allocating.
				binary.LittleEndian.PutUint64(buf[:], uint64(v))
				if ol, ok := ix.overlay.keys[string(buf[:])]; ok {
					picks[i] = pick{from: ix.overlay, at: ol}
				} else if bl, ok := ix.base.keys[string(buf[:])]; ok {
					picks[i] = pick{from: ix.base, at: bl}
				}
				continue
			}
		}
		k := encodeKey(probeRec, i, all)
		if ol, ok := ix.overlay.keys[k]; ok {
			picks[i] = pick{from: ix.overlay, at: ol}
		} else if bl, ok := ix.base.keys[k]; ok {
			picks[i] = pick{from: ix.base, at: bl}
		}
	}
	return ix.gather(ctx, picks, cols)
}

func keyFields(keys []arrow.Array) []arrow.Field {
	out := make([]arrow.Field, len(keys))
	for i, k := range keys {
		out[i] = arrow.Field{Name: fmt.Sprintf("k%d", i), Type: k.DataType(), Nullable: true}
	}
	return out
}

func anyNull(rec arrow.RecordBatch, i int) bool {
	for _, c := range rec.Columns() {
		if c.IsNull(i) {
			return true
		}
	}
	return false
}

// encodeKey renders the key columns of row i so that equal keys encode
// alike (and values of different columns cannot run together).
func encodeKey(rec arrow.RecordBatch, i int, cols []int) string {
	if len(cols) == 1 {
		if v, ok := intValue(rec.Column(cols[0]), i); ok {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			return string(b[:])
		}
	}
	var sb strings.Builder
	for _, c := range cols {
		s := rec.Column(c).ValueStr(i)
		fmt.Fprintf(&sb, "%d:%s", len(s), s)
	}
	return sb.String()
}

// intValue reads an integer key of any width (so that an int32 probe
// finds an int64 key).
func intValue(a arrow.Array, i int) (int64, bool) {
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i), true
	case *array.Int32:
		return int64(x.Value(i)), true
	case *array.Int16:
		return int64(x.Value(i)), true
	case *array.Int8:
		return int64(x.Value(i)), true
	case *array.Uint32:
		return int64(x.Value(i)), true
	case *array.Uint16:
		return int64(x.Value(i)), true
	case *array.Uint8:
		return int64(x.Value(i)), true
	}
	return 0, false
}

// conform views rec with the index's schema (same layout).
func conform(rec arrow.RecordBatch, schema *arrow.Schema) arrow.RecordBatch {
	cols := make([]arrow.Array, schema.NumFields())
	for i := range cols {
		cols[i] = rec.Column(i)
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows())
}

// copyRows gathers column c of the picks value by value for the common
// flat types (cheaper than Take's per-call setup on small batches); nil
// for other types.
func copyRows(mem memory.Allocator, t arrow.DataType, c int, picks []pick) arrow.Array {
	switch t.ID() {
	case arrow.INT64:
		return copyTyped(array.NewInt64Builder(mem), c, picks, func(a *array.Int64, i int) int64 { return a.Value(i) })
	case arrow.INT32:
		return copyTyped(array.NewInt32Builder(mem), c, picks, func(a *array.Int32, i int) int32 { return a.Value(i) })
	case arrow.FLOAT64:
		return copyTyped(array.NewFloat64Builder(mem), c, picks, func(a *array.Float64, i int) float64 { return a.Value(i) })
	case arrow.FLOAT32:
		return copyTyped(array.NewFloat32Builder(mem), c, picks, func(a *array.Float32, i int) float32 { return a.Value(i) })
	case arrow.BOOL:
		return copyTyped(array.NewBooleanBuilder(mem), c, picks, func(a *array.Boolean, i int) bool { return a.Value(i) })
	case arrow.STRING:
		return copyTyped(array.NewStringBuilder(mem), c, picks, func(a *array.String, i int) string { return a.Value(i) })
	case arrow.DATE32:
		return copyTyped(array.NewDate32Builder(mem), c, picks, func(a *array.Date32, i int) arrow.Date32 { return a.Value(i) })
	case arrow.TIMESTAMP:
		return copyTyped(array.NewTimestampBuilder(mem, t.(*arrow.TimestampType)), c, picks,
			func(a *array.Timestamp, i int) arrow.Timestamp { return a.Value(i) })
	}
	return nil
}

type appender[V any] interface {
	array.Builder
	Append(V)
}

func copyTyped[V any, A arrow.Array, B appender[V]](b B, c int, picks []pick, value func(A, int) V) arrow.Array {
	defer b.Release()
	b.Reserve(len(picks))
	for _, p := range picks {
		if p.at == nil {
			b.AppendNull()
			continue
		}
		src := p.from.batches[p.at.batch].Column(c)
		i := int(p.at.row)
		if src.IsNull(i) {
			b.AppendNull()
			continue
		}
		a, ok := src.(A)
		if !ok {
			// Another layout than the schema says: the caller takes the
			// general path.
			return nil
		}
		b.Append(value(a, i))
	}
	return b.NewArray()
}
