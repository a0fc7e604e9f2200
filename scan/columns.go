package scan

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// columnSource yields one top-level field of a file, batch by batch, over
// a run of row groups. next returns up to n rows, owned by the caller, and
// a zero-length array at the end.
type columnSource interface {
	next(n int64) (arrow.Array, error)
	release()
}

// openColumns opens a source for each top-level field read (in the order
// of fr.schema), or for the fields at positions which when it is not nil,
// over the row groups: flat string and binary columns are decoded by
// flatBinarySource, flat fixed-width ones by flatFixedSource, everything
// else (nested fields, other types) by pqarrow. sel, when not nil, is the
// rows of the one row group to read.
func (fr *fileRead) openColumns(ctx context.Context, mem memory.Allocator, groups []int, sel *rowSelection, which []int) (_ []columnSource, err error) {
	fields := fr.fields
	if len(fields) != fr.schema.NumFields() {
		return nil, fmt.Errorf("parquet file %s: %d fields for a schema of %d", fr.task.File.FilePath(), len(fields), fr.schema.NumFields())
	}
	if sel != nil && len(groups) != 1 {
		return nil, fmt.Errorf("parquet file %s: a row selection over %d row groups", fr.task.File.FilePath(), len(groups))
	}
	if which == nil {
		which = make([]int, len(fields))
		for i := range which {
			which[i] = i
		}
	}
	included := make(map[int]bool, len(fr.leaves))
	for _, l := range fr.leaves {
		included[l] = true
	}
	sources := make([]columnSource, 0, len(which))
	defer func() {
		if err != nil {
			for _, s := range sources {
				s.release()
			}
		}
	}()
	for _, i := range which {
		fi := fields[i]
		sf := &fr.manifest.Fields[fi]
		if src := newFlatBinarySource(fr.pr, sf, groups, mem); src != nil {
			src.cur = sel.cursor(sf.ColIndex)
			if sel != nil {
				src.left = sel.rows
			}
			sources = append(sources, src)
			continue
		}
		if src := newFlatFixedSource(fr.pr, sf, groups, mem, sel); src != nil {
			sources = append(sources, src)
			continue
		}
		ar, err := fr.arrowReader(ctx)
		if err != nil {
			return nil, err
		}
		cr, err := ar.GetFieldReader(ctx, fi, included, groups)
		if err != nil {
			return nil, err
		}
		if cr == nil {
			return nil, fmt.Errorf("parquet file %s: no reader for field %s", fr.task.File.FilePath(), fr.schema.Field(i).Name)
		}
		if !arrow.TypeEqual(cr.Field().Type, fr.schema.Field(i).Type) {
			cr.Release()
			return nil, fmt.Errorf("parquet file %s: field %s read as %s, expected %s", fr.task.File.FilePath(), cr.Field().Name, cr.Field().Type, fr.schema.Field(i).Type)
		}
		var src columnSource = &pqarrowSource{cr: cr, mem: mem}
		if sel != nil {
			src = &rangedSource{src: src, ranges: sel.ranges, typ: cr.Field().Type, mem: mem}
		}
		sources = append(sources, src)
	}
	return sources, nil
}

// rowSelection is the rows of one row group a read decodes, and the page
// locations (offset index) of the leaf columns that have them.
type rowSelection struct {
	ranges []rowRange
	rows   int64
	pages  map[int][]*metadata.PageLocation
}

// cursor returns a cursor over the selection for leaf column col; nil for
// a nil selection (every row).
func (sel *rowSelection) cursor(col int) *rowCursor {
	if sel == nil {
		return nil
	}
	return &rowCursor{ranges: sel.ranges, pages: sel.pages[col]}
}

// rowCursor moves a flat column's chunk reader over the selected rows of
// its row group: across pages through the offset index (SeekToRow, which
// reads and decompresses nothing in between), within a page, or without
// an offset index, by skipping values.
type rowCursor struct {
	ranges []rowRange // the rows still to read
	pos    int64      // the row the chunk reader is at
	pages  []*metadata.PageLocation
}

// seekable is what a rowCursor needs of a typed chunk reader.
type seekable interface {
	SeekToRow(row int64) error
	Skip(n int64) (int64, error)
}

