package scan

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/compute/exprs"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/substrait"
)

// Late materialization: when the filter reads fewer columns than the scan,
// a row group may be read in two passes. The first decodes the filter
// columns only (over the rows the page indexes leave) and evaluates the
// filter; the second decodes every column over the rows that matched
// (runs of matches closer than lateGapRows merged), skipping the other
// rows the way page-index pruning does: pages without a match are neither
// fetched nor decoded where the file has offset indexes, values are
// skipped undecoded elsewhere. A row group whose filter columns make up
// more than half of its bytes is read in one pass; so is the rest of a
// file once two row groups in a row matched in more than half their rows.

// lateGapRows is the shortest run of rows without a match that the second
// pass skips; shorter runs are decoded and filtered.
const lateGapRows = 32

// lateFilter is the filter compiled over the filter columns alone.
type lateFilter struct {
	// fields are the positions in fileRead.schema of the filter columns,
	// leaves their leaf columns, schema their Arrow schema.
	fields []int
	leaves []int
	schema *arrow.Schema
	record *recordFilter
}

// compileLate prepares reading the filter columns first, or returns nil
// when that is not possible: every filter column must be a top-level leaf
// of the file and the scan must read some other column. translated is the
// filter in the file's names; bound, bound to the file's schema.
func (fr *fileRead) compileLate(translated, bound iceberg.BooleanExpression, leafIDs map[int]int) (*lateFilter, error) {
	ids, err := iceberg.ExtractFieldIDs(bound)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	colOf := make(map[int]int, len(leafIDs))
	for col, id := range leafIDs {
		colOf[id] = col
	}
	posOf := map[int]int{}
	for i, fi := range fr.fields {
		if sf := &fr.manifest.Fields[fi]; sf.IsLeaf() {
			posOf[sf.ColIndex] = i
		}
	}
	lf := &lateFilter{}
	for _, id := range ids {
		col, ok := colOf[id]
		if !ok {
			return nil, nil
		}
		pos, ok := posOf[col]
		if !ok {
			return nil, nil
		}
		lf.fields = append(lf.fields, pos)
	}
	slices.Sort(lf.fields)
	lf.fields = slices.Compact(lf.fields)
	if len(lf.fields) >= len(fr.fields) {
		return nil, nil
	}
	fields := make([]arrow.Field, len(lf.fields))
	for k, pos := range lf.fields {
		fields[k] = fr.schema.Field(pos)
		lf.leaves = append(lf.leaves, fr.manifest.Fields[fr.fields[pos]].ColIndex)
	}
	md := fr.schema.Metadata()
	lf.schema = arrow.NewSchema(fields, &md)
	ice, err := table.ArrowSchemaToIcebergWithOptions(lf.schema, table.ArrowToIcebergOptions{
		NameMapping:     fr.mapping,
		TableSchema:     fr.np.tableSchema,
		TableProperties: fr.np.props,
	})
	if err != nil {
		return nil, nil
	}
	b, err := iceberg.BindExpr(ice, translated, true)
	if err != nil {
		return nil, nil
	}
	reg, ex, err := substrait.ConvertExpr(ice, b, true)
	if err != nil {
		return nil, nil
	}
	lf.record = &recordFilter{ext: exprs.NewExtensionSetDefault(*reg), expr: ex}
	// Some filters cannot be evaluated over rows (starts_with has no
	// kernel); with PruneOnly the rows are then left to the caller.
	cols := emptyColumns(memory.DefaultAllocator, lf.schema)
	empty := array.NewRecordBatch(lf.schema, cols, 0)
	for _, c := range cols {
		c.Release()
	}
	defer empty.Release()
	m, err := lf.record.mask(context.Background(), empty)
	if err != nil {
		return nil, nil
	}
	m.Release()
	return lf, nil
}

