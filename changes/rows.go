package changes

import (
	"context"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/apache/iceberg-go/table"
)

// rowRef is one row of a batch a bag holds.
type rowRef struct {
	batch int
	row   int
	key   string // the whole row, encoded (see keys)
	gone  bool
}

// rowBag is a multiset of rows, kept in the batches they were read in.
type rowBag struct {
	batches []arrow.RecordBatch
	rows    []rowRef
}

func (b *rowBag) len() int {
	n := 0
	for _, r := range b.rows {
		if !r.gone {
			n++
		}
	}
	return n
}

// add keeps the rows of rec (viewed with the row schema).
func (b *rowBag) add(rec arrow.RecordBatch, rowSchema *arrow.Schema) {
	if rec.NumRows() == 0 {
		return
	}
	rec = conform(rec, rowSchema)
	bi := len(b.batches)
	b.batches = append(b.batches, rec)
	for i := range int(rec.NumRows()) {
		b.rows = append(b.rows, rowRef{batch: bi, row: i})
	}
}

// addAll moves the rows of o that remain into b.
func (b *rowBag) addAll(o *rowBag) {
	base := len(b.batches)
	b.batches = append(b.batches, o.batches...)
	for _, r := range o.rows {
		if !r.gone {
			r.batch += base
			b.rows = append(b.rows, r)
		}
	}
	o.batches, o.rows = nil, nil
}

// keys encodes the rows' values, once, when rows must be compared.
func (b *rowBag) keys() {
	for i := range b.rows {
		r := &b.rows[i]
		if r.key == "" {
			r.key = encodeRow(b.batches[r.batch], r.row, nil)
		}
	}
}

// cancel removes the rows b and o have in common (as multisets) from both.
func (b *rowBag) cancel(o *rowBag) {
	if b.len() == 0 || o.len() == 0 {
		return
	}
	b.keys()
	o.keys()
	where := map[string][]int{}
	for i, r := range o.rows {
		if !r.gone {
			where[r.key] = append(where[r.key], i)
		}
	}
	for i := range b.rows {
		r := &b.rows[i]
		if r.gone {
			continue
		}
		if idx := where[r.key]; len(idx) > 0 {
			o.rows[idx[0]].gone = true
			where[r.key] = idx[1:]
			r.gone = true
		}
	}
}

func (b *rowBag) release() {
	for _, rec := range b.batches {
		rec.Release()
	}
	b.batches, b.rows = nil, nil
}

