package executor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// batchSizes are the batch sizes every operator and expression test runs
// at: one row per batch, a size that leaves a ragged last batch, and one
// batch for everything.
var batchSizes = []int{1, 3, 1024}

// newAlloc returns a checked allocator and a context whose kernels use it.
// The allocator must be empty when the test ends.
func newAlloc(t *testing.T) (*memory.CheckedAllocator, context.Context) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem, executor.WithAllocator(t.Context(), mem)
}

// row is one row of the test table. A nil pointer is a SQL NULL.
type row struct {
	a    *int64
	s    *string
	p, q *bool
	f    *float64
	// st is struct<x int64, inner struct<y utf8>>. The child values are
	// stored even under a NULL parent, to check that field access applies
	// the parent's nulls.
	stNull, innerNull bool
	x                 *int64
	y                 *string
}

func ptr[T any](v T) *T { return &v }

// Column indexes and types of the test table.
var (
	innerType = arrow.StructOf(arrow.Field{Name: "y", Type: arrow.BinaryTypes.String, Nullable: true})
	stType    = arrow.StructOf(
		arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "inner", Type: innerType, Nullable: true},
	)
	testSchema = arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "p", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "q", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "st", Type: stType, Nullable: true},
	}, nil)

	colA  = &expr.Column{Index: 0, Name: "a", Type: arrow.PrimitiveTypes.Int64}
	colS  = &expr.Column{Index: 1, Name: "s", Type: arrow.BinaryTypes.String}
	colP  = &expr.Column{Index: 2, Name: "p", Type: arrow.FixedWidthTypes.Boolean}
	colQ  = &expr.Column{Index: 3, Name: "q", Type: arrow.FixedWidthTypes.Boolean}
	colF  = &expr.Column{Index: 4, Name: "f", Type: arrow.PrimitiveTypes.Float64}
	colST = &expr.Column{Index: 5, Name: "st", Type: stType}
	colX  = &expr.Column{Index: 5, Path: []int{0}, Name: "st.x", Type: arrow.PrimitiveTypes.Int64}
	colIn = &expr.Column{Index: 5, Path: []int{1}, Name: "st.inner", Type: innerType}
	colY  = &expr.Column{Index: 5, Path: []int{1, 0}, Name: "st.inner.y", Type: arrow.BinaryTypes.String}
)

// handRows cover the corners: every pair of three-valued p and q, NULLs in
// every column, LIKE metacharacters in strings, and struct children that
// are valid under a NULL parent.
var handRows = []row{
	{a: ptr[int64](1), s: ptr("apple"), p: ptr(true), q: ptr(true), f: ptr(1.5), x: ptr[int64](10), y: ptr("p")},
	{a: ptr[int64](2), s: ptr("Apple"), p: ptr(true), q: ptr(false), f: ptr(-0.5), stNull: true, x: ptr[int64](11), y: ptr("q")},
	{s: ptr("banana"), p: ptr(true), f: nil, y: nil},
	{a: ptr[int64](4), q: ptr(true), p: ptr(false), f: ptr(2.0), x: ptr[int64](13), innerNull: true, y: ptr("r")},
	{a: ptr[int64](5), s: ptr("a_b"), p: ptr(false), q: ptr(false), f: ptr(0.0), stNull: true, innerNull: true, x: ptr[int64](14), y: ptr("s")},
	{a: ptr[int64](-1), s: ptr("a%b"), p: ptr(false), f: ptr(10.0), x: ptr[int64](15), y: ptr("t")},
	{s: ptr(""), q: ptr(true), x: ptr[int64](16), y: ptr("")},
	{a: ptr[int64](0), s: ptr(`ab\c`), q: ptr(false), f: ptr(3.0), stNull: true},
	{a: ptr[int64](7), s: ptr("日本語"), f: ptr(4.0), x: ptr[int64](18), y: ptr("日")},
	{a: ptr[int64](4), s: ptr("APPLE PIE"), p: ptr(true), q: ptr(true), f: ptr(-2.0), innerNull: true},
	{a: ptr[int64](2), s: ptr("pineapple"), p: ptr(false), q: ptr(true), f: ptr(1.0), x: ptr[int64](20), y: ptr("u")},
	{},
}

