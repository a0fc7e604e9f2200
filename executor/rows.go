package executor

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// keyWriter appends the bytes that identify one row's value of one column,
// so rows with equal values (NULL equal to NULL, as GROUP BY and DISTINCT
// want) get equal bytes. Each value is prefixed with a null flag; variable
// length values carry their length so concatenations stay unambiguous.
type keyWriter func(dst []byte, i int) []byte

func newKeyWriter(a arrow.Array) (keyWriter, error) {
	value, err := keyValueWriter(a)
	if err != nil {
		return nil, err
	}
	// A null flag, then the value's bytes for non-null rows.
	return func(d []byte, i int) []byte {
		if a.IsNull(i) || a.DataType().ID() == arrow.NULL {
			return append(d, 0)
		}
		return value(append(d, 1), i)
	}, nil
}

// keyValueWriter appends the bytes of one non-null value.
func keyValueWriter(a arrow.Array) (keyWriter, error) {
	le := binary.LittleEndian
	switch arr := a.(type) {
	case *array.Int8:
		return func(d []byte, i int) []byte { return append(d, byte(arr.Value(i))) }, nil
	case *array.Int16:
		return func(d []byte, i int) []byte { return le.AppendUint16(d, uint16(arr.Value(i))) }, nil
	case *array.Int32:
		return func(d []byte, i int) []byte { return le.AppendUint32(d, uint32(arr.Value(i))) }, nil
	case *array.Date32:
		return func(d []byte, i int) []byte { return le.AppendUint32(d, uint32(arr.Value(i))) }, nil
	case *array.Int64:
		return func(d []byte, i int) []byte { return le.AppendUint64(d, uint64(arr.Value(i))) }, nil
	case *array.Timestamp:
		return func(d []byte, i int) []byte { return le.AppendUint64(d, uint64(arr.Value(i))) }, nil
	case *array.Time64:
		return func(d []byte, i int) []byte { return le.AppendUint64(d, uint64(arr.Value(i))) }, nil
	case *array.Float32:
		return func(d []byte, i int) []byte { return le.AppendUint32(d, math.Float32bits(canonF32(arr.Value(i)))) }, nil
	case *array.Float64:
		return func(d []byte, i int) []byte { return le.AppendUint64(d, math.Float64bits(canonF64(arr.Value(i)))) }, nil
	case *array.Boolean:
		return func(d []byte, i int) []byte {
			if arr.Value(i) {
				return append(d, 1)
			}
			return append(d, 0)
		}, nil
	case *array.String:
		return func(d []byte, i int) []byte {
			v := arr.Value(i)
			return append(binary.AppendUvarint(d, uint64(len(v))), v...)
		}, nil
	case *array.Binary:
		return func(d []byte, i int) []byte {
			v := arr.Value(i)
			return append(binary.AppendUvarint(d, uint64(len(v))), v...)
		}, nil
	case *array.FixedSizeBinary:
		return func(d []byte, i int) []byte { return append(d, arr.Value(i)...) }, nil
	case *array.Decimal128:
		return func(d []byte, i int) []byte {
			v := arr.Value(i)
			return le.AppendUint64(le.AppendUint64(d, v.LowBits()), uint64(v.HighBits()))
		}, nil
	case *array.Null:
		return func(d []byte, i int) []byte { return d }, nil
	}
	return nil, fmt.Errorf("%w: grouping, DISTINCT or joining on a value of type %s", ErrUnsupportedType, a.DataType())
}

// ErrUnsupportedType means an operator cannot handle a column type.
var ErrUnsupportedType = fmt.Errorf("unsupported type")

// canonF64 makes -0 and every NaN group together.
func canonF64(f float64) float64 {
	if f == 0 {
		return 0
	}
	if f != f {
		return math.NaN()
	}
	return f
}

func canonF32(f float32) float32 {
	if f == 0 {
		return 0
	}
	if f != f {
		return float32(math.NaN())
	}
	return f
}

// appendRow copies row i of a into b, which must be a builder of a's type.
func appendRow(b array.Builder, a arrow.Array, i int) error {
	if a.IsNull(i) {
		b.AppendNull()
		return nil
	}
	switch arr := a.(type) {
	case *array.Int8:
		b.(*array.Int8Builder).Append(arr.Value(i))
	case *array.Int16:
		b.(*array.Int16Builder).Append(arr.Value(i))
	case *array.Int32:
		b.(*array.Int32Builder).Append(arr.Value(i))
	case *array.Int64:
		b.(*array.Int64Builder).Append(arr.Value(i))
	case *array.Float32:
		b.(*array.Float32Builder).Append(arr.Value(i))
	case *array.Float64:
		b.(*array.Float64Builder).Append(arr.Value(i))
	case *array.Boolean:
		b.(*array.BooleanBuilder).Append(arr.Value(i))
	case *array.String:
		b.(*array.StringBuilder).Append(arr.Value(i))
	case *array.Binary:
		b.(*array.BinaryBuilder).Append(arr.Value(i))
	case *array.FixedSizeBinary:
		b.(*array.FixedSizeBinaryBuilder).Append(arr.Value(i))
	case *array.Date32:
		b.(*array.Date32Builder).Append(arr.Value(i))
	case *array.Timestamp:
		b.(*array.TimestampBuilder).Append(arr.Value(i))
	case *array.Time64:
		b.(*array.Time64Builder).Append(arr.Value(i))
	case *array.Decimal128:
		b.(*array.Decimal128Builder).Append(arr.Value(i))
	default:
		return fmt.Errorf("%w: copying values of type %s", ErrUnsupportedType, a.DataType())
	}
	return nil
}

// newBuilder is array.NewBuilder, kept in one place.
func newBuilder(mem memory.Allocator, t arrow.DataType) array.Builder {
	return array.NewBuilder(mem, t)
}
