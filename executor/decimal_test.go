package executor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/lakeflight/lakeflight/expr"
)

// The direct decimal kernels agree with Arrow's compute kernels (widen,
// then cast to the planned type) on random values with NULLs, for columns
// and constants.
func TestDecimalArithMatchesCompute(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := WithAllocator(t.Context(), mem)
	d152 := &arrow.Decimal128Type{Precision: 15, Scale: 2}
	d10 := &arrow.Decimal128Type{Precision: 1, Scale: 0}
	rng := rand.New(rand.NewPCG(1, 2))
	b := array.NewDecimal128Builder(mem, d152)
	for i := 0; i < 500; i++ {
		if rng.IntN(7) == 0 {
			b.AppendNull()
			continue
		}
		b.Append(decimal128.FromI64(rng.Int64N(2e12) - 1e12))
	}
	a := b.NewArray()
	b.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: d152, Nullable: true}, {Name: "b", Type: d152, Nullable: true}}, nil)
	rev := array.NewSlice(a, 0, int64(a.Len()))
	rec := array.NewRecordBatch(schema, []arrow.Array{a, rev}, int64(a.Len()))
	a.Release()
	rev.Release()
	defer rec.Release()
	colA := &expr.Column{Index: 0, Name: "a", Type: d152}
	colB := &expr.Column{Index: 1, Name: "b", Type: d152}
	one := &expr.Literal{Value: scalar.NewDecimal128Scalar(decimal128.FromI64(1), d10)}
	cases := []*expr.Arith{
		{Op: "*", L: colA, R: colB, Type: &arrow.Decimal128Type{Precision: 31, Scale: 4}},
		{Op: "-", L: one, R: colA, Type: &arrow.Decimal128Type{Precision: 16, Scale: 2}},
		{Op: "+", L: colA, R: one, Type: &arrow.Decimal128Type{Precision: 16, Scale: 2}},
		{Op: "*", L: colA, R: one, Type: &arrow.Decimal128Type{Precision: 17, Scale: 2}},
		{Op: "-", L: colA, R: colB, Type: &arrow.Decimal128Type{Precision: 16, Scale: 2}},
	}
	fns := map[string]string{"+": "add", "-": "subtract", "*": "multiply"}
	for _, x := range cases {
		t.Run(x.String(), func(t *testing.T) {
			got, ok, err := decimalArith(ctx, x, rec)
			if !ok || err != nil {
				t.Fatalf("direct kernel: ok=%v err=%v", ok, err)
			}
			defer got.Release()
			ld, _ := evalDatum(ctx, x.L, rec)
			defer ld.Release()
			rd, _ := evalDatum(ctx, x.R, rec)
			defer rd.Release()
			wide, err := compute.CallFunction(ctx, fns[x.Op], nil, ld, rd)
			if err != nil {
				t.Fatal(err)
			}
			defer wide.Release()
			want, err := compute.CastDatum(ctx, wide, compute.SafeCastOptions(x.Type))
			if err != nil {
				t.Fatal(err)
			}
			defer want.Release()
			ga, wa := got.(*compute.ArrayDatum).MakeArray(), want.(*compute.ArrayDatum).MakeArray()
			defer ga.Release()
			defer wa.Release()
			if !arrow.TypeEqual(ga.DataType(), x.Type) || !array.Equal(ga, wa) {
				t.Errorf("direct %s differs from compute %s", fmt.Sprint(ga)[:80], fmt.Sprint(wa)[:80])
			}
		})
	}
	// A sum that leaves the precision is an overflow error.
	big := &arrow.Decimal128Type{Precision: 37, Scale: 0}
	bb := array.NewDecimal128Builder(mem, big)
	nines, _ := decimal128.FromString("9999999999999999999999999999999999999", 37, 0)
	bb.Append(nines)
	ba := bb.NewArray()
	bb.Release()
	bs := arrow.NewSchema([]arrow.Field{{Name: "x", Type: big}}, nil)
	brec := array.NewRecordBatch(bs, []arrow.Array{ba}, 1)
	ba.Release()
	defer brec.Release()
	col := &expr.Column{Index: 0, Name: "x", Type: big}
	_, ok, err := decimalArith(ctx, &expr.Arith{Op: "+", L: col, R: col, Type: big}, brec)
	if !ok || !errors.Is(err, ErrOverflow) {
		t.Errorf("x + x over decimal(37,0) nines: ok=%v err=%v, want an overflow error", ok, err)
	}
}

