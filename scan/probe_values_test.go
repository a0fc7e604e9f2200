package scan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/iceberg-go"
)

// TestBigEndianFixed encodes decimals as FIXED_LEN_BYTE_ARRAY values of
// every width: a value that fits decodes back, one that does not is
// refused.
func TestBigEndianFixed(t *testing.T) {
	big38 := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil), big.NewInt(1))
	vals := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(-1), big.NewInt(127), big.NewInt(128), big.NewInt(-128),
		big.NewInt(-129), big.NewInt(32767), big.NewInt(-32769), big.NewInt(math.MaxInt64), big.NewInt(math.MinInt64),
		big38, new(big.Int).Neg(big38)}
	for _, v := range vals {
		d := decimal128.FromBigInt(v)
		for n := 1; n <= 18; n++ {
			b, ok := bigEndianFixed(d, n)
			limit := new(big.Int).Lsh(big.NewInt(1), uint(8*n-1))
			fits := v.Cmp(new(big.Int).Neg(limit)) >= 0 && v.Cmp(limit) < 0
			if ok != fits {
				t.Errorf("%s in %d bytes: ok %v, want %v", v, n, ok, fits)
				continue
			}
			if !ok {
				continue
			}
			if len(b) != n {
				t.Errorf("%s in %d bytes: %d bytes", v, n, len(b))
			}
			// The decoder reads at most 16 bytes; wider values are sign
			// extension followed by the 16 bytes.
			if n > 16 {
				b = b[n-16:]
			}
			if back, ok := bigEndianDecimal(b); !ok || back != d {
				t.Errorf("%s in %d bytes: %x decodes as %s", v, n, b, back.BigInt())
			}
		}
	}
}

