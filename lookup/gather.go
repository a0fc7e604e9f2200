package lookup

import (
	"context"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// gather builds a batch of columns which (nil for all) of the picked rows,
// in order, NULL rows where nothing was picked. Fixed-width and string
// columns are copied value by value into buffers of the final size; other
// types are taken with Take per source batch and put in place.
func (ix *Index) gather(ctx context.Context, picks []pick, which []int) (arrow.RecordBatch, error) {
	mem := compute.GetAllocator(ctx)
	if which == nil {
		which = make([]int, ix.schema.NumFields())
		for i := range which {
			which[i] = i
		}
	}
	fields := make([]arrow.Field, len(which))
	cols := make([]arrow.Array, len(which))
	var rest []int // positions in which left for Take
	for at, c := range which {
		fields[at] = ix.schema.Field(c)
		if col := gatherColumn(mem, fields[at].Type, c, picks); col != nil {
			cols[at] = col
		} else {
			rest = append(rest, at)
		}
	}
	if len(rest) > 0 {
		if err := takeColumns(ctx, mem, picks, which, rest, fields, cols); err != nil {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
			return nil, err
		}
	}
	schema := ix.schema
	for at, c := range which {
		if at != c || len(which) != ix.schema.NumFields() {
			schema = arrow.NewSchema(fields, nil)
			break
		}
	}
	out := array.NewRecordBatch(schema, cols, int64(len(picks)))
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

// source walks the picks' source arrays of one column, keeping the last
// batch's array so that runs of picks from one batch cost no lookups.
type source struct {
	c     int
	from  *rows
	batch int32
	arr   arrow.Array
	nulls bool
}

func (s *source) at(p pick) arrow.Array {
	if p.from != s.from || p.batch != s.batch || s.arr == nil {
		s.from, s.batch = p.from, p.batch
		s.arr = p.from.batches[p.batch].Column(s.c)
		s.nulls = s.arr.NullN() > 0
	}
	return s.arr
}

// validity is an output validity bitmap made on the first NULL.
type validity struct {
	mem  memory.Allocator
	buf  *memory.Buffer
	bits []byte
	n    int
	null int
}

func (v *validity) setNull(i int) {
	if v.buf == nil {
		v.buf = memory.NewResizableBuffer(v.mem)
		v.buf.Resize(int(bitutil.BytesForBits(int64(v.n))))
		v.bits = v.buf.Bytes()
		bitutil.SetBitsTo(v.bits, 0, int64(v.n), true)
	}
	bitutil.ClearBit(v.bits, i)
	v.null++
}

// gatherColumn copies column c of the picks for fixed-width types of whole
// bytes and for strings and binaries; nil for other types.
func gatherColumn(mem memory.Allocator, t arrow.DataType, c int, picks []pick) arrow.Array {
	switch t.ID() {
	case arrow.STRING, arrow.BINARY:
		return gatherBinary(mem, t, c, picks)
	case arrow.BOOL, arrow.DICTIONARY, arrow.EXTENSION:
		return nil
	}
	fw, ok := t.(arrow.FixedWidthDataType)
	if !ok || fw.BitWidth()%8 != 0 || len(t.Layout().Buffers) != 2 {
		return nil
	}
	switch fw.BitWidth() {
	case 8:
		return gatherFixed[uint8](mem, t, c, picks)
	case 16:
		return gatherFixed[uint16](mem, t, c, picks)
	case 32:
		return gatherFixed[uint32](mem, t, c, picks)
	case 64:
		return gatherFixed[uint64](mem, t, c, picks)
	case 128:
		return gatherFixed[[2]uint64](mem, t, c, picks)
	case 256:
		return gatherFixed[[4]uint64](mem, t, c, picks)
	}
	return nil
}

func gatherFixed[T uint8 | uint16 | uint32 | uint64 | [2]uint64 | [4]uint64](mem memory.Allocator, t arrow.DataType, c int, picks []pick) arrow.Array {
	n := len(picks)
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * int(t.(arrow.FixedWidthDataType).BitWidth()/8))
	out := castBytes[T](buf.Bytes())
	valid := validity{mem: mem, n: n}
	src := source{c: c}
	var vals []T
	for i, p := range picks {
		if p.from == nil {
			valid.setNull(i)
			var zero T
			out[i] = zero
			continue
		}
		if p.from != src.from || p.batch != src.batch || src.arr == nil {
			a := src.at(p)
			d := a.Data()
			vals = castBytes[T](d.Buffers()[1].Bytes())[d.Offset():]
		}
		if src.nulls && src.arr.IsNull(int(p.row)) {
			valid.setNull(i)
			var zero T
			out[i] = zero
			continue
		}
		out[i] = vals[p.row]
	}
	data := array.NewData(t, n, []*memory.Buffer{valid.buf, buf}, nil, valid.null, 0)
	a := array.MakeFromData(data)
	data.Release()
	buf.Release()
	if valid.buf != nil {
		valid.buf.Release()
	}
	return a
}

// castBytes views a buffer as values of T.
func castBytes[T any](b []byte) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(b) < size {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/size)
}

