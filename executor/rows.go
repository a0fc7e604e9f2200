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
	valid := func(dst []byte, i int) ([]byte, bool) {
		if a.IsNull(i) {
			return append(dst, 0), false
		}
		return append(dst, 1), true
	}
	switch arr := a.(type) {
	case *array.Int8:
		return func(d []byte, i int) []byte {
			if d, ok := valid(d, i); ok {
				return append(d, byte(arr.Value(i)))
			} else {
				return d
			}
		}, nil
	case *array.Int16:
		return func(d []byte, i int) []byte {
			if d, ok := valid(d, i); ok {
				return binary.LittleEndian.AppendUint16(d, uint16(arr.Value(i)))
			} else {
				return d
			}
		}, nil
	case *array.Int32:
		return fixed32(valid, func(i int) uint32 { return uint32(arr.Value(i)) }), nil
	case *array.Date32:
		return fixed32(valid, func(i int) uint32 { return uint32(arr.Value(i)) }), nil
	case *array.Int64:
		return fixed64(valid, func(i int) uint64 { return uint64(arr.Value(i)) }), nil
	case *array.Timestamp:
		return fixed64(valid, func(i int) uint64 { return uint64(arr.Value(i)) }), nil
	case *array.Time64:
		return fixed64(valid, func(i int) uint64 { return uint64(arr.Value(i)) }), nil
	case *array.Float32:
		return fixed32(valid, func(i int) uint32 { return math.Float32bits(canonF32(arr.Value(i))) }), nil
	case *array.Float64:
		return fixed64(valid, func(i int) uint64 { return math.Float64bits(canonF64(arr.Value(i))) }), nil
	case *array.Boolean:
		return func(d []byte, i int) []byte {
			if d, ok := valid(d, i); ok {
				if arr.Value(i) {
					return append(d, 1)
				}
				return append(d, 0)
			} else {
				return d
			}
		}, nil
	case *array.String:
		return func(d []byte, i int) []byte {
			if d, ok := valid(d, i); ok {
				v := arr.Value(i)
				d = binary.AppendUvarint(d, uint64(len(v)))
				return append(d, v...)
			} else {
				return d
			}
		}, nil
	case *array.Binary:
		return func(d []byte, i int) []byte {
			if d, ok := valid(d, i); ok {
				v := arr.Value(i)
				d = binary.AppendUvarint(d, uint64(len(v)))
				return append(d, v...)
			} else {
				return d
			}
		}, nil
	case *array.FixedSizeBinary:
		return func(d []byte, i int) []byte {
			if d, ok := valid(d, i); ok {
				return append(d, arr.Value(i)...)
			} else {
				return d
			}
		}, nil
	case *array.Decimal128:
		return func(d []byte, i int) []byte {
			if d, ok := valid(d, i); ok {
				v := arr.Value(i)
				d = binary.LittleEndian.AppendUint64(d, v.LowBits())
				return binary.LittleEndian.AppendUint64(d, uint64(v.HighBits()))
			} else {
				return d
			}
		}, nil
	case *array.Null:
		return func(d []byte, i int) []byte { return append(d, 0) }, nil
	}
	return nil, fmt.Errorf("%w: grouping, DISTINCT or joining on a value of type %s", ErrUnsupportedType, a.DataType())
}

// ErrUnsupportedType means an operator cannot handle a column type.
var ErrUnsupportedType = fmt.Errorf("unsupported type")

func fixed32(valid func([]byte, int) ([]byte, bool), v func(int) uint32) keyWriter {
	return func(d []byte, i int) []byte {
		if d, ok := valid(d, i); ok {
			return binary.LittleEndian.AppendUint32(d, v(i))
		} else {
			return d
		}
	}
}

func fixed64(valid func([]byte, int) ([]byte, bool), v func(int) uint64) keyWriter {
	return func(d []byte, i int) []byte {
		if d, ok := valid(d, i); ok {
			return binary.LittleEndian.AppendUint64(d, v(i))
		} else {
			return d
		}
	}
}

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