// conform views rec with the row schema's field types and names (the
// layouts match; extension types are stripped).
func conform(rec arrow.RecordBatch, rowSchema *arrow.Schema) arrow.RecordBatch {
	if rec.Schema().Equal(rowSchema) {
		rec.Retain()
		return rec
	}
	cols := make([]arrow.Array, rowSchema.NumFields())
	for i, f := range rowSchema.Fields() {
		c := rec.Column(i)
		if idx := rec.Schema().FieldIndices(f.Name); len(idx) == 1 {
			c = rec.Column(idx[0])
		}
		if arrow.TypeEqual(c.DataType(), f.Type) {
			c.Retain()
			cols[i] = c
			continue
		}
		d := c.Data()
		nd := array.NewData(f.Type, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
		cols[i] = array.MakeFromData(nd)
		nd.Release()
	}
	out := array.NewRecordBatch(rowSchema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// encodeRow renders the values of row i (of the given columns, or all) so
// that two rows encode alike exactly when their values are equal.
func encodeRow(rec arrow.RecordBatch, i int, cols []int) string {
	var sb strings.Builder
	enc := func(c arrow.Array) {
		if c.IsNull(i) {
			sb.WriteString("\x00N")
			return
		}
		s := c.ValueStr(i)
		sb.WriteString("\x01")
		sb.WriteString(strconv.Itoa(len(s)))
		sb.WriteByte(':')
		sb.WriteString(s)
	}
	if cols == nil {
		for _, c := range rec.Columns() {
			enc(c)
		}
	} else {
		for _, k := range cols {
			enc(rec.Column(k))
		}
	}
	return sb.String()
}

// assemble builds the batch of one snapshot's changes: deletes (or
// update_before) first, then inserts (or update_after). With identifier
// columns, a key both deleted and inserted is an update.
func assemble(mem memory.Allocator, s *table.Snapshot, ordinal int64, rowSchema, out *arrow.Schema, keys []int,
	deleted, inserted *rowBag) (arrow.RecordBatch, error) {
	defer deleted.release()
	defer inserted.release()
	kinds := map[*rowRef]string{}
	if len(keys) > 0 && deleted.len() > 0 && inserted.len() > 0 {
		byKey := map[string][]*rowRef{}
		for i := range deleted.rows {
			r := &deleted.rows[i]
			if !r.gone {
				k := encodeRow(deleted.batches[r.batch], r.row, keys)
				byKey[k] = append(byKey[k], r)
			}
		}
		for i := range inserted.rows {
			r := &inserted.rows[i]
			if r.gone {
				continue
			}
			k := encodeRow(inserted.batches[r.batch], r.row, keys)
			if before := byKey[k]; len(before) > 0 {
				kinds[before[0]] = UpdateBefore
				kinds[r] = UpdateAfter
				byKey[k] = before[1:]
			}
		}
	}
	ctx := compute.WithAllocator(context.Background(), mem)
	n := rowSchema.NumFields()
	var pieces [][]arrow.Array // per output column
	pieces = make([][]arrow.Array, n)
	defer func() {
		for _, ps := range pieces {
			for _, p := range ps {
				p.Release()
			}
		}
	}()
	kindB := array.NewStringBuilder(mem)
	defer kindB.Release()
	// take appends the rows of one batch at idx.
	take := func(rec arrow.RecordBatch, idx []int64) error {
		ib := array.NewInt64Builder(mem)
		ib.AppendValues(idx, nil)
		ia := ib.NewArray()
		ib.Release()
		defer ia.Release()
		for c := range n {
			col, err := compute.TakeArray(ctx, rec.Column(c), ia)
			if err != nil {
				return err
			}
			pieces[c] = append(pieces[c], col)
		}
		return nil
	}
	emit := func(bag *rowBag, plain string) error {
		cur, idx := -1, []int64(nil)
		for i := range bag.rows {
			r := &bag.rows[i]
			if r.gone {
				continue
			}
			if r.batch != cur && len(idx) > 0 {
				if err := take(bag.batches[cur], idx); err != nil {
					return err
				}
				idx = idx[:0]
			}
			cur = r.batch
			idx = append(idx, int64(r.row))
			kind := plain
			if k, ok := kinds[r]; ok {
				kind = k
			}
			kindB.Append(kind)
		}
		if len(idx) > 0 {
			return take(bag.batches[cur], idx)
		}
		return nil
	}
	if err := emit(deleted, Delete); err != nil {
		return nil, err
	}
	if err := emit(inserted, Insert); err != nil {
		return nil, err
	}
	cols := make([]arrow.Array, out.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for c := range n {
		var err error
		if cols[c], err = array.Concatenate(pieces[c], mem); err != nil {
			return nil, err
		}
	}
	cols[n] = kindB.NewArray()
	rows := cols[n].Len()
	snapB := array.NewInt64Builder(mem)
	defer snapB.Release()
	tsB := array.NewTimestampBuilder(mem, out.Field(n+2).Type.(*arrow.TimestampType))
	defer tsB.Release()
	ordB := array.NewInt64Builder(mem)
	defer ordB.Release()
	for range rows {
		snapB.Append(s.SnapshotID)
		tsB.Append(arrow.Timestamp(s.TimestampMs * 1000))
		ordB.Append(ordinal)
	}
	cols[n+1], cols[n+2], cols[n+3] = snapB.NewArray(), tsB.NewArray(), ordB.NewArray()
	return array.NewRecordBatch(out, cols, int64(rows)), nil
}