// take moves the reader to the next row to read and returns how many rows
// may be read from there, at most n; 0 when no selected row is left.
func (c *rowCursor) take(cr seekable, n int64) (int64, error) {
	for len(c.ranges) > 0 && c.pos >= c.ranges[0].end {
		c.ranges = c.ranges[1:]
	}
	if len(c.ranges) == 0 {
		return 0, nil
	}
	r := c.ranges[0]
	if c.pos < r.start {
		if c.pages != nil && pageOf(c.pages, r.start) != pageOf(c.pages, c.pos) {
			if err := cr.SeekToRow(r.start); err != nil {
				return 0, err
			}
		} else if _, err := cr.Skip(r.start - c.pos); err != nil {
			return 0, err
		}
		c.pos = r.start
	}
	return min(n, r.end-c.pos), nil
}

// advance records that n rows were read.
func (c *rowCursor) advance(n int64) { c.pos += n }

// pageOf is the page holding row.
func pageOf(pages []*metadata.PageLocation, row int64) int {
	i, found := slices.BinarySearchFunc(pages, row, func(l *metadata.PageLocation, r int64) int {
		return cmp.Compare(l.FirstRowIndex, r)
	})
	if found {
		return i
	}
	return i - 1
}

// rangedSource reads the selected rows of a source that reads every row:
// the rows in between are decoded and dropped.
type rangedSource struct {
	src    columnSource
	ranges []rowRange
	pos    int64
	typ    arrow.DataType
	mem    memory.Allocator
}

func (s *rangedSource) next(n int64) (arrow.Array, error) {
	var parts []arrow.Array
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	var got int64
	for got < n {
		for len(s.ranges) > 0 && s.pos >= s.ranges[0].end {
			s.ranges = s.ranges[1:]
		}
		if len(s.ranges) == 0 {
			break
		}
		r := s.ranges[0]
		for s.pos < r.start {
			a, err := s.src.next(r.start - s.pos)
			if err != nil {
				return nil, err
			}
			l := int64(a.Len())
			a.Release()
			if l == 0 {
				return nil, fmt.Errorf("column ended at row %d, before row %d", s.pos, r.start)
			}
			s.pos += l
		}
		a, err := s.src.next(min(n-got, r.end-s.pos))
		if err != nil {
			return nil, err
		}
		if a.Len() == 0 {
			a.Release()
			return nil, fmt.Errorf("column ended at row %d, before row %d", s.pos, r.end)
		}
		parts = append(parts, a)
		got += int64(a.Len())
		s.pos += int64(a.Len())
	}
	switch len(parts) {
	case 0:
		return array.MakeArrayOfNull(s.mem, s.typ, 0), nil
	case 1:
		a := parts[0]
		parts = nil
		return a, nil
	}
	return array.Concatenate(parts, s.mem)
}

func (s *rangedSource) release() { s.src.release() }

// slicePool recycles the scratch slices of the flat column sources, which
// are opened for every file.
type slicePool[T any] struct{ p sync.Pool }

func (sp *slicePool[T]) get(n int64) []T {
	if v, ok := sp.p.Get().(*[]T); ok && int64(cap(*v)) >= n {
		return (*v)[:n]
	}
	return make([]T, n)
}

func (sp *slicePool[T]) put(s []T) {
	if cap(s) > 0 {
		clear(s[:cap(s)])
		sp.p.Put(&s)
	}
}

var (
	levelPool     slicePool[int16]
	byteArrayPool slicePool[parquet.ByteArray]
	int32Pool     slicePool[int32]
	int64Pool     slicePool[int64]
)

// rowsOf is the number of rows of the row groups.
func rowsOf(pr *file.Reader, groups []int) int64 {
	var n int64
	for _, g := range groups {
		n += pr.MetaData().RowGroup(g).NumRows()
	}
	return n
}

// pqarrowSource reads a field with pqarrow's column reader.
type pqarrowSource struct {
	cr  *pqarrow.ColumnReader
	mem memory.Allocator
}

func (s *pqarrowSource) next(n int64) (arrow.Array, error) {
	ch, err := s.cr.NextBatch(n)
	if err != nil {
		return nil, err
	}
	defer ch.Release()
	switch len(ch.Chunks()) {
	case 0:
		return array.MakeArrayOfNull(s.mem, ch.DataType(), 0), nil
	case 1:
		a := ch.Chunk(0)
		a.Retain()
		return a, nil
	}
	return array.Concatenate(ch.Chunks(), s.mem)
}

func (s *pqarrowSource) release() { s.cr.Release() }

