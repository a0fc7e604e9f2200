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
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/changes"
	"github.com/lakeflight/lakeflight/scan"
)

// ErrNoKey means a table has no identifier fields to look rows up by.
var ErrNoKey = errors.New("table has no identifier fields")

// rows is a set of rows by key: Arrow batches and a key table of where
// each key's row is. In an overlay a key may be marked deleted (its row is
// the delete's). Versions of an index share a base: it is freed when the
// last one is released.
type rows struct {
	batches []arrow.RecordBatch
	// views are the buffers of each column of each batch ([column][batch]),
	// for gathering without going through the arrays.
	views   [][]colView
	arrow   int64 // bytes of the batches' buffers
	keys    *keyTable
	keyCols []int
	refs    atomic.Int32
}

func newRows(n int, ints bool, keyCols []int) *rows {
	r := &rows{keys: newKeyTable(ints, n), keyCols: keyCols}
	r.refs.Store(1)
	return r
}

// intKey tells whether a key of these columns is kept in the key table as
// an integer.
func intKey(schema *arrow.Schema, keyCols []int) bool {
	if len(keyCols) != 1 {
		return false
	}
	switch schema.Field(keyCols[0]).Type.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return true
	}
	return false
}

// get finds the row of the key in row i of probe (columns cols), found
// only if it is there and not deleted; present tells whether the key has
// a slot at all (a deleted key in an overlay is present).
func (r *rows) get(probe arrow.RecordBatch, i int, cols []int) (row uint64, present bool) {
	if r.keys.n == 0 {
		return 0, false
	}
	if r.keys.ints {
		v, _ := intValue(probe.Column(cols[0]), i)
		return r.keys.findInt(v)
	}
	return r.keys.find(hashRow(probe, i, cols), func(at uint64) bool {
		b, j, _ := unpackRow(at)
		return sameKey(r.batches[b], int(j), r.keyCols, probe, i, cols)
	})
}

// set points the key of row i of batch b at that row (or marks it
// deleted).
func (r *rows) set(b int32, i int, deleted bool) {
	rec := r.batches[b]
	at := packRow(b, int32(i), deleted)
	if r.keys.ints {
		v, _ := intValue(rec.Column(r.keyCols[0]), i)
		r.keys.put(uint64(v), at, nil)
		return
	}
	r.keys.put(hashRow(rec, i, r.keyCols), at, func(other uint64) bool {
		ob, oj, _ := unpackRow(other)
		return sameKey(r.batches[ob], int(oj), r.keyCols, rec, i, r.keyCols)
	})
}

// rowOf is the key's row (batch and row) of slot value at.
func (r *rows) keyRow(at uint64) (arrow.RecordBatch, int) {
	b, j, _ := unpackRow(at)
	return r.batches[b], int(j)
}

func (r *rows) ref() { r.refs.Add(1) }

func (r *rows) unref() {
	if r.refs.Add(-1) == 0 {
		r.release()
	}
}

func (r *rows) size() int { return r.keys.n }

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

// Sizes are the bytes of the Arrow columns the index holds and of its key
// tables.
func (ix *Index) Sizes() (arrowBytes, keyBytes int64) {
	keyBytes = ix.base.keys.bytes() + ix.overlay.keys.bytes()
	return ix.Bytes() - keyBytes, keyBytes
}

// bytes is the memory of the batches and an estimate of the key map.
func (r *rows) bytes() int64 {
	return r.arrow + r.keys.bytes()
}

// Snapshot is the snapshot the index holds.
func (ix *Index) Snapshot() int64 { return ix.snapshot }

// Schema is the schema of the rows the index returns.
func (ix *Index) Schema() *arrow.Schema { return ix.schema }

