package executor

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/lakeflight/lakeflight/expr"
)

// Decimal arithmetic straight on the unscaled 128-bit values, for the
// common cases where no rounding is needed: the compute kernels widen the
// result and cast it back, each a pass of its own.

// decimalOperand is a decimal column or constant.
type decimalOperand struct {
	typ   *arrow.Decimal128Type
	arr   *array.Decimal128 // nil for a constant
	vals  []decimal128.Num
	c     decimal128.Num
	valid bool // the constant is not NULL
}

func asDecimalOperand(d compute.Datum) (decimalOperand, bool) {
	switch v := d.(type) {
	case *compute.ArrayDatum:
		t, ok := v.Type().(*arrow.Decimal128Type)
		if !ok {
			return decimalOperand{}, false
		}
		arr := v.MakeArray().(*array.Decimal128)
		return decimalOperand{typ: t, arr: arr, vals: arr.Values()}, true
	case *compute.ScalarDatum:
		s, ok := v.Value.(*scalar.Decimal128)
		if !ok {
			return decimalOperand{}, false
		}
		return decimalOperand{typ: s.Type.(*arrow.Decimal128Type), c: s.Value, valid: s.IsValid()}, true
	}
	return decimalOperand{}, false
}

func (o decimalOperand) release() {
	if o.arr != nil {
		o.arr.Release()
	}
}

func (o decimalOperand) at(i int) decimal128.Num {
	if o.arr == nil {
		return o.c
	}
	return o.vals[i]
}

func (o decimalOperand) isNull(i int) bool {
	if o.arr == nil {
		return !o.valid
	}
	return o.arr.IsNull(i)
}

func (o decimalOperand) hasNulls() bool {
	if o.arr == nil {
		return !o.valid
	}
	return o.arr.NullN() > 0
}

// decimalArith evaluates x (+, - or *) over decimal operands when that
// needs no rounding; ok is false when it does not apply.
func decimalArith(ctx context.Context, x *expr.Arith, batch arrow.RecordBatch) (compute.Datum, bool, error) {
	out, isDec := x.Type.(*arrow.Decimal128Type)
	if !isDec || (x.Op != "+" && x.Op != "-" && x.Op != "*") ||
		x.L.DataType().ID() != arrow.DECIMAL128 || x.R.DataType().ID() != arrow.DECIMAL128 {
		return nil, false, nil
	}
	lt, rt := x.L.DataType().(*arrow.Decimal128Type), x.R.DataType().(*arrow.Decimal128Type)
	// Scale factors applied to the operands (for + and -) or the product.
	var kl, kr, kp int32
	var fits bool // the result cannot exceed the output precision
	switch x.Op {
	case "*":
		kp = out.Scale - lt.Scale - rt.Scale
		if kp < 0 || lt.Precision+rt.Precision+kp > 38 {
			return nil, false, nil
		}
		fits = lt.Precision+rt.Precision+kp <= out.Precision
	default:
		kl, kr = out.Scale-lt.Scale, out.Scale-rt.Scale
		w := max(lt.Precision+kl, rt.Precision+kr)
		if kl < 0 || kr < 0 || w > 37 {
			return nil, false, nil
		}
		fits = w+1 <= out.Precision
	}
	ld, err := evalDatum(ctx, x.L, batch)
	if err != nil {
		return nil, true, err
	}
	defer ld.Release()
	rd, err := evalDatum(ctx, x.R, batch)
	if err != nil {
		return nil, true, err
	}
	defer rd.Release()
	l, okl := asDecimalOperand(ld)
	r, okr := asDecimalOperand(rd)
	defer l.release()
	defer r.release()
	if !okl || !okr {
		return nil, false, nil
	}
	n := int(batch.NumRows())
	ml, mr, mp := decimal128.GetScaleMultiplier(int(kl)), decimal128.GetScaleMultiplier(int(kr)), decimal128.GetScaleMultiplier(int(kp))
	mem := allocator(ctx)
	buf := memory.NewResizableBuffer(mem)
	defer buf.Release()
	buf.Resize(n * arrow.Decimal128SizeBytes)
	vals := arrow.Decimal128Traits.CastFromBytes(buf.Bytes())[:n]
	switch x.Op {
	case "*":
		for i := range vals {
			v := mulNum(l.at(i), r.at(i))
			if kp > 0 {
				v = mulNum(v, mp)
			}
			vals[i] = v
		}
	case "+", "-":
		neg := x.Op == "-"
		for i := range vals {
			a, b := l.at(i), r.at(i)
			if kl > 0 {
				a = mulNum(a, ml)
			}
			if kr > 0 {
				b = mulNum(b, mr)
			}
			if neg {
				b = b.Negate()
			}
			vals[i] = addNum(a, b)
		}
	}
	validity, nulls := combineValidity(mem, n, l, r)
	if validity != nil {
		defer validity.Release()
	}
	if !fits {
		for i, v := range vals {
			if (validity == nil || bitutil.BitIsSet(validity.Bytes(), i)) && !v.FitsInPrecision(out.Precision) {
				return nil, true, fmt.Errorf("%w: %s exceeds %s", ErrOverflow, x, out)
			}
		}
	}
	data := array.NewData(out, n, []*memory.Buffer{validity, buf}, nil, nulls, 0)
	defer data.Release()
	return compute.NewDatum(data), true, nil
}