// flatBinarySource decodes a top-level, non-repeated BYTE_ARRAY column
// read as Arrow string or binary straight into the offsets and data
// buffers of its batches: pqarrow appends such values one by one through
// a builder, which costs several times more for short strings.
type flatBinarySource struct {
	pr       *file.Reader
	col      int
	groups   []int
	typ      arrow.DataType
	nullable bool
	mem      memory.Allocator

	chunk *file.ByteArrayColumnChunkReader
	// cur, when not nil, is the rows of the (one) row group to read.
	cur  *rowCursor
	left int64 // rows not yet returned
	vals []parquet.ByteArray
	defs []int16
	// perRow is the data bytes per row of the previous batch, to size the
	// next one.
	perRow float64
}

// flatBinaryType is the Arrow type a flatBinarySource yields for sf, or nil
// when sf is not a top-level, non-repeated BYTE_ARRAY column that pqarrow
// reads as string or binary. Large variants (which files written from
// PyArrow ask for) are read as the 32-bit ones the plan's schema uses.
func flatBinaryType(pr *file.Reader, sf *pqarrow.SchemaField) arrow.DataType {
	if !sf.IsLeaf() {
		return nil
	}
	var t arrow.DataType
	switch sf.Field.Type.(type) {
	case *arrow.StringType, *arrow.LargeStringType:
		t = arrow.BinaryTypes.String
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		t = arrow.BinaryTypes.Binary
	default:
		return nil
	}
	c := pr.MetaData().Schema.Column(sf.ColIndex)
	if c.PhysicalType() != parquet.Types.ByteArray || c.MaxRepetitionLevel() != 0 || c.MaxDefinitionLevel() > 1 {
		return nil
	}
	return t
}

// newFlatBinarySource returns a source for sf, or nil when flatBinaryType
// says sf is not a flat string or binary column.
func newFlatBinarySource(pr *file.Reader, sf *pqarrow.SchemaField, groups []int, mem memory.Allocator) *flatBinarySource {
	t := flatBinaryType(pr, sf)
	if t == nil {
		return nil
	}
	c := pr.MetaData().Schema.Column(sf.ColIndex)
	return &flatBinarySource{pr: pr, col: sf.ColIndex, groups: groups, typ: t, nullable: c.MaxDefinitionLevel() == 1, mem: mem, left: rowsOf(pr, groups)}
}

// nextChunk moves to the next row group's column chunk; false at the end.
func (s *flatBinarySource) nextChunk() (bool, error) {
	if s.chunk != nil {
		s.chunk.Close()
		s.chunk = nil
	}
	if len(s.groups) == 0 {
		return false, nil
	}
	cr, err := s.pr.RowGroup(s.groups[0]).Column(s.col)
	if err != nil {
		return false, err
	}
	s.groups = s.groups[1:]
	ba, ok := cr.(*file.ByteArrayColumnChunkReader)
	if !ok {
		cr.Close()
		return false, fmt.Errorf("column %d is not a byte array column", s.col)
	}
	s.chunk = ba
	return true, nil
}

// binaryStep is how many values a flatBinarySource decodes at a time: its
// scratch of byte slices (pointers the garbage collector scans and guards
// with write barriers) stays small.
const binaryStep = 4096

