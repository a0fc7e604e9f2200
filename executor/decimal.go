package executor

import (
	"context"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
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
	vals := make([]decimal128.Num, n)
	var valid []bool
	if l.hasNulls() || r.hasNulls() {
		valid = make([]bool, n)
		for i := range valid {
			valid[i] = !l.isNull(i) && !r.isNull(i)
		}
	}
	switch x.Op {
	case "*":
		for i := range vals {
			v := l.at(i).Mul(r.at(i))
			if kp > 0 {
				v = v.Mul(mp)
			}
			vals[i] = v
		}
	case "+", "-":
		neg := x.Op == "-"
		for i := range vals {
			a, b := l.at(i), r.at(i)
			if kl > 0 {
				a = a.Mul(ml)
			}
			if kr > 0 {
				b = b.Mul(mr)
			}
			if neg {
				vals[i] = a.Sub(b)
			} else {
				vals[i] = a.Add(b)
			}
		}
	}
	if !fits {
		for i, v := range vals {
			if (valid == nil || valid[i]) && !v.FitsInPrecision(out.Precision) {
				return nil, true, fmt.Errorf("%w: %s exceeds %s", ErrOverflow, x, out)
			}
		}
	}
	b := array.NewDecimal128Builder(allocator(ctx), out)
	defer b.Release()
	b.AppendValues(vals, valid)
	arr := b.NewArray()
	defer arr.Release()
	return compute.NewDatum(arr), true, nil
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
