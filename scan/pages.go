package scan

import (
	"context"
	"encoding/binary"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/iceberg-go"
)

// A row group that statistics, dictionaries and bloom filters leave
// undecided is tested page by page when its file has page indexes: the
// column index of a filter column holds the minimum, maximum and null
// count of each of its data pages, and the offset index where each page
// lies and which rows it holds. The pages of the filter columns that
// cannot match give the row ranges of the row group that might; only
// those rows are read, and of every column read, only the pages holding
// some of them are fetched and decoded (see rowCursor and pagedInput).

// rowRange is the rows [start, end) of a row group.
type rowRange struct{ start, end int64 }

// rangesRows is the number of rows of sorted, disjoint ranges.
func rangesRows(rs []rowRange) int64 {
	var n int64
	for _, r := range rs {
		n += r.end - r.start
	}
	return n
}

// intersectRanges returns the rows in both a and b (sorted, disjoint).
func intersectRanges(a, b []rowRange) []rowRange {
	var out []rowRange
	for len(a) > 0 && len(b) > 0 {
		lo, hi := max(a[0].start, b[0].start), min(a[0].end, b[0].end)
		if lo < hi {
			out = append(out, rowRange{lo, hi})
		}
		if a[0].end < b[0].end {
			a = a[1:]
		} else {
			b = b[1:]
		}
	}
	return out
}

// unionRanges returns the rows in a or b (sorted, disjoint), adjacent
// ranges merged.
func unionRanges(a, b []rowRange) []rowRange {
	out := make([]rowRange, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		var r rowRange
		if len(b) == 0 || (len(a) > 0 && a[0].start <= b[0].start) {
			r, a = a[0], a[1:]
		} else {
			r, b = b[0], b[1:]
		}
		out = appendRange(out, r)
	}
	return out
}

// appendRange appends r to ranges sorted by start, merging it with the
// last one when they touch or overlap.
func appendRange(rs []rowRange, r rowRange) []rowRange {
	if r.start >= r.end {
		return rs
	}
	if n := len(rs); n > 0 && r.start <= rs[n-1].end {
		rs[n-1].end = max(rs[n-1].end, r.end)
		return rs
	}
	return append(rs, r)
}

// pageIndex is the page index of one row group, its columns loaded as the
// tests ask for them. It belongs to one read.
type pageIndex struct {
	rows int64
	rd   *metadata.RowGroupPageIndexReader // nil: no page index
	cols map[int]*columnPages
	// regions are the index regions the file's input keeps for the row
	// group until it is read.
	regions []byteSpan
}

// columnPages is the page index of one column chunk: where each data page
// lies and its first row (offset index), and its statistics (column index;
// nil when the chunk has none). locs is nil when the chunk has no usable
// offset index.
type columnPages struct {
	locs []*metadata.PageLocation
	ci   metadata.ColumnIndex
}

// pageRows is the row range of page i of a chunk of rows rows.
func (c *columnPages) pageRows(i int, rows int64) rowRange {
	end := rows
	if i+1 < len(c.locs) {
		end = c.locs[i+1].FirstRowIndex
	}
	return rowRange{c.locs[i].FirstRowIndex, end}
}

// column returns the page index of leaf column col. A column index or
// offset index that is missing, unreadable or inconsistent is left out:
// the tests then keep every row.
func (ix *pageIndex) column(col int) *columnPages {
	if c, ok := ix.cols[col]; ok {
		return c
	}
	c := &columnPages{}
	ix.cols[col] = c
	if ix.rd == nil {
		return c
	}
	oi, err := ix.rd.GetOffsetIndex(col)
	if err != nil || oi == nil || !validLocations(oi.GetPageLocations(), ix.rows) {
		return c
	}
	c.locs = oi.GetPageLocations()
	if ci, err := ix.rd.GetColumnIndex(col); err == nil && ci != nil && len(ci.GetNullPages()) == len(c.locs) &&
		len(ci.GetMinValues()) == len(c.locs) && len(ci.GetMaxValues()) == len(c.locs) &&
		(!ci.IsSetNullCounts() || len(ci.GetNullCounts()) == len(c.locs)) {
		c.ci = ci
	}
	return c
}

// validLocations reports whether page locations describe a chunk of rows
// rows: first rows strictly increasing from 0, offsets increasing.
func validLocations(locs []*metadata.PageLocation, rows int64) bool {
	if len(locs) == 0 || locs[0].FirstRowIndex != 0 {
		return false
	}
	for i, l := range locs {
		if l.CompressedPageSize <= 0 || l.Offset < 0 || l.FirstRowIndex >= rows {
			return false
		}
		if i > 0 && (l.FirstRowIndex <= locs[i-1].FirstRowIndex || l.Offset <= locs[i-1].Offset) {
			return false
		}
	}
	return true
}