func TestDecimalToFloat64(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := WithAllocator(t.Context(), mem)
	dt := &arrow.Decimal128Type{Precision: 38, Scale: 2}
	b := array.NewDecimal128Builder(mem, dt)
	huge, _ := decimal128.FromString("123456789012345678901234567.89", 38, 2)
	vals := []decimal128.Num{decimal128.FromI64(31), decimal128.FromI64(-1), decimal128.FromI64(1 << 53), decimal128.FromI64(-(1 << 53) + 1), huge}
	for _, v := range vals {
		b.Append(v)
	}
	b.AppendNull()
	arr := b.NewArray().(*array.Decimal128)
	b.Release()
	defer arr.Release()
	got := decimalToFloat64(ctx, arr).(*array.Float64)
	defer got.Release()
	for i, v := range vals {
		if w := v.ToFloat64(2); got.Value(i) != w {
			t.Errorf("row %d: %v, want %v", i, got.Value(i), w)
		}
	}
	if !got.IsNull(len(vals)) {
		t.Error("NULL did not stay NULL")
	}
}

// Decimal comparisons with a constant agree with Arrow's kernels, for every
// operator, the constant on either side, NULLs and negative values.
func TestDecimalCompareMatchesCompute(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := WithAllocator(t.Context(), mem)
	dt := &arrow.Decimal128Type{Precision: 15, Scale: 2}
	rng := rand.New(rand.NewPCG(7, 8))
	b := array.NewDecimal128Builder(mem, dt)
	for i := 0; i < 400; i++ {
		switch {
		case i%9 == 0:
			b.AppendNull()
		case i%13 == 0:
			b.Append(decimal128.FromI64(2400)) // equal to the constant
		default:
			b.Append(decimal128.FromI64(rng.Int64N(1e6) - 5e5))
		}
	}
	a := b.NewArray()
	b.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "q", Type: dt, Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{a}, int64(a.Len()))
	a.Release()
	defer rec.Release()
	col := &expr.Column{Index: 0, Name: "q", Type: dt}
	for _, c := range []int64{2400, -77, 1 << 40} {
		lit := &expr.Literal{Value: scalar.NewDecimal128Scalar(decimal128.FromI64(c), dt)}
		for op := expr.Eq; op <= expr.GtEq; op++ {
			for _, x := range []*expr.Compare{{Op: op, L: col, R: lit}, {Op: op, L: lit, R: col}} {
				got, ok, err := decimalCompare(ctx, x, rec)
				if !ok || err != nil {
					t.Fatalf("%s: ok=%v err=%v", x, ok, err)
				}
				want, err := call2(ctx, x.Op.Kernel(), x.L, x.R, rec)
				if err != nil {
					t.Fatal(err)
				}
				ga, wa := got.(*compute.ArrayDatum).MakeArray(), want.(*compute.ArrayDatum).MakeArray()
				if !array.Equal(ga, wa) {
					t.Errorf("%s with %d: direct and compute results differ", x, c)
				}
				ga.Release()
				wa.Release()
				got.Release()
				want.Release()
			}
		}
	}
}

// Integers cast to a narrow decimal keep their values; one that does not
// fit is an overflow error, not a refusal of the type.
func TestIntToNarrowDecimal(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := WithAllocator(t.Context(), mem)
	to := &arrow.Decimal128Type{Precision: 5, Scale: 2}
	b := array.NewInt64Builder(mem)
	b.AppendValues([]int64{0, -7, 999}, nil)
	b.AppendNull()
	a := b.NewArray()
	b.Release()
	defer a.Release()
	got, err := intToDecimal(ctx, a, to)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	d := got.(*array.Decimal128)
	for i, want := range []int64{0, -700, 99900} {
		if v := d.Value(i); v != decimal128.FromI64(want) {
			t.Errorf("row %d: %s, want %d hundredths", i, v.ToString(2), want)
		}
	}
	if !d.IsNull(3) {
		t.Error("NULL did not stay NULL")
	}
	b2 := array.NewInt64Builder(mem)
	b2.Append(1000)
	wide := b2.NewArray()
	b2.Release()
	defer wide.Release()
	if _, err := intToDecimal(ctx, wide, to); !errors.Is(err, ErrOverflow) {
		t.Errorf("1000 as decimal(5,2): err %v, want an overflow error", err)
	}
}