// Len is the number of keys.
func (ix *Index) Len() int {
	n := ix.base.size()
	ix.overlay.keys.all(func(_, at uint64) {
		rec, i := ix.overlay.keyRow(at)
		_, inBase := ix.base.get(rec, i, ix.keyCols)
		_, _, deleted := unpackRow(at)
		switch {
		case deleted && inBase:
			n--
		case !deleted && !inBase:
			n++
		}
	})
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
	ix := newIndex(tbl.Identifier(), 0, schema, keys)
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return ix, nil
	}
	ix.snapshot = cur.SnapshotID
	if cur.Summary != nil {
		if n, err := strconv.ParseInt(cur.Summary.Properties["total-records"], 10, 64); err == nil && n > 0 && n < 1<<31 {
			ix.base.keys = newKeyTable(ix.base.keys.ints, int(n))
		}
	}
	plan, err := scan.NewPlan(ctx, scan.Request{Table: tbl, SnapshotID: cur.SnapshotID})
	if err != nil {
		return nil, err
	}
	r, err := plan.Open(ctx, plan.Part(0, 1))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// Batches are copied into chunks of exactly sized buffers: a reader's
	// batches carry the slack of the builders that made them.
	mem := memory.Allocator(compute.GetAllocator(ctx))
	if mem == memory.DefaultAllocator {
		mem = huge
	}
	var group []arrow.RecordBatch
	var groupRows int64
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		chunk, err := concatBatches(mem, schema, group)
		for _, g := range group {
			g.Release()
		}
		group, groupRows = group[:0], 0
		if err != nil {
			return err
		}
		ix.base.add(chunk)
		if limit > 0 && ix.Bytes() > limit {
			return fmt.Errorf("%w: more than %s", ErrMemory, formatBytes(limit))
		}
		return nil
	}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			group = append(group, conform(rec, schema))
			groupRows += rec.NumRows()
			rec.Release()
			if groupRows >= chunkRows {
				err = flush()
			}
		}
		if err != nil {
			for _, g := range group {
				g.Release()
			}
			ix.Release()
			return nil, err
		}
	}
	if err := flush(); err != nil {
		ix.Release()
		return nil, err
	}
	return ix, nil
}

var huge = newHugeAllocator()

// chunkRows is the most rows an index batch is built of at load.
const chunkRows = 1 << 20