// all is every row of the row group.
func (ix *pageIndex) all() []rowRange { return []rowRange{{0, ix.rows}} }

// pageStats are the statistics of page i of a column in the domain of c,
// as readChunkStats reads those of a chunk.
func pageStats(cp *columnPages, c statColumn, i int, rows int64) chunkStats {
	r := cp.pageRows(i, rows)
	s := chunkStats{rows: r.end - r.start}
	if cp.ci.GetNullPages()[i] {
		s.hasNulls, s.nulls = true, s.rows
		return s
	}
	if cp.ci.IsSetNullCounts() {
		s.hasNulls, s.nulls = true, cp.ci.GetNullCounts()[i]
	}
	lo, okLo := pageValue(c, cp.ci.GetMinValues()[i])
	hi, okHi := pageValue(c, cp.ci.GetMaxValues()[i])
	if okLo && okHi {
		s.min, s.max, s.hasMinMax = lo, hi, true
	}
	return s
}

// pageValue decodes a minimum or maximum of a column index (encoded as
// PLAIN values are, byte arrays without their length) into the domain of
// c; ok is false when it cannot.
func pageValue(c statColumn, b []byte) (v statValue, ok bool) {
	switch c.kind {
	case kindInt:
		switch {
		case c.phys == parquet.Types.Boolean && len(b) == 1:
			v.i = int64(b[0] & 1)
		case c.phys == parquet.Types.Int32 && len(b) == 4:
			v.i = int64(int32(binary.LittleEndian.Uint32(b)))
		case c.phys == parquet.Types.Int64 && len(b) == 8:
			v.i = int64(binary.LittleEndian.Uint64(b))
		default:
			return v, false
		}
	case kindFloat:
		switch {
		case c.phys == parquet.Types.Float && len(b) == 4:
			v.f = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		case c.phys == parquet.Types.Double && len(b) == 8:
			v.f = math.Float64frombits(binary.LittleEndian.Uint64(b))
		default:
			return v, false
		}
		if math.IsNaN(v.f) {
			return v, false
		}
	case kindBytes:
		v.b = b
	case kindDecimal:
		switch {
		case c.phys == parquet.Types.Int32 && len(b) == 4:
			v.d = decimal128.FromI64(int64(int32(binary.LittleEndian.Uint32(b))))
		case c.phys == parquet.Types.Int64 && len(b) == 8:
			v.d = decimal128.FromI64(int64(binary.LittleEndian.Uint64(b)))
		case c.phys == parquet.Types.FixedLenByteArray || c.phys == parquet.Types.ByteArray:
			return bigEndianDecimalValue(b)
		default:
			return v, false
		}
	default:
		return v, false
	}
	return v, true
}

func bigEndianDecimalValue(b []byte) (statValue, bool) {
	d, ok := bigEndianDecimal(b)
	return statValue{d: d}, ok
}

// pageTest returns the row ranges of a row group whose pages might hold a
// row matching a filter; every row when the page index cannot tell.
type pageTest func(ix *pageIndex) []rowRange

// pageFilter finds, from page indexes, the rows of a row group that might
// match a filter. Like rowGroupFilter it is built once per file schema and
// changes nothing when evaluated.
type pageFilter struct {
	root pageTest
	// cols are the leaf columns whose column indexes the test reads.
	cols []int
}

// newPageFilter builds the page test of filter, bound to the file's
// Iceberg schema; columns are those of the statistics test. It returns nil
// when no predicate of the filter can be decided from page statistics.
func newPageFilter(filter iceberg.BooleanExpression, columns map[int]statColumn) (*pageFilter, error) {
	if filter == nil {
		return nil, nil
	}
	rewritten, err := iceberg.RewriteNotExpr(filter)
	if err != nil {
		return nil, err
	}
	b := &pageBuilder{columns: columns}
	root, err := iceberg.VisitExpr(rewritten, b)
	if err != nil || root == nil {
		return nil, err
	}
	slices.Sort(b.cols)
	return &pageFilter{root: root, cols: slices.Compact(b.cols)}, nil
}

// pageBuilder builds the page test of a filter whose NOTs were rewritten.
// A nil test is one that keeps every row.
type pageBuilder struct {
	columns map[int]statColumn
	cols    []int
}

func (*pageBuilder) VisitTrue() pageTest { return nil }
func (*pageBuilder) VisitFalse() pageTest {
	return func(*pageIndex) []rowRange { return nil }
}

