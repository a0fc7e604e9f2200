package changes

import (
	"context"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// ref is one change row: batch and row.
type ref struct{ batch, row int }

// netSeq reads the changes of every snapshot and yields their net effect
// as one batch.
func netSeq(ctx context.Context, tbl *table.Table, reader *table.Scan, filter iceberg.BooleanExpression, snaps []*table.Snapshot, rowSchema, out *arrow.Schema, keys []int) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		var batches []arrow.RecordBatch
		defer func() {
			for _, b := range batches {
				b.Release()
			}
		}()
		for ordinal, s := range snaps {
			rec, err := snapshotChanges(ctx, tbl, reader, filter, s, int64(ordinal), rowSchema, out, keys)
			if err != nil {
				yield(nil, err)
				return
			}
			if rec != nil {
				batches = append(batches, rec)
			}
		}
		rec, err := collapse(ctx, batches, rowSchema.NumFields(), keys, out)
		if err != nil {
			yield(nil, err)
			return
		}
		if rec != nil {
			yield(rec, nil)
		}
	}
}

type netRow struct {
	at   ref
	kind string
}

// collapse computes the net changes of change batches in commit order.
func collapse(ctx context.Context, batches []arrow.RecordBatch, width int, keys []int, out *arrow.Schema) (arrow.RecordBatch, error) {
	var result []netRow
	kindOf := func(r ref) string { return batches[r.batch].Column(width).(*array.String).Value(r.row) }
	rowKey := func(r ref, cols []int) string {
		if cols == nil {
			cols = make([]int, width)
			for i := range cols {
				cols[i] = i
			}
		}
		return encodeRow(batches[r.batch], r.row, cols)
	}
	// Inserts and deletes of equal rows cancel, in either order; what
	// remains of each row value is its net inserts or deletes.
	pending := map[string][]ref{} // unmatched changes of one row value
	sign := map[string]int{}      // +n: n inserts pending, -n: n deletes
	var order []string
	for bi, b := range batches {
		for i := range int(b.NumRows()) {
			r := ref{bi, i}
			k := rowKey(r, nil)
			d := 1
			if kind := kindOf(r); kind == Delete || kind == UpdateBefore {
				d = -1
			}
			if _, ok := sign[k]; !ok {
				order = append(order, k)
			}
			if sign[k] != 0 && (sign[k] > 0) != (d > 0) {
				pending[k] = pending[k][1:]
			} else {
				pending[k] = append(pending[k], r)
			}
			sign[k] += d
		}
	}
	if len(keys) == 0 {
		for _, k := range order {
			kind := Insert
			if sign[k] < 0 {
				kind = Delete
			}
			for _, r := range pending[k] {
				result = append(result, netRow{r, kind})
			}
		}
	} else {
		// Per key, a row deleted and another inserted make an update.
		type keyed struct{ deleted, inserted []ref }
		byKey := map[string]*keyed{}
		var keyOrder []string
		for _, k := range order {
			for _, r := range pending[k] {
				kk := rowKey(r, keys)
				st := byKey[kk]
				if st == nil {
					st = &keyed{}
					byKey[kk] = st
					keyOrder = append(keyOrder, kk)
				}
				if sign[k] < 0 {
					st.deleted = append(st.deleted, r)
				} else {
					st.inserted = append(st.inserted, r)
				}
			}
		}
		for _, kk := range keyOrder {
			st := byKey[kk]
			pairs := min(len(st.deleted), len(st.inserted))
			for i := range pairs {
				result = append(result, netRow{st.deleted[i], UpdateBefore}, netRow{st.inserted[i], UpdateAfter})
			}
			for _, r := range st.deleted[pairs:] {
				result = append(result, netRow{r, Delete})
			}
			for _, r := range st.inserted[pairs:] {
				result = append(result, netRow{r, Insert})
			}
		}
	}
	if len(result) == 0 {
		return nil, nil
	}
	return takeRows(ctx, batches, result, width, out)
}

// takeRows gathers rows of batches, with their change type replaced.
func takeRows(ctx context.Context, batches []arrow.RecordBatch, rows []netRow, width int, out *arrow.Schema) (arrow.RecordBatch, error) {
	mem := compute.GetAllocator(ctx)
	cols := make([]arrow.Array, out.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for c := range out.NumFields() {
		if c == width {
			b := array.NewStringBuilder(mem)
			for _, r := range rows {
				b.Append(r.kind)
			}
			cols[c] = b.NewArray()
			b.Release()
			continue
		}
		var pieces []arrow.Array
		for _, r := range rows {
			pieces = append(pieces, array.NewSlice(batches[r.at.batch].Column(c), int64(r.at.row), int64(r.at.row+1)))
		}
		col, err := array.Concatenate(pieces, mem)
		for _, p := range pieces {
			p.Release()
		}
		if err != nil {
			return nil, err
		}
		cols[c] = col
	}
	return array.NewRecordBatch(out, cols, int64(len(rows))), nil
}