// gatherBinary copies a string or binary column (32-bit offsets).
func gatherBinary(mem memory.Allocator, t arrow.DataType, c int, picks []pick) arrow.Array {
	n := len(picks)
	offBuf := memory.NewResizableBuffer(mem)
	offBuf.Resize((n + 1) * 4)
	offs := arrow.Int32Traits.CastFromBytes(offBuf.Bytes())
	valid := validity{mem: mem, n: n}
	src := source{c: c}
	type binaryLike interface {
		arrow.Array
		ValueOffsets() []int32
		ValueBytes() []byte
	}
	var cur binaryLike
	// Sizes first, then the bytes into a buffer of the total.
	total := 0
	for i, p := range picks {
		offs[i] = int32(total)
		if p.from == nil {
			continue
		}
		if p.from != src.from || p.batch != src.batch || src.arr == nil {
			cur = src.at(p).(binaryLike)
		}
		if src.nulls && cur.IsNull(int(p.row)) {
			continue
		}
		o := cur.ValueOffsets()
		total += int(o[p.row+1] - o[p.row])
	}
	offs[n] = int32(total)
	dataBuf := memory.NewResizableBuffer(mem)
	dataBuf.Resize(total)
	bytes := dataBuf.Bytes()
	src = source{c: c}
	for i, p := range picks {
		if p.from == nil {
			valid.setNull(i)
			continue
		}
		if p.from != src.from || p.batch != src.batch || src.arr == nil {
			cur = src.at(p).(binaryLike)
		}
		if src.nulls && cur.IsNull(int(p.row)) {
			valid.setNull(i)
			continue
		}
		o := cur.ValueOffsets()
		copy(bytes[offs[i]:offs[i+1]], cur.ValueBytes()[o[p.row]:o[p.row+1]])
	}
	data := array.NewData(t, n, []*memory.Buffer{valid.buf, offBuf, dataBuf}, nil, valid.null, 0)
	a := array.MakeFromData(data)
	data.Release()
	offBuf.Release()
	dataBuf.Release()
	if valid.buf != nil {
		valid.buf.Release()
	}
	return a
}

// takeColumns fills cols[at] for each at in rest: the picked rows of each
// source batch are taken at once, concatenated, and put in order.
func takeColumns(ctx context.Context, mem memory.Allocator, picks []pick, which, rest []int, fields []arrow.Field, cols []arrow.Array) error {
	type group struct {
		rec  arrow.RecordBatch
		rows []int64
	}
	var groups []*group
	groupOf := map[arrow.RecordBatch]int{}
	type place struct{ g, i int }
	places := make([]place, len(picks))
	for i, p := range picks {
		if p.from == nil {
			places[i] = place{-1, 0}
			continue
		}
		rec := p.from.batches[p.batch]
		g, ok := groupOf[rec]
		if !ok {
			g = len(groups)
			groupOf[rec] = g
			groups = append(groups, &group{rec: rec})
		}
		places[i] = place{g, len(groups[g].rows)}
		groups[g].rows = append(groups[g].rows, int64(p.row))
	}
	if len(groups) == 0 {
		for _, at := range rest {
			cols[at] = array.MakeArrayOfNull(mem, fields[at].Type, len(picks))
		}
		return nil
	}
	offsets := make([]int64, len(groups)+1)
	for i, g := range groups {
		offsets[i+1] = offsets[i] + int64(len(g.rows))
	}
	pb := array.NewInt64Builder(mem)
	for _, pl := range places {
		if pl.g < 0 {
			pb.AppendNull()
		} else {
			pb.Append(offsets[pl.g] + int64(pl.i))
		}
	}
	perm := pb.NewArray()
	pb.Release()
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
	for _, at := range rest {
		c := which[at]
		pieces := make([]arrow.Array, 0, len(groups))
		for i, g := range groups {
			t, err := compute.TakeArray(ctx, g.rec.Column(c), idx[i])
			if err != nil {
				for _, p := range pieces {
					p.Release()
				}
				return err
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
				return err
			}
		}
		out, err := compute.TakeArray(ctx, all, perm)
		all.Release()
		if err != nil {
			return err
		}
		cols[at] = out
	}
	return nil
}