// VisitNot keeps every row, as rgBuilder's does.
func (*pageBuilder) VisitNot(pageTest) pageTest                     { return nil }
func (*pageBuilder) VisitUnbound(iceberg.UnboundPredicate) pageTest { return nil }

func (*pageBuilder) VisitAnd(l, r pageTest) pageTest {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	}
	return func(ix *pageIndex) []rowRange {
		a := l(ix)
		if len(a) == 0 {
			return nil
		}
		return intersectRanges(a, r(ix))
	}
}

func (*pageBuilder) VisitOr(l, r pageTest) pageTest {
	if l == nil || r == nil {
		return nil
	}
	return func(ix *pageIndex) []rowRange { return unionRanges(l(ix), r(ix)) }
}

func (b *pageBuilder) VisitBound(pred iceberg.BoundPredicate) pageTest {
	ref, isRef := pred.Term().(iceberg.BoundReference)
	if !isRef {
		return nil
	}
	c, found := b.columns[ref.Field().ID]
	if !found || c.kind == kindNone {
		return nil
	}
	op := pred.Op()
	var test func(s chunkStats) verdict
	switch op {
	case iceberg.OpIsNull, iceberg.OpNotNull, iceberg.OpIsNan, iceberg.OpNotNan:
		test = func(s chunkStats) verdict { return unaryVerdict(op, s) }
	case iceberg.OpIn, iceberg.OpNotIn:
		sp, isSet := pred.(iceberg.BoundSetPredicate)
		if !isSet {
			return nil
		}
		var vals []statValue
		for _, l := range sp.Literals().Members() {
			v, ok := literalValue(c, l)
			if !ok {
				return nil
			}
			vals = append(vals, v)
		}
		test = func(s chunkStats) verdict { return setVerdict(op, c.kind, s, vals) }
	default:
		lp, isLit := pred.(iceberg.BoundLiteralPredicate)
		if !isLit {
			return nil
		}
		lit, ok := literalValue(c, lp.Literal())
		if !ok {
			return nil
		}
		test = func(s chunkStats) verdict { return literalVerdict(op, c.kind, s, lit) }
	}
	b.cols = append(b.cols, c.col)
	return func(ix *pageIndex) []rowRange {
		cp := ix.column(c.col)
		if cp.ci == nil {
			return ix.all()
		}
		var out []rowRange
		for i := range cp.locs {
			if test(pageStats(cp, c, i, ix.rows)) != rowsCannotMatch {
				out = appendRange(out, cp.pageRows(i, ix.rows))
			}
		}
		return out
	}
}

// eval returns the rows of the row group that might match.
func (f *pageFilter) eval(ix *pageIndex) []rowRange { return f.root(ix) }

// openPageIndex returns the page index of row group i for the leaves read,
// or nil when none of them has an offset index. The index regions of the
// row group are kept by the file's input, so that the column readers,
// which read the offset indexes again to seek, do not fetch them twice.
func (fr *fileRead) openPageIndex(i int, rg *metadata.RowGroupMetaData) *pageIndex {
	cols := make([]int32, 0, len(fr.leaves))
	has := false
	for _, c := range fr.leaves {
		cols = append(cols, int32(c))
		if _, ok := rg.OffsetIndexLocation(c); ok {
			has = true
		}
	}
	if !has {
		return nil
	}
	pir := fr.pr.GetPageIndexReader()
	if err := pir.WillNeed([]int32{int32(i)}, cols, metadata.PageIndexSelection{ColumnIndex: true, OffsetIndex: true}); err != nil {
		return nil
	}
	regions := indexRegions(rg, fr.leaves)
	for _, r := range regions {
		fr.in.keepRegion(r, true)
	}
	rd, err := pir.RowGroup(i)
	if err != nil || rd == nil {
		fr.in.forgetRegions(regions)
		return nil
	}
	return &pageIndex{rows: rg.NumRows(), rd: rd, cols: map[int]*columnPages{}, regions: regions}
}

// indexRegions are the bytes of the column indexes and of the offset
// indexes of cols in a row group, each region spanning all of them (as
// metadata.PageIndexReader reads them).
func indexRegions(rg *metadata.RowGroupMetaData, cols []int) []byteSpan {
	var out []byteSpan
	for _, loc := range []func(int) (metadata.IndexLocation, bool){rg.ColumnIndexLocation, rg.OffsetIndexLocation} {
		s := byteSpan{off: -1}
		for _, c := range cols {
			l, ok := loc(c)
			if !ok || l.Offset < 0 || l.Length <= 0 {
				continue
			}
			if s.off < 0 || l.Offset < s.off {
				s.off = l.Offset
			}
			s.end = max(s.end, l.Offset+int64(l.Length))
		}
		if s.off >= 0 {
			out = append(out, s)
		}
	}
	return out
}