func (s *flatBinarySource) next(n int64) (_ arrow.Array, err error) {
	n = min(n, s.left)
	if s.vals == nil {
		s.vals = byteArrayPool.get(binaryStep)
		if s.nullable {
			s.defs = levelPool.get(binaryStep)
		}
	}
	offsets := memory.NewResizableBuffer(s.mem)
	data := memory.NewResizableBuffer(s.mem)
	if s.perRow > 0 {
		data.Reserve(int(min(s.perRow*1.1*float64(n)+64, math.MaxInt32)))
	}
	var valid *memory.Buffer
	defer func() {
		offsets.Release()
		data.Release()
		if valid != nil {
			valid.Release()
		}
	}()
	offsets.Resize(int(n+1) * arrow.Int32SizeBytes)
	offs := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	offs[0] = 0
	var (
		rows, nulls int64
		size        int // bytes of data written
	)
	for rows < n {
		want := min(n-rows, binaryStep)
		if s.chunk != nil && s.cur != nil {
			// Move to the next selected row before HasNext reads a page.
			if want, err = s.cur.take(s.chunk, want); err != nil {
				return nil, err
			}
		}
		if s.chunk == nil || want == 0 || !s.chunk.HasNext() {
			if s.chunk != nil {
				if err := s.chunk.Err(); err != nil {
					return nil, err
				}
			}
			more, err := s.nextChunk()
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
			continue
		}
		var defs []int16
		if s.nullable {
			defs = s.defs[:want]
		}
		total, nvals, err := s.chunk.ReadBatchInPage(want, s.vals[:want], defs, nil)
		if err != nil {
			return nil, err
		}
		if total == 0 {
			continue
		}
		if s.cur != nil {
			s.cur.advance(total)
		}
		vals := s.vals[:nvals]
		need := size
		for _, v := range vals {
			need += len(v)
		}
		if need > math.MaxInt32 {
			// pqarrow fails the same way: one batch of a column holds at
			// most 2 GiB.
			return nil, fmt.Errorf("parquet column %d: more than 2 GiB of values in one batch", s.col)
		}
		if need > data.Cap() {
			data.Reserve(min(max(need, 2*data.Cap(), 4096), math.MaxInt32))
		}
		buf := data.Buf()[:data.Cap()]
		out := offs[rows+1 : rows+1+total]
		if int64(nvals) == total {
			for i, v := range vals {
				if len(v) == 1 {
					buf[size] = v[0]
					size++
				} else {
					size += copy(buf[size:], v)
				}
				out[i] = int32(size)
			}
		} else {
			if valid == nil {
				valid = memory.NewResizableBuffer(s.mem)
				valid.Resize(int(bitutil.BytesForBits(n)))
				bits := valid.Bytes()
				memory.Set(bits, 0)
				bitutil.SetBitsTo(bits, 0, rows, true)
			}
			bits := valid.Bytes()
			k := 0
			for i, d := range defs[:total] {
				if d == 1 {
					size += copy(buf[size:], vals[k])
					k++
					bitutil.SetBit(bits, int(rows)+i)
				} else {
					nulls++
				}
				out[i] = int32(size)
			}
		}
		if valid != nil && int64(nvals) == total {
			bitutil.SetBitsTo(valid.Bytes(), rows, total, true)
		}
		rows += total
	}
	if rows < n && s.cur != nil {
		return nil, fmt.Errorf("parquet column %d ended %d rows before the selection", s.col, n-rows)
	}
	offsets.ResizeNoShrink(int(rows+1) * arrow.Int32SizeBytes)
	data.ResizeNoShrink(size)
	s.left -= rows
	if rows > 0 {
		s.perRow = float64(size) / float64(rows)
	}
	bufs := []*memory.Buffer{nil, offsets, data}
	if nulls > 0 {
		bufs[0] = valid
	}
	d := array.NewData(s.typ, int(rows), bufs, nil, int(nulls), 0)
	defer d.Release()
	return array.MakeFromData(d), nil
}

func (s *flatBinarySource) release() {
	if s.chunk != nil {
		s.chunk.Close()
		s.chunk = nil
	}
	byteArrayPool.put(s.vals)
	levelPool.put(s.defs)
	s.vals, s.defs = nil, nil
}

// flatFixedKind says how a flat fixed-width column is decoded: its values
// copied as they are, or widened to decimal128.
type flatFixedKind int8

const (
	fixedNone flatFixedKind = iota
	fixedRaw
	fixedDecimal
)

// flatFixedKindOf says whether sf is a top-level, non-repeated INT32,
// INT64, FLOAT or DOUBLE column whose Arrow type (pqarrow's) holds the
// Parquet values unchanged (integers, dates, times and timestamps of the
// same unit, floats) or as decimal128.
func flatFixedKindOf(pr *file.Reader, sf *pqarrow.SchemaField) flatFixedKind {
	if !sf.IsLeaf() {
		return fixedNone
	}
	c := pr.MetaData().Schema.Column(sf.ColIndex)
	if c.MaxRepetitionLevel() != 0 || c.MaxDefinitionLevel() > 1 {
		return fixedNone
	}
	phys, lt := c.PhysicalType(), c.LogicalType()
	plainInt := func(bits int8) bool {
		switch t := lt.(type) {
		case schema.NoLogicalType:
			return true
		case schema.IntLogicalType:
			return t.IsSigned() && t.BitWidth() == bits
		}
		return false
	}
	unit := func(u schema.TimeUnitType) arrow.TimeUnit {
		switch u {
		case schema.TimeUnitMillis:
			return arrow.Millisecond
		case schema.TimeUnitMicros:
			return arrow.Microsecond
		case schema.TimeUnitNanos:
			return arrow.Nanosecond
		}
		return -1
	}
	switch t := sf.Field.Type.(type) {
	case *arrow.Int32Type:
		if phys == parquet.Types.Int32 && plainInt(32) {
			return fixedRaw
		}
	case *arrow.Date32Type:
		if _, ok := lt.(schema.DateLogicalType); ok && phys == parquet.Types.Int32 {
			return fixedRaw
		}
	case *arrow.Int64Type:
		if phys == parquet.Types.Int64 && plainInt(64) {
			return fixedRaw
		}
	case *arrow.Time64Type:
		if l, ok := lt.(schema.TimeLogicalType); ok && phys == parquet.Types.Int64 && unit(l.TimeUnit()) == t.Unit {
			return fixedRaw
		}
	case *arrow.TimestampType:
		if l, ok := lt.(schema.TimestampLogicalType); ok && phys == parquet.Types.Int64 && unit(l.TimeUnit()) == t.Unit {
			return fixedRaw
		}
	case *arrow.Float32Type:
		if phys == parquet.Types.Float {
			return fixedRaw
		}
	case *arrow.Float64Type:
		if phys == parquet.Types.Double {
			return fixedRaw
		}
	case *arrow.Decimal128Type:
		if phys == parquet.Types.Int32 || phys == parquet.Types.Int64 {
			return fixedDecimal
		}
	}
	return fixedNone
}

