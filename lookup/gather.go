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
	var zero T
	size := uintptr(unsafe.Sizeof(zero))
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * int(size))
	out := castBytes[T](buf.Bytes())
	valid := validity{mem: mem, n: n}
	for i, p := range picks {
		if p.from == nil {
			valid.setNull(i)
			out[i] = zero
			continue
		}
		v := &p.from.views[c][p.batch]
		if v.valid != nil && !bitutil.BitIsSet(v.valid, v.voff+int(p.row)) {
			valid.setNull(i)
			out[i] = zero
			continue
		}
		out[i] = *(*T)(unsafe.Add(v.values, uintptr(p.row)*size))
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

// colView is one column of one batch as its buffers: for fixed-width
// types a pointer to the first value (after the array's offset), for
// strings and binaries the offsets (from the array's offset) and data;
// the validity bitmap when there are NULLs.
type colView struct {
	values unsafe.Pointer
	offs   []int32
	data   []byte
	valid  []byte
	voff   int
}

func viewOf(a arrow.Array) colView {
	var v colView
	d := a.Data()
	if a.NullN() > 0 && len(d.Buffers()) > 0 && d.Buffers()[0] != nil {
		v.valid, v.voff = d.Buffers()[0].Bytes(), d.Offset()
	}
	switch x := a.(type) {
	case *array.String:
		v.offs, v.data = x.ValueOffsets(), x.ValueBytes()
		return v
	case *array.Binary:
		v.offs, v.data = x.ValueOffsets(), x.ValueBytes()
		return v
	}
	fw, ok := a.DataType().(arrow.FixedWidthDataType)
	if !ok || fw.BitWidth()%8 != 0 || len(d.Buffers()) < 2 || d.Buffers()[1] == nil || d.Buffers()[1].Len() == 0 {
		return v
	}
	b := d.Buffers()[1].Bytes()
	v.values = unsafe.Pointer(&b[d.Offset()*fw.BitWidth()/8:][:1][0])
	return v
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

// gatherBinary copies a string or binary column (32-bit offsets): the
// sizes first, then the bytes into a buffer of their total.
func gatherBinary(mem memory.Allocator, t arrow.DataType, c int, picks []pick) arrow.Array {
	n := len(picks)
	offBuf := memory.NewResizableBuffer(mem)
	offBuf.Resize((n + 1) * 4)
	offs := arrow.Int32Traits.CastFromBytes(offBuf.Bytes())
	valid := validity{mem: mem, n: n}
	total := 0
	for i, p := range picks {
		offs[i] = int32(total)
		if p.from == nil {
			continue
		}
		v := &p.from.views[c][p.batch]
		if v.valid != nil && !bitutil.BitIsSet(v.valid, v.voff+int(p.row)) {
			continue
		}
		total += int(v.offs[p.row+1] - v.offs[p.row])
	}
	offs[n] = int32(total)
	dataBuf := memory.NewResizableBuffer(mem)
	dataBuf.Resize(total)
	bytes := dataBuf.Bytes()
	for i, p := range picks {
		if offs[i] == offs[i+1] {
			if p.from == nil {
				valid.setNull(i)
			} else if v := &p.from.views[c][p.batch]; v.valid != nil && !bitutil.BitIsSet(v.valid, v.voff+int(p.row)) {
				valid.setNull(i)
			}
			continue
		}
		v := &p.from.views[c][p.batch]
		copy(bytes[offs[i]:offs[i+1]], v.data[v.offs[p.row]:v.offs[p.row+1]])
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