// pageCount is the number of data pages of cols that have an offset index.
func (ix *pageIndex) pageCount(cols []int) int64 {
	var n int64
	for _, c := range cols {
		n += int64(len(ix.column(c).locs))
	}
	return n
}

// isFlat reports whether leaf column col is read by a flat source.
func (fr *fileRead) isFlat(col int) bool {
	if fr.flat == nil {
		fr.flat = map[int]bool{}
		for _, fi := range fr.fields {
			sf := &fr.manifest.Fields[fi]
			if flatBinaryType(fr.pr, sf) != nil || flatFixedKindOf(fr.pr, sf) != fixedNone {
				fr.flat[sf.ColIndex] = true
			}
		}
	}
	return fr.flat[col]
}

// selectRows prepares reading the rows ranges of a row group in the
// columns leaves: for each flat column with an offset index, the pages
// holding none of the rows are not fetched (see pagedInput). It counts the
// pages and the bytes read and skipped, except for the columns in
// refetched (read before for the same row group, their chunks kept by the
// file's input).
func (fr *fileRead) selectRows(ix *pageIndex, rg *metadata.RowGroupMetaData, ranges []rowRange, leaves []int, refetched map[int]bool, st *counters) *rowSelection {
	sel := &rowSelection{ranges: ranges, rows: rangesRows(ranges), pages: map[int][]*metadata.PageLocation{}}
	for _, col := range leaves {
		cc, err := rg.ColumnChunk(col)
		if err != nil {
			continue
		}
		size := cc.TotalCompressedSize()
		locs := ix.column(col).locs
		var notFetched, skippedPages int64
		if locs != nil {
			sel.pages[col] = locs
			if fr.isFlat(col) {
				keep := pagesKept(locs, ranges, ix.rows)
				for _, k := range keep {
					if !k {
						skippedPages++
					}
				}
				if skippedPages > 0 {
					notFetched = fr.in.planChunk(cc, locs, keep)
				}
			}
		}
		if refetched[col] {
			continue
		}
		st.bytesRead.Add(size - notFetched)
		st.bytesSkipped.Add(notFetched)
		st.pages.Add(int64(len(locs)))
		st.pagesSkipped.Add(skippedPages)
	}
	return sel
}

// pagesKept says of each page whether it holds a row of ranges.
func pagesKept(locs []*metadata.PageLocation, ranges []rowRange, rows int64) []bool {
	keep := make([]bool, len(locs))
	cp := columnPages{locs: locs}
	j := 0
	for i := range locs {
		p := cp.pageRows(i, rows)
		for j < len(ranges) && ranges[j].end <= p.start {
			j++
		}
		keep[i] = j < len(ranges) && ranges[j].start < p.end
	}
	return keep
}

// readRanges reads a row group by row ranges: those its page indexes
// leave, narrowed first to the rows that match when the filter columns
// are read first.
func (fr *fileRead) readRanges(ctx context.Context, g rowGroupPlan, schema *arrow.Schema, st *counters, emit func(arrow.RecordBatch) bool) (stop bool, err error) {
	regions := g.ix.regions
	defer func() {
		fr.in.forgetRegions(regions)
		fr.in.forgetChunks()
		st.bytesRead.Add(fr.in.takeIndexBytes())
	}()
	rg := fr.pr.MetaData().RowGroup(g.index)
	ranges := g.ranges
	if ranges == nil {
		ranges = g.ix.all()
	}
	var refetched map[int]bool
	if g.late && !fr.lateOff {
		matched, err := fr.readLate(ctx, g.ix, rg, g.index, ranges, st)
		if err != nil {
			return false, err
		}
		st.lateRowGroups.Add(1)
		st.lateRowsSkip.Add(rangesRows(ranges) - rangesRows(matched))
		ranges = matched
		refetched = map[int]bool{}
		for _, c := range fr.late.leaves {
			refetched[c] = true
		}
		regions = append(regions, fr.lateRegions...)
		fr.lateRegions = fr.lateRegions[:0]
	}
	sel := fr.selectRows(g.ix, rg, ranges, fr.leaves, refetched, st)
	if sel.rows == 0 {
		return false, nil
	}
	return fr.readGroups(ctx, []int{g.index}, g.filter, sel, schema, st, emit)
}