// typedChunk is a typed Parquet column chunk reader.
type typedChunk[T int32 | int64 | float32 | float64] interface {
	ReadBatchInPage(n int64, values []T, defLvls, repLvls []int16) (total int64, valuesRead int, err error)
	seekable
	HasNext() bool
	Err() error
	Close() error
}

// flatFixedSource decodes a flat INT32, INT64, FLOAT or DOUBLE column
// straight into the buffer of its batches (values as they are, or widened
// to decimal128), where pqarrow decodes into a buffer of its own first.
type flatFixedSource[T int32 | int64 | float32 | float64] struct {
	pr       *file.Reader
	col      int
	groups   []int
	typ      arrow.DataType
	decimal  bool
	nullable bool
	mem      memory.Allocator

	chunk typedChunk[T]
	cur   *rowCursor // as flatBinarySource's
	left  int64      // rows not yet returned
	vals  []T        // decimals: the values before widening
	defs  []int16
}

// newFlatFixedSource returns a source for sf, or nil when flatFixedKindOf
// says sf is not a flat fixed-width column. sel, when not nil, is the rows
// of the one row group to read.
func newFlatFixedSource(pr *file.Reader, sf *pqarrow.SchemaField, groups []int, mem memory.Allocator, sel *rowSelection) columnSource {
	kind := flatFixedKindOf(pr, sf)
	if kind == fixedNone {
		return nil
	}
	c := pr.MetaData().Schema.Column(sf.ColIndex)
	nullable := c.MaxDefinitionLevel() == 1
	dec := kind == fixedDecimal
	left := rowsOf(pr, groups)
	if sel != nil {
		left = sel.rows
	}
	cur := sel.cursor(sf.ColIndex)
	switch c.PhysicalType() {
	case parquet.Types.Int32:
		return &flatFixedSource[int32]{pr: pr, col: sf.ColIndex, groups: groups, typ: sf.Field.Type, decimal: dec, nullable: nullable, mem: mem, left: left, cur: cur}
	case parquet.Types.Int64:
		return &flatFixedSource[int64]{pr: pr, col: sf.ColIndex, groups: groups, typ: sf.Field.Type, decimal: dec, nullable: nullable, mem: mem, left: left, cur: cur}
	case parquet.Types.Float:
		return &flatFixedSource[float32]{pr: pr, col: sf.ColIndex, groups: groups, typ: sf.Field.Type, nullable: nullable, mem: mem, left: left, cur: cur}
	case parquet.Types.Double:
		return &flatFixedSource[float64]{pr: pr, col: sf.ColIndex, groups: groups, typ: sf.Field.Type, nullable: nullable, mem: mem, left: left, cur: cur}
	}
	return nil
}

func (s *flatFixedSource[T]) nextChunk() (bool, error) {
	if s.chunk != nil {
		s.chunk.Close()
		s.chunk = nil
	}
	if len(s.groups) == 0 {
		return false, nil
	}
	cr, err := s.pr.RowGroup(s.groups[0]).Column(s.col)
	if err != nil {
		return false, err
	}
	s.groups = s.groups[1:]
	tc, ok := cr.(typedChunk[T])
	if !ok {
		cr.Close()
		return false, fmt.Errorf("column %d has physical type %s", s.col, cr.Type())
	}
	s.chunk = tc
	return true, nil
}