// chunkBytes is the compressed size of the filter columns' chunks.
func (lf *lateFilter) chunkBytes(rg *metadata.RowGroupMetaData) int64 {
	var n int64
	for _, col := range lf.leaves {
		if cc, err := rg.ColumnChunk(col); err == nil {
			n += cc.TotalCompressedSize()
		}
	}
	return n
}

// mask evaluates the filter over rec, a batch of the filter columns: true
// where a row matches (a NULL result does not).
func (rf *recordFilter) mask(ctx context.Context, rec arrow.RecordBatch) (*array.Boolean, error) {
	ctx = exprs.WithExtensionIDSet(ctx, rf.ext)
	d, err := exprs.ExecuteScalarExpression(ctx, rec.Schema(), rf.expr, compute.NewDatumWithoutOwning(rec))
	if err != nil {
		return nil, err
	}
	defer d.Release()
	var a arrow.Array
	switch d := d.(type) {
	case *compute.ArrayDatum:
		a = d.MakeArray()
	case *compute.ScalarDatum:
		if a, err = scalar.MakeArrayFromScalar(d.Value, int(rec.NumRows()), compute.GetAllocator(ctx)); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("filter yields %s", d.Kind())
	}
	b, ok := a.(*array.Boolean)
	if !ok || int64(b.Len()) != rec.NumRows() {
		a.Release()
		return nil, fmt.Errorf("filter yields %s of %d rows for %d", a.DataType(), a.Len(), rec.NumRows())
	}
	return b, nil
}

// readLate is the first pass over a row group: it decodes the filter
// columns over ranges and returns the row ranges that hold the matches.
func (fr *fileRead) readLate(ctx context.Context, ix *pageIndex, rg *metadata.RowGroupMetaData, group int, ranges []rowRange, st *counters) ([]rowRange, error) {
	lf := fr.late
	sel := fr.selectRows(ix, rg, ranges, lf.leaves, nil, st)
	// The second pass reads these chunks again, from memory.
	for _, col := range lf.leaves {
		if cc, err := rg.ColumnChunk(col); err == nil {
			s := byteSpan{chunkStart(cc), chunkStart(cc) + cc.TotalCompressedSize()}
			fr.in.keepRegion(s, false)
			fr.lateRegions = append(fr.lateRegions, s)
		}
	}
	mem := compute.GetAllocator(ctx)
	fr.prefetch([]int{group}, lf.leaves)
	defer fr.in.forgetFetches()
	sources, err := fr.openColumns(ctx, mem, []int{group}, sel, lf.fields)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range sources {
			s.release()
		}
	}()
	batch := min(fr.np.batchSize, int64(bitutil.NextPowerOf2(int(sel.rows))))
	var matched []rowRange
	// The row of the row group the next value of the batch is.
	ri, row := 0, ranges[0].start
	for {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		rec, err := readBatch(sources, lf.schema, batch)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", fr.task.File.FilePath(), err)
		}
		if rec == nil {
			break
		}
		m, err := lf.record.mask(ctx, rec)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("filter %s: %w", fr.task.File.FilePath(), err)
		}
		for j := 0; j < m.Len(); j++ {
			if m.IsValid(j) && m.Value(j) {
				matched = appendRange(matched, rowRange{row, row + 1})
			}
			row++
			if row == ranges[ri].end && ri+1 < len(ranges) {
				ri++
				row = ranges[ri].start
			}
		}
		m.Release()
	}
	// Short gaps are read rather than skipped.
	out := matched[:0]
	for _, r := range matched {
		if n := len(out); n > 0 && r.start-out[n-1].end < lateGapRows {
			out[n-1].end = r.end
			continue
		}
		out = append(out, r)
	}
	out = intersectRanges(out, ranges)
	if 2*rangesRows(out) > sel.rows {
		if fr.lateMisses++; fr.lateMisses >= 2 {
			fr.lateOff = true
		}
	} else {
		fr.lateMisses = 0
	}
	return out, nil
}