func TestValueTest(t *testing.T) {
	f := func(x float64) statValue { return statValue{f: x} }
	s := func(x string) statValue { return statValue{b: []byte(x)} }
	nan, negZero := math.NaN(), math.Copysign(0, -1)
	tests := []struct {
		name string
		kind statKind
		op   iceberg.Operation
		lits []statValue
		v    statValue
		want bool
	}{
		{"NaN = 1", kindFloat, iceberg.OpEQ, []statValue{f(1)}, f(nan), false},
		{"NaN != 1", kindFloat, iceberg.OpNEQ, []statValue{f(1)}, f(nan), true},
		{"NaN < 1", kindFloat, iceberg.OpLT, []statValue{f(1)}, f(nan), false},
		{"NaN >= 1", kindFloat, iceberg.OpGTEQ, []statValue{f(1)}, f(nan), false},
		{"NaN IN (1, 2)", kindFloat, iceberg.OpIn, []statValue{f(1), f(2)}, f(nan), false},
		{"NaN NOT IN (1, 2)", kindFloat, iceberg.OpNotIn, []statValue{f(1), f(2)}, f(nan), true},
		{"NaN IS NaN", kindFloat, iceberg.OpIsNan, nil, f(nan), true},
		{"1 IS NaN", kindFloat, iceberg.OpIsNan, nil, f(1), false},
		{"-0 = 0", kindFloat, iceberg.OpEQ, []statValue{f(0)}, f(negZero), true},
		{"-0 != 0", kindFloat, iceberg.OpNEQ, []statValue{f(0)}, f(negZero), false},
		{"-0 IN (0)", kindFloat, iceberg.OpIn, []statValue{f(0)}, f(negZero), true},
		{"2 NOT IN (3, 1, 2)", kindFloat, iceberg.OpNotIn, []statValue{f(3), f(1), f(2)}, f(2), false},
		{"abc starts with ab", kindBytes, iceberg.OpStartsWith, []statValue{s("ab")}, s("abc"), true},
		{"abc starts with b", kindBytes, iceberg.OpStartsWith, []statValue{s("b")}, s("abc"), false},
		{"abc not starts with ab", kindBytes, iceberg.OpNotStartsWith, []statValue{s("ab")}, s("abc"), false},
		{"abc not starts with abcd", kindBytes, iceberg.OpNotStartsWith, []statValue{s("abcd")}, s("abc"), true},
		{"b <= b", kindBytes, iceberg.OpLTEQ, []statValue{s("b")}, s("b"), true},
		{"ba > b", kindBytes, iceberg.OpGT, []statValue{s("b")}, s("ba"), true},
		{"x IN (40 values)", kindInt, iceberg.OpIn, ints(0, 80, 2), statValue{i: 38}, true},
		{"odd IN (40 even values)", kindInt, iceberg.OpIn, ints(0, 80, 2), statValue{i: 39}, false},
	}
	for _, tt := range tests {
		match := valueTest(tt.kind, tt.op, tt.lits)
		if match == nil {
			t.Errorf("%s: no test", tt.name)
			continue
		}
		if got := match(tt.v); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, op := range []iceberg.Operation{iceberg.OpIsNull, iceberg.OpNotNull, iceberg.OpNotNan} {
		if valueTest(kindFloat, op, nil) != nil {
			t.Errorf("%s is tested on dictionary values", op)
		}
	}
	if valueTest(kindInt, iceberg.OpStartsWith, []statValue{{i: 1}}) != nil || valueTest(kindInt, iceberg.OpIsNan, nil) != nil {
		t.Error("prefix or NaN test of integers")
	}
}

func ints(from, to, step int64) []statValue {
	var out []statValue
	for i := to - step; i >= from; i -= step {
		out = append(out, statValue{i: i})
	}
	return out
}

// TestDictionaryValues decodes PLAIN dictionary pages, refusing pages
// shorter than their value count says.
func TestDictionaryValues(t *testing.T) {
	collect := func(c statColumn, d *dictionary) ([]statValue, bool) {
		var out []statValue
		_, ok := d.any(c, func(v statValue) bool { out = append(out, v); return false })
		return out, ok
	}
	i32 := statColumn{kind: kindInt, phys: parquet.Types.Int32}
	data := binary.LittleEndian.AppendUint32(nil, uint32(0xfffffffe)) // -2
	data = binary.LittleEndian.AppendUint32(data, 7)
	if vals, ok := collect(i32, &dictionary{data: data, n: 2}); !ok || len(vals) != 2 || vals[0].i != -2 || vals[1].i != 7 {
		t.Errorf("int32 dictionary: %v %v", vals, ok)
	}
	if _, ok := collect(i32, &dictionary{data: data, n: 3}); ok {
		t.Error("int32 dictionary of 2 values read as 3")
	}
	if found, ok := (&dictionary{data: data, n: 2}).any(i32, func(v statValue) bool { return v.i == 7 }); !found || !ok {
		t.Error("7 not found")
	}

	ba := statColumn{kind: kindBytes, phys: parquet.Types.ByteArray}
	var strs []byte
	for _, v := range []string{"", "ab", "xyz"} {
		strs = binary.LittleEndian.AppendUint32(strs, uint32(len(v)))
		strs = append(strs, v...)
	}
	vals, ok := collect(ba, &dictionary{data: strs, n: 3})
	if !ok || len(vals) != 3 || string(vals[1].b) != "ab" || string(vals[2].b) != "xyz" {
		t.Errorf("byte array dictionary: %v %v", vals, ok)
	}
	for _, bad := range [][]byte{strs[:len(strs)-1], strs[:2]} {
		if _, ok := collect(ba, &dictionary{data: bad, n: 3}); ok {
			t.Errorf("truncated byte array dictionary %x read", bad)
		}
	}
	huge := binary.LittleEndian.AppendUint32(nil, math.MaxUint32)
	if _, ok := collect(ba, &dictionary{data: huge, n: 1}); ok {
		t.Error("byte array longer than the page read")
	}

	dec := statColumn{kind: kindDecimal, phys: parquet.Types.FixedLenByteArray, typeLen: 3, scale: 2}
	if vals, ok := collect(dec, &dictionary{data: []byte{0xff, 0xff, 0xfe, 0x00, 0x01, 0x00}, n: 2}); !ok ||
		vals[0].d != decimal128.FromI64(-2) || vals[1].d != decimal128.FromI64(256) {
		t.Errorf("decimal dictionary: %v %v", vals, ok)
	}
	if _, ok := collect(statColumn{kind: kindInt, phys: parquet.Types.Boolean}, &dictionary{data: []byte{1}, n: 1}); ok {
		t.Error("boolean dictionary read")
	}
}

// TestBloomKeys hashes literals as their column's physical type holds
// them: zeros of both signs, no key for a float literal a float column
// cannot hold or a BYTE_ARRAY decimal.
func TestBloomKeys(t *testing.T) {
	le32 := func(x uint32) []byte { return binary.LittleEndian.AppendUint32(nil, x) }
	le64 := func(x uint64) []byte { return binary.LittleEndian.AppendUint64(nil, x) }
	tests := []struct {
		name string
		c    statColumn
		v    statValue
		want [][]byte // nil: refused
	}{
		{"int32", statColumn{kind: kindInt, phys: parquet.Types.Int32}, statValue{i: -5}, [][]byte{le32(uint32(0xfffffffb))}},
		{"int32 out of range", statColumn{kind: kindInt, phys: parquet.Types.Int32}, statValue{i: 1 << 40}, nil},
		{"int64", statColumn{kind: kindInt, phys: parquet.Types.Int64}, statValue{i: 1 << 40}, [][]byte{le64(1 << 40)}},
		{"float 0", statColumn{kind: kindFloat, phys: parquet.Types.Float}, statValue{f: 0}, [][]byte{le32(0), le32(0x80000000)}},
		{"float 0.1", statColumn{kind: kindFloat, phys: parquet.Types.Float}, statValue{f: 0.1}, nil},
		{"float 0.5", statColumn{kind: kindFloat, phys: parquet.Types.Float}, statValue{f: 0.5}, [][]byte{le32(math.Float32bits(0.5))}},
		{"double -0", statColumn{kind: kindFloat, phys: parquet.Types.Double}, statValue{f: math.Copysign(0, -1)}, [][]byte{le64(1 << 63), le64(0)}},
		{"decimal int32", statColumn{kind: kindDecimal, phys: parquet.Types.Int32}, statValue{d: decimal128.FromI64(-7)}, [][]byte{le32(uint32(0xfffffff9))}},
		{"decimal int64", statColumn{kind: kindDecimal, phys: parquet.Types.Int64}, statValue{d: decimal128.FromI64(-7)}, [][]byte{le64(math.MaxUint64 - 6)}},
		{"decimal fixed", statColumn{kind: kindDecimal, phys: parquet.Types.FixedLenByteArray, typeLen: 5}, statValue{d: decimal128.FromI64(-2)}, [][]byte{{0xff, 0xff, 0xff, 0xff, 0xfe}}},
		{"decimal byte array", statColumn{kind: kindDecimal, phys: parquet.Types.ByteArray}, statValue{d: decimal128.FromI64(1)}, nil},
		{"string", statColumn{kind: kindBytes, phys: parquet.Types.ByteArray}, statValue{b: []byte("x")}, [][]byte{[]byte("x")}},
		{"boolean", statColumn{kind: kindInt, phys: parquet.Types.Boolean}, statValue{i: 1}, nil},
	}
	for _, tt := range tests {
		keys, ok := bloomKeys(tt.c, tt.v)
		if ok != (tt.want != nil) || (ok && !equalKeys(keys, tt.want)) {
			t.Errorf("%s: keys %x %v, want %x", tt.name, keys, ok, tt.want)
		}
	}
}

func equalKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestLookupInputBudget counts what probes read and refuses reads past
// their budget.
func TestLookupInputBudget(t *testing.T) {
	in := &lookupInput{src: bytes.NewReader(make([]byte, 100)), budget: 30}
	buf := make([]byte, 20)
	if n, err := in.ReadAt(buf, 0); n != 20 || err != nil {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	if _, err := in.ReadAt(buf, 20); !errors.Is(err, errLookupBudget) {
		t.Fatalf("read past the budget: %v", err)
	}
	if in.read != 20 || in.budget != 10 {
		t.Errorf("read %d, budget %d", in.read, in.budget)
	}
}