var words = []string{"apple", "Apple", "APPLE", "banana", "a_b", "a%b", "", "x", "applesauce", "grape", "ab", "b"}

// genRows returns n pseudo-random rows; withNulls controls whether any
// value (or struct level) is NULL.
func genRows(n int, seed uint64, withNulls bool) []row {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	isNull := func() bool { return withNulls && r.IntN(6) == 0 }
	out := make([]row, n)
	for i := range out {
		var rw row
		if !isNull() {
			rw.a = ptr(int64(r.IntN(11) - 3))
		}
		if !isNull() {
			rw.s = ptr(words[r.IntN(len(words))])
		}
		if !isNull() {
			rw.p = ptr(r.IntN(2) == 0)
		}
		if !isNull() {
			rw.q = ptr(r.IntN(2) == 0)
		}
		if !isNull() {
			rw.f = ptr(float64(r.IntN(9)-4) / 2)
		}
		rw.stNull = isNull()
		rw.innerNull = isNull()
		if !isNull() {
			rw.x = ptr(int64(r.IntN(5)))
		}
		if !isNull() {
			rw.y = ptr(words[r.IntN(len(words))])
		}
		out[i] = rw
	}
	return out
}

// buildRecord builds the test table from rows on mem.
func buildRecord(mem memory.Allocator, rows []row) arrow.RecordBatch {
	ab := array.NewInt64Builder(mem)
	sb := array.NewStringBuilder(mem)
	pb := array.NewBooleanBuilder(mem)
	qb := array.NewBooleanBuilder(mem)
	fb := array.NewFloat64Builder(mem)
	xb := array.NewInt64Builder(mem)
	yb := array.NewStringBuilder(mem)
	builders := []array.Builder{ab, sb, pb, qb, fb, xb, yb}
	defer func() {
		for _, b := range builders {
			b.Release()
		}
	}()
	n := len(rows)
	stValid := memory.NewResizableBuffer(mem)
	stValid.Resize(int(bitutil.BytesForBits(int64(n))))
	defer stValid.Release()
	inValid := memory.NewResizableBuffer(mem)
	inValid.Resize(int(bitutil.BytesForBits(int64(n))))
	defer inValid.Release()
	stNulls, inNulls := 0, 0
	for i, r := range rows {
		appendPtr(ab, r.a, ab.Append)
		appendPtr(sb, r.s, sb.Append)
		appendPtr(pb, r.p, pb.Append)
		appendPtr(qb, r.q, qb.Append)
		appendPtr(fb, r.f, fb.Append)
		appendPtr(xb, r.x, xb.Append)
		appendPtr(yb, r.y, yb.Append)
		bitutil.SetBitTo(stValid.Bytes(), i, !r.stNull)
		bitutil.SetBitTo(inValid.Bytes(), i, !r.innerNull)
		if r.stNull {
			stNulls++
		}
		if r.innerNull {
			inNulls++
		}
	}
	cols := make([]arrow.Array, len(builders))
	for i, b := range builders {
		cols[i] = b.NewArray()
		defer cols[i].Release()
	}
	// The struct arrays are assembled from their children and validity
	// bitmaps, so that children may be valid under a NULL parent.
	innerData := array.NewData(innerType, n, []*memory.Buffer{inValid}, []arrow.ArrayData{cols[6].Data()}, inNulls, 0)
	defer innerData.Release()
	stData := array.NewData(stType, n, []*memory.Buffer{stValid}, []arrow.ArrayData{cols[5].Data(), innerData}, stNulls, 0)
	defer stData.Release()
	st := array.NewStructData(stData)
	defer st.Release()
	return array.NewRecordBatch(testSchema, []arrow.Array{cols[0], cols[1], cols[2], cols[3], cols[4], st}, int64(n))
}