// concatBatches copies batches into one batch of exactly sized buffers.
func concatBatches(mem memory.Allocator, schema *arrow.Schema, batches []arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, schema.NumFields())
	var n int64
	for _, b := range batches {
		n += b.NumRows()
	}
	for c := range cols {
		parts := make([]arrow.Array, len(batches))
		for i, b := range batches {
			parts[i] = b.Column(c)
		}
		col, err := array.Concatenate(parts, mem)
		if err != nil {
			for _, done := range cols[:c] {
				done.Release()
			}
			return nil, err
		}
		cols[c] = col
	}
	out := array.NewRecordBatch(schema, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

// keep holds rec (owned by r from now on) and returns its number.
func (r *rows) keep(rec arrow.RecordBatch) int32 {
	r.batches = append(r.batches, rec)
	r.arrow += scan.BatchBytes(rec, true)
	if r.views == nil {
		r.views = make([][]colView, rec.NumCols())
	}
	for c := range r.views {
		r.views[c] = append(r.views[c], viewOf(rec.Column(c)))
	}
	return int32(len(r.batches) - 1)
}

// newIndex is an empty index.
func newIndex(ident table.Identifier, snapshot int64, schema *arrow.Schema, keyCols []int) *Index {
	ints := intKey(schema, keyCols)
	return &Index{table: ident, snapshot: snapshot, schema: schema, keyCols: keyCols,
		base: newRows(0, ints, keyCols), overlay: newRows(0, ints, keyCols)}
}

// add keeps the rows of rec (owned by r from now on) under their keys.
func (r *rows) add(rec arrow.RecordBatch) {
	b := r.keep(rec)
	for i := range int(rec.NumRows()) {
		r.set(b, i, false)
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
	overlay := &rows{batches: retainAll(ix.overlay.batches), arrow: ix.overlay.arrow, keys: ix.overlay.keys.clone(), keyCols: ix.keyCols}
	for c := range ix.overlay.views {
		overlay.views = append(overlay.views, slices.Clone(ix.overlay.views[c]))
	}
	overlay.refs.Store(1)
	ix.base.ref()
	next := &Index{table: ix.table, snapshot: cur.SnapshotID, schema: ix.schema, keyCols: ix.keyCols, base: ix.base, overlay: overlay}
	// Upserts (equality deletes on the key and appends) are applied from
	// the files they added, without reading the rows they replace.
	ups, ok, err := upsertsSince(ctx, tbl, ix.snapshot, cur.SnapshotID)
	if err == nil && ok {
		err = ix.applyUpserts(ctx, tbl, next, ups)
	}
	if err != nil {
		next.Release()
		return nil, err
	}
	if ok {
		return next.compactIfLarge(ctx, ix)
	}
	_, seq, err := changes.Read(ctx, changes.Request{Table: tbl, From: ix.snapshot, To: cur.SnapshotID})
	if err != nil {
		next.Release()
		return nil, err
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
		b := next.overlay.keep(rows)
		for i := range int(rec.NumRows()) {
			switch kinds.Value(i) {
			case changes.Delete, changes.UpdateBefore:
				next.overlay.set(b, i, true)
			default:
				next.overlay.set(b, i, false)
			}
		}
		rec.Release()
	}
	return next.compactIfLarge(ctx, ix)
}

// compactIfLarge rebuilds the base when the overlay holds more than a
// tenth of the base's keys.
func (next *Index) compactIfLarge(ctx context.Context, prev *Index) (*Index, error) {
	if next.overlay.size()*10 > max(prev.base.size(), 1000) {
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
	r.batches, r.views = nil, nil
	r.keys.free()
}

// compact builds a new base holding every live row of ix and releases ix
// (the old base stays for the versions that still use it).
func (ix *Index) compact(ctx context.Context) (*Index, error) {
	defer ix.Release()
	var picks []pick
	ix.base.keys.all(func(_, at uint64) {
		rec, i := ix.base.keyRow(at)
		if _, changed := ix.overlay.get(rec, i, ix.keyCols); !changed {
			picks = append(picks, pickOf(ix.base, at))
		}
	})
	ix.overlay.keys.all(func(_, at uint64) {
		if _, _, deleted := unpackRow(at); !deleted {
			picks = append(picks, pickOf(ix.overlay, at))
		}
	})
	next := newIndex(ix.table, ix.snapshot, ix.schema, ix.keyCols)
	next.base.keys = newKeyTable(next.base.keys.ints, len(picks))
	if len(picks) > 0 {
		rec, err := ix.gather(ctx, picks, nil)
		if err != nil {
			next.Release()
			return nil, err
		}
		next.base.add(rec)
	}
	return next, nil
}

// pick is one row to gather: where it is, or from nil for a NULL row.
type pick struct {
	from       *rows
	batch, row int32
}

func pickOf(r *rows, at uint64) pick {
	b, j, _ := unpackRow(at)
	return pick{from: r, batch: b, row: j}
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
	if ix.base.keys.ints {
		if k, ok := keys[0].(*array.Int64); ok {
			ix.lookupInt64(k, picks)
			return ix.gather(ctx, picks, cols)
		}
	}
	for i := range n {
		if anyNull(probeRec, i) {
			continue
		}
		if ix.base.keys.ints {
			if _, ok := intValue(keys[0], i); !ok {
				return nil, fmt.Errorf("lookup in %s: key %s is %s, probed with %s", strings.Join(ix.table, "."), ix.schema.Field(ix.keyCols[0]).Name, ix.schema.Field(ix.keyCols[0]).Type, keys[0].DataType())
			}
		}
		picks[i] = ix.find(probeRec, i, all)
	}
	return ix.gather(ctx, picks, cols)
}

// find is the pick of the key in row i of probe.
func (ix *Index) find(probe arrow.RecordBatch, i int, cols []int) pick {
	if at, ok := ix.overlay.get(probe, i, cols); ok {
		if _, _, deleted := unpackRow(at); deleted {
			return pick{}
		}
		return pickOf(ix.overlay, at)
	}
	if at, ok := ix.base.get(probe, i, cols); ok {
		return pickOf(ix.base, at)
	}
	return pick{}
}

// lookupInt64 finds 64-bit integer keys, the common case, without the
// general path's per-row work.
func (ix *Index) lookupInt64(k *array.Int64, picks []pick) {
	vals := k.Int64Values()
	ov := ix.overlay.keys
	base := ix.base.keys
	nulls := k.NullN() > 0
	// Touch each key's first slot in a loop without branches, so that the
	// cache misses of a batch overlap; the probes below then mostly hit.
	touchSink += base.touchInts(vals)
	for i, v := range vals {
		if nulls && k.IsNull(i) {
			continue
		}
		if ov.n > 0 {
			if at, ok := ov.findInt(v); ok {
				if _, _, deleted := unpackRow(at); !deleted {
					picks[i] = pickOf(ix.overlay, at)
				}
				continue
			}
		}
		if at, ok := base.findInt(v); ok {
			picks[i] = pickOf(ix.base, at)
		}
	}
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