// small reports whether v fits in 31 bits and sign, so that products and
// sums of two such values fit an int64.
func small(v decimal128.Num) bool {
	lo, hi := v.LowBits(), v.HighBits()
	return (hi == 0 && lo < 1<<31) || (hi == -1 && lo >= math.MaxUint64-(1<<31)+1)
}

func mulNum(a, b decimal128.Num) decimal128.Num {
	if small(a) && small(b) {
		return decimal128.FromI64(int64(a.LowBits()) * int64(b.LowBits()))
	}
	return a.Mul(b)
}

func addNum(a, b decimal128.Num) decimal128.Num {
	if small(a) && small(b) {
		return decimal128.FromI64(int64(a.LowBits()) + int64(b.LowBits()))
	}
	return a.Add(b)
}

// combineValidity is the validity bitmap of a result that is NULL where
// either operand is, and its null count; nil when nothing is NULL.
func combineValidity(mem memory.Allocator, n int, l, r decimalOperand) (*memory.Buffer, int) {
	if (l.arr == nil && !l.valid) || (r.arr == nil && !r.valid) {
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(int(bitutil.BytesForBits(int64(n))))
		clear(buf.Bytes())
		return buf, n
	}
	var srcs []*array.Decimal128
	for _, o := range []decimalOperand{l, r} {
		if o.arr != nil && o.arr.NullN() > 0 {
			srcs = append(srcs, o.arr)
		}
	}
	if len(srcs) == 0 {
		return nil, 0
	}
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	nulls := 0
	for i := 0; i < n; i++ {
		ok := true
		for _, a := range srcs {
			ok = ok && a.IsValid(i)
		}
		bitutil.SetBitTo(bits, i, ok)
		if !ok {
			nulls++
		}
	}
	return buf, nulls
}

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = func() (p [23]float64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimalToFloat64 converts a decimal column to float64. Values of up to
// 15 digits are exact in a float64 and the division by a power of ten is
// then correctly rounded; others go through decimal128's conversion.
func decimalToFloat64(ctx context.Context, arr *array.Decimal128) arrow.Array {
	scale := arr.DataType().(*arrow.Decimal128Type).Scale
	vals := arr.Values()
	out := make([]float64, len(vals))
	for i, v := range vals {
		lo, hi := v.LowBits(), v.HighBits()
		if scale >= 0 && int(scale) < len(pow10) && ((hi == 0 && lo < 1<<53) || (hi == -1 && lo > math.MaxUint64-(1<<53))) {
			out[i] = float64(int64(lo)) / pow10[scale]
			continue
		}
		out[i] = v.ToFloat64(scale)
	}
	b := array.NewFloat64Builder(allocator(ctx))
	defer b.Release()
	var valid []bool
	if arr.NullN() > 0 {
		valid = make([]bool, len(vals))
		for i := range valid {
			valid[i] = arr.IsValid(i)
		}
	}
	b.AppendValues(out, valid)
	return b.NewArray()
}

// decimalCompare compares a decimal column with a decimal constant of the
// same scale on the unscaled values; ok is false when x is not of that
// shape. Arrow's kernel visits the values through generic bit blocks.
func decimalCompare(ctx context.Context, x *expr.Compare, batch arrow.RecordBatch) (compute.Datum, bool, error) {
	colSide, litSide, op := x.L, x.R, x.Op
	if _, isLit := colSide.(*expr.Literal); isLit {
		colSide, litSide, op = x.R, x.L, x.Op.Flip()
	}
	lit, isLit := litSide.(*expr.Literal)
	if !isLit || colSide.DataType().ID() != arrow.DECIMAL128 || lit.Value.DataType().ID() != arrow.DECIMAL128 {
		return nil, false, nil
	}
	ct, lt := colSide.DataType().(*arrow.Decimal128Type), lit.Value.DataType().(*arrow.Decimal128Type)
	if ct.Scale != lt.Scale {
		return nil, false, nil
	}
	d, err := evalDatum(ctx, colSide, batch)
	if err != nil {
		return nil, true, err
	}
	defer d.Release()
	ad, isArr := d.(*compute.ArrayDatum)
	if !isArr {
		return nil, false, nil
	}
	arr := ad.MakeArray().(*array.Decimal128)
	defer arr.Release()
	n := arr.Len()
	mem := allocator(ctx)
	if !lit.Value.IsValid() {
		nulls := array.MakeArrayOfNull(mem, arrow.FixedWidthTypes.Boolean, n)
		defer nulls.Release()
		return compute.NewDatum(nulls), true, nil
	}
	c := lit.Value.(*scalar.Decimal128).Value
	vals := arr.Values()
	buf := memory.NewResizableBuffer(mem)
	defer buf.Release()
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	clear(bits)
	small := small(c)
	cs := int64(c.LowBits())
	for i, v := range vals {
		var cmp int
		if small && v.HighBits() == 0 && v.LowBits() < 1<<62 {
			switch a := int64(v.LowBits()); {
			case a < cs:
				cmp = -1
			case a > cs:
				cmp = 1
			}
		} else {
			cmp = v.Cmp(c)
		}
		var keep bool
		switch op {
		case expr.Eq:
			keep = cmp == 0
		case expr.NotEq:
			keep = cmp != 0
		case expr.Lt:
			keep = cmp < 0
		case expr.LtEq:
			keep = cmp <= 0
		case expr.Gt:
			keep = cmp > 0
		default:
			keep = cmp >= 0
		}
		if keep {
			bitutil.SetBit(bits, i)
		}
	}
	var validity *memory.Buffer
	if arr.NullN() > 0 {
		validity = memory.NewResizableBuffer(mem)
		defer validity.Release()
		validity.Resize(int(bitutil.BytesForBits(int64(n))))
		vb := validity.Bytes()
		for i := 0; i < n; i++ {
			bitutil.SetBitTo(vb, i, arr.IsValid(i))
		}
	}
	data := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{validity, buf}, nil, arr.NullN(), 0)
	defer data.Release()
	return compute.NewDatum(data), true, nil
}

// intToDecimal casts an integer column to a decimal type, checking each
// value against the precision. Arrow's cast refuses any decimal too narrow
// for the integer type's whole range, even when every value fits.
func intToDecimal(ctx context.Context, a arrow.Array, to *arrow.Decimal128Type) (arrow.Array, error) {
	v, err := intValues(a)
	if err != nil {
		return nil, err
	}
	mult := decimal128.GetScaleMultiplier(int(to.Scale))
	b := array.NewDecimal128Builder(allocator(ctx), to)
	defer b.Release()
	b.Reserve(a.Len())
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		d := decimal128.FromI64(v(i)).Mul(mult)
		if !d.FitsInPrecision(to.Precision) {
			return nil, fmt.Errorf("%w: %d does not fit %s", ErrOverflow, v(i), to)
		}
		b.UnsafeAppend(d)
	}
	return b.NewArray(), nil
}