func appendPtr[T any](b array.Builder, v *T, app func(T)) {
	if v == nil {
		b.AppendNull()
		return
	}
	app(*v)
}

// cut cuts rec into batches of size rows (the last may be shorter). The
// batches are new references owned by the caller.
func cut(rec arrow.RecordBatch, size int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i := int64(0); i < rec.NumRows(); i += int64(size) {
		out = append(out, rec.NewSlice(i, min(i+int64(size), rec.NumRows())))
	}
	return out
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// values returns the values of a as Go values: nil for NULL, and bool,
// int64, float64 or string otherwise.
func values(t *testing.T, a arrow.Array) []any {
	t.Helper()
	out := make([]any, a.Len())
	for i := range out {
		if a.IsNull(i) || a.DataType().ID() == arrow.NULL {
			continue
		}
		switch x := a.(type) {
		case *array.Boolean:
			out[i] = x.Value(i)
		case *array.Int64:
			out[i] = x.Value(i)
		case *array.Int32:
			out[i] = int64(x.Value(i))
		case *array.Float64:
			out[i] = x.Value(i)
		case *array.String:
			out[i] = x.Value(i)
		case *array.Struct:
			out[i] = x.ValueStr(i)
		default:
			t.Fatalf("values: unexpected array type %s", a.DataType())
		}
	}
	return out
}

// recordRows renders the rows of recs as strings, one per row, columns
// separated by |, NULL as "NULL".
func recordRows(t *testing.T, recs ...arrow.RecordBatch) []string {
	t.Helper()
	var out []string
	for _, rec := range recs {
		cols := make([][]any, rec.NumCols())
		for c := range cols {
			cols[c] = values(t, rec.Column(c))
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			s := ""
			for c := range cols {
				if c > 0 {
					s += "|"
				}
				if v := cols[c][r]; v == nil {
					s += "NULL"
				} else {
					s += fmt.Sprint(v)
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// source is an Operator that yields given batches. It holds a reference to
// each batch and hands out a new one on every Next. It records its
// lifecycle calls, and fails loudly on misuse.
type source struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	err     error // returned after the batches instead of io.EOF

	pos                  int
	opens, nexts, closes int
	closed               bool
	nextBeforeOpen       bool
}

var _ executor.Operator = (*source)(nil)

// newSource takes ownership of batches.
func newSource(schema *arrow.Schema, batches ...arrow.RecordBatch) *source {
	return &source{schema: schema, batches: batches}
}

func (s *source) Schema() *arrow.Schema          { return s.schema }
func (s *source) Children() []executor.Operator  { return nil }
func (s *source) String() string                 { return fmt.Sprintf("Source %d batches", len(s.batches)) }
func (s *source) Open(ctx context.Context) error { s.opens++; return nil }

func (s *source) Next() (arrow.RecordBatch, error) {
	s.nexts++
	if s.opens == 0 {
		s.nextBeforeOpen = true
	}
	if s.closed {
		return nil, errors.New("source: Next after Close")
	}
	if s.pos >= len(s.batches) {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	b := s.batches[s.pos]
	s.pos++
	b.Retain()
	return b, nil
}

func (s *source) Close() error {
	s.closes++
	if !s.closed {
		s.closed = true
		releaseAll(s.batches)
	}
	return nil
}

// drain reads op to the end (opening and closing it) and returns every
// batch it produced, as rows.
func drain(t *testing.T, ctx context.Context, op executor.Operator) ([]string, []int64) {
	t.Helper()
	var rows []string
	var sizes []int64
	err := executor.Drain(ctx, op, func(rec arrow.RecordBatch) error {
		if !rec.Schema().Equal(op.Schema()) {
			t.Errorf("batch schema %s differs from operator schema %s", rec.Schema(), op.Schema())
		}
		if rec.NumRows() == 0 {
			t.Errorf("operator returned an empty batch")
		}
		sizes = append(sizes, rec.NumRows())
		rows = append(rows, recordRows(t, rec)...)
		return nil
	})
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	return rows, sizes
}