func (s *flatFixedSource[T]) next(n int64) (_ arrow.Array, err error) {
	n = min(n, s.left)
	if s.nullable && int64(len(s.defs)) < n {
		levelPool.put(s.defs)
		s.defs = levelPool.get(n)
	}
	if s.decimal && int64(len(s.vals)) < n {
		s.putVals()
		s.vals = s.getVals(n)
	}
	var zero T
	width := int(unsafe.Sizeof(zero))
	if s.decimal {
		width = arrow.Decimal128SizeBytes
	}
	values := memory.NewResizableBuffer(s.mem)
	var valid *memory.Buffer
	defer func() {
		values.Release()
		if valid != nil {
			valid.Release()
		}
	}()
	values.Resize(int(n) * width)
	var out []T
	var decs []decimal128.Num
	if s.decimal {
		decs = arrow.Decimal128Traits.CastFromBytes(values.Bytes())
	} else {
		out = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(values.Bytes()))), n)
	}
	var rows, nulls int64
	for rows < n {
		want := n - rows
		if s.chunk != nil && s.cur != nil {
			if want, err = s.cur.take(s.chunk, want); err != nil {
				return nil, err
			}
		}
		if s.chunk == nil || want == 0 || !s.chunk.HasNext() {
			if s.chunk != nil {
				if err := s.chunk.Err(); err != nil {
					return nil, err
				}
			}
			more, err := s.nextChunk()
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
			continue
		}
		var defs []int16
		if s.nullable {
			defs = s.defs[:want]
		}
		dst := s.vals
		if !s.decimal {
			dst = out[rows:]
		}
		total, nvals, err := s.chunk.ReadBatchInPage(want, dst[:want], defs, nil)
		if err != nil {
			return nil, err
		}
		if total == 0 {
			continue
		}
		if s.cur != nil {
			s.cur.advance(total)
		}
		dense := int64(nvals) == total
		if !dense && valid == nil {
			valid = memory.NewResizableBuffer(s.mem)
			valid.Resize(int(bitutil.BytesForBits(n)))
			memory.Set(valid.Bytes(), 0)
			bitutil.SetBitsTo(valid.Bytes(), 0, rows, true)
		}
		switch {
		case s.decimal && dense:
			for i, v := range s.vals[:total] {
				decs[rows+int64(i)] = decimal128.FromI64(int64(v))
			}
		case s.decimal:
			k := 0
			for i, d := range defs[:total] {
				if d == 1 {
					decs[rows+int64(i)] = decimal128.FromI64(int64(s.vals[k]))
					k++
				}
			}
		case !dense:
			// Spread the values read densely to their rows, from the end.
			seg := out[rows : rows+total]
			k := nvals - 1
			for i := int(total) - 1; i >= 0; i-- {
				if defs[i] == 1 {
					seg[i] = seg[k]
					k--
				} else {
					seg[i] = 0
				}
			}
		}
		if valid != nil {
			bits := valid.Bytes()
			if dense {
				bitutil.SetBitsTo(bits, rows, total, true)
			} else {
				for i, d := range defs[:total] {
					if d == 1 {
						bitutil.SetBit(bits, int(rows)+i)
					} else {
						nulls++
					}
				}
			}
		}
		rows += total
	}
	if rows < n && s.cur != nil {
		return nil, fmt.Errorf("parquet column %d ended %d rows before the selection", s.col, n-rows)
	}
	values.ResizeNoShrink(int(rows) * width)
	s.left -= rows
	bufs := []*memory.Buffer{nil, values}
	if nulls > 0 {
		bufs[0] = valid
	}
	d := array.NewData(s.typ, int(rows), bufs, nil, int(nulls), 0)
	defer d.Release()
	return array.MakeFromData(d), nil
}

func (s *flatFixedSource[T]) release() {
	if s.chunk != nil {
		s.chunk.Close()
		s.chunk = nil
	}
	levelPool.put(s.defs)
	s.putVals()
	s.defs = nil
}

// getVals and putVals recycle the scratch of decimal columns (INT32 or
// INT64 values).
func (s *flatFixedSource[T]) getVals(n int64) []T {
	switch any(s.vals).(type) {
	case []int32:
		return any(int32Pool.get(n)).([]T)
	case []int64:
		return any(int64Pool.get(n)).([]T)
	}
	return make([]T, n)
}

func (s *flatFixedSource[T]) putVals() {
	switch v := any(s.vals).(type) {
	case []int32:
		int32Pool.put(v)
	case []int64:
		int64Pool.put(v)
	}
	s.vals = nil
}
