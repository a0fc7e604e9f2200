package scan

import (
	"bytes"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/iceberg-go"
)

// verdict is what the statistics of a row group prove about a filter.
type verdict int8

const (
	// rowsMightMatch: the statistics prove nothing; read the row group and
	// filter its rows.
	rowsMightMatch verdict = iota
	// rowsMustMatch: every row of the row group satisfies the filter; read
	// it without filtering.
	rowsMustMatch
	// rowsCannotMatch: no row satisfies the filter; skip the row group.
	rowsCannotMatch
)

func (v verdict) String() string {
	switch v {
	case rowsMustMatch:
		return "must match"
	case rowsCannotMatch:
		return "cannot match"
	}
	return "might match"
}

func and(a, b verdict) verdict {
	switch {
	case a == rowsCannotMatch || b == rowsCannotMatch:
		return rowsCannotMatch
	case a == rowsMustMatch && b == rowsMustMatch:
		return rowsMustMatch
	}
	return rowsMightMatch
}

func or(a, b verdict) verdict {
	switch {
	case a == rowsMustMatch || b == rowsMustMatch:
		return rowsMustMatch
	case a == rowsCannotMatch && b == rowsCannotMatch:
		return rowsCannotMatch
	}
	return rowsMightMatch
}

// statKind is how the statistics of a Parquet column compare with Iceberg
// literals.
type statKind int8

const (
	kindNone    statKind = iota // statistics are not used
	kindInt                     // booleans (0, 1), integers, dates, times, timestamps
	kindFloat                   // float and double: NaN is not in the statistics
	kindBytes                   // strings, binary and fixed: unsigned bytewise order
	kindDecimal                 // unscaled decimal128 values of one scale
)

// statColumn says where the statistics of one Iceberg field are and how to
// read them.
type statColumn struct {
	col   int // leaf column index in the Parquet schema
	kind  statKind
	scale int // decimal scale (kindDecimal)
	// phys and typeLen are the column's Parquet physical type and, for
	// FIXED_LEN_BYTE_ARRAY, its length: how dictionaries and bloom filters
	// hold its values.
	phys    parquet.Type
	typeLen int
}

// statColumnFor says how the statistics of a Parquet leaf column that is
// read as Arrow type dt (pqarrow's type for it) and Iceberg type typ compare
// with literals bound to typ, or kind kindNone when they do not.
func statColumnFor(col int, descr parquetColumn, dt arrow.DataType, typ iceberg.Type) statColumn {
	out := statColumn{col: col, phys: descr.physical, typeLen: descr.typeLen}
	if descr.repeated {
		return out
	}
	phys := descr.physical
	switch t := dt.(type) {
	case *arrow.BooleanType:
		if phys == parquet.Types.Boolean {
			out.kind = kindInt
		}
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Date32Type:
		if phys == parquet.Types.Int32 {
			out.kind = kindInt
		}
	case *arrow.Int64Type:
		if phys == parquet.Types.Int64 {
			out.kind = kindInt
		}
	case *arrow.Time64Type:
		if phys == parquet.Types.Int64 && t.Unit == arrow.Microsecond && typ.Equals(iceberg.PrimitiveTypes.Time) {
			out.kind = kindInt
		}
	case *arrow.TimestampType:
		micros := t.Unit == arrow.Microsecond && (typ.Equals(iceberg.PrimitiveTypes.Timestamp) || typ.Equals(iceberg.PrimitiveTypes.TimestampTz))
		nanos := t.Unit == arrow.Nanosecond && (typ.Equals(iceberg.PrimitiveTypes.TimestampNs) || typ.Equals(iceberg.PrimitiveTypes.TimestampTzNs))
		if phys == parquet.Types.Int64 && (micros || nanos) {
			out.kind = kindInt
		}
	case *arrow.Float32Type:
		if phys == parquet.Types.Float {
			out.kind = kindFloat
		}
	case *arrow.Float64Type:
		if phys == parquet.Types.Double {
			out.kind = kindFloat
		}
	case *arrow.StringType, *arrow.LargeStringType, *arrow.BinaryType, *arrow.LargeBinaryType:
		if phys == parquet.Types.ByteArray {
			out.kind = kindBytes
		}
	case *arrow.FixedSizeBinaryType:
		if phys == parquet.Types.FixedLenByteArray {
			out.kind = kindBytes
		}
	case *arrow.Decimal128Type:
		switch phys {
		case parquet.Types.Int32, parquet.Types.Int64, parquet.Types.FixedLenByteArray, parquet.Types.ByteArray:
			out.kind, out.scale = kindDecimal, int(t.Scale)
		}
	}
	return out
}

// statValue is a minimum, maximum or literal in the domain of a statKind.
type statValue struct {
	i int64
	f float64
	b []byte
	d decimal128.Num
}

func compareValues(kind statKind, a, b statValue) int {
	switch kind {
	case kindInt:
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	case kindFloat:
		switch {
		case a.f < b.f:
			return -1
		case a.f > b.f:
			return 1
		}
		return 0
	case kindBytes:
		return bytes.Compare(a.b, b.b)
	case kindDecimal:
		return a.d.Cmp(b.d)
	}
	return 0
}

// literalValue converts a literal bound to the column's Iceberg type into
// the column's statistics domain; ok is false when it cannot.
func literalValue(c statColumn, lit iceberg.Literal) (v statValue, ok bool) {
	switch c.kind {
	case kindInt:
		switch l := lit.(type) {
		case iceberg.BoolLiteral:
			if l {
				v.i = 1
			}
		case iceberg.Int32Literal:
			v.i = int64(l)
		case iceberg.Int64Literal:
			v.i = int64(l)
		case iceberg.DateLiteral:
			v.i = int64(l)
		case iceberg.TimeLiteral:
			v.i = int64(l)
		case iceberg.TimestampLiteral:
			v.i = int64(l)
		case iceberg.TimestampNsLiteral:
			v.i = int64(l)
		default:
			return v, false
		}
	case kindFloat:
		switch l := lit.(type) {
		case iceberg.Float32Literal:
			v.f = float64(l)
		case iceberg.Float64Literal:
			v.f = float64(l)
		default:
			return v, false
		}
		if math.IsNaN(v.f) {
			return v, false
		}
	case kindBytes:
		switch l := lit.(type) {
		case iceberg.StringLiteral:
			v.b = []byte(l)
		case iceberg.BinaryLiteral:
			v.b = l
		case iceberg.FixedLiteral:
			v.b = l
		default:
			return v, false
		}
	case kindDecimal:
		l, isDec := lit.(iceberg.DecimalLiteral)
		if !isDec || l.Scale != c.scale {
			return v, false
		}
		v.d = l.Val
	default:
		return v, false
	}
	return v, true
}

// chunkStats are the statistics of one column chunk in a statKind domain.
type chunkStats struct {
	rows      int64
	nulls     int64
	hasNulls  bool // the null count is known
	hasMinMax bool
	min, max  statValue
}

// allNull reports whether every value of the chunk is known to be null.
func (s chunkStats) allNull() bool { return s.hasNulls && s.nulls == s.rows }

// noNull reports whether no value of the chunk is known to be null.
func (s chunkStats) noNull() bool { return s.hasNulls && s.nulls == 0 }

// readChunkStats reads the statistics of column c in row group rg. ok is
// false when the chunk has no usable statistics.
func readChunkStats(rg *metadata.RowGroupMetaData, c statColumn) (s chunkStats, ok bool) {
	cc, err := rg.ColumnChunk(c.col)
	if err != nil {
		return s, false
	}
	st, err := cc.Statistics()
	if err != nil || st == nil {
		return s, false
	}
	s.rows = rg.NumRows()
	if st.HasNullCount() {
		s.hasNulls, s.nulls = true, st.NullCount()
	}
	if !st.HasMinMax() {
		return s, s.hasNulls
	}
	switch c.kind {
	case kindInt:
		switch t := st.(type) {
		case *metadata.BooleanStatistics:
			s.min.i, s.max.i = boolInt(t.Min()), boolInt(t.Max())
		case *metadata.Int32Statistics:
			s.min.i, s.max.i = int64(t.Min()), int64(t.Max())
		case *metadata.Int64Statistics:
			s.min.i, s.max.i = t.Min(), t.Max()
		default:
			return s, s.hasNulls
		}
	case kindFloat:
		switch t := st.(type) {
		case *metadata.Float32Statistics:
			s.min.f, s.max.f = float64(t.Min()), float64(t.Max())
		case *metadata.Float64Statistics:
			s.min.f, s.max.f = t.Min(), t.Max()
		default:
			return s, s.hasNulls
		}
		if math.IsNaN(s.min.f) || math.IsNaN(s.max.f) {
			return s, s.hasNulls
		}
	case kindBytes:
		switch t := st.(type) {
		case *metadata.ByteArrayStatistics:
			s.min.b, s.max.b = t.Min(), t.Max()
		case *metadata.FixedLenByteArrayStatistics:
			s.min.b, s.max.b = t.Min(), t.Max()
		default:
			return s, s.hasNulls
		}
	case kindDecimal:
		var okMin, okMax bool
		switch t := st.(type) {
		case *metadata.Int32Statistics:
			s.min.d, s.max.d = decimal128.FromI64(int64(t.Min())), decimal128.FromI64(int64(t.Max()))
			okMin, okMax = true, true
		case *metadata.Int64Statistics:
			s.min.d, s.max.d = decimal128.FromI64(t.Min()), decimal128.FromI64(t.Max())
			okMin, okMax = true, true
		case *metadata.ByteArrayStatistics:
			s.min.d, okMin = bigEndianDecimal(t.Min())
			s.max.d, okMax = bigEndianDecimal(t.Max())
		case *metadata.FixedLenByteArrayStatistics:
			s.min.d, okMin = bigEndianDecimal(t.Min())
			s.max.d, okMax = bigEndianDecimal(t.Max())
		}
		if !okMin || !okMax {
			return s, s.hasNulls
		}
	default:
		return s, s.hasNulls
	}
	s.hasMinMax = true
	return s, true
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// bigEndianDecimal decodes a big-endian two's complement unscaled decimal
// of 1 to 16 bytes.
func bigEndianDecimal(b []byte) (decimal128.Num, bool) {
	if len(b) == 0 || len(b) > 16 {
		return decimal128.Num{}, false
	}
	var buf [16]byte
	if b[0]&0x80 != 0 {
		for i := range buf {
			buf[i] = 0xff
		}
	}
	copy(buf[16-len(b):], b)
	var hi int64
	var lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | int64(buf[i])
		lo = lo<<8 | uint64(buf[8+i])
	}
	return decimal128.New(hi, lo), true
}

// rowGroupFilter decides from column statistics whether the rows of a row
// group can match a filter. It is built once per file schema; evaluating it
// changes nothing, so one filter may be used by several goroutines.
type rowGroupFilter struct {
	root rgTest
}

type rgTest func(rg *metadata.RowGroupMetaData) verdict

// newRowGroupFilter builds the statistics test of filter, which must be
// bound to the file's Iceberg schema. columns maps the Iceberg field ids
// the file holds to their statistics. A nil filter always might match.
func newRowGroupFilter(filter iceberg.BooleanExpression, columns map[int]statColumn) (*rowGroupFilter, error) {
	if filter == nil {
		return nil, nil
	}
	rewritten, err := iceberg.RewriteNotExpr(filter)
	if err != nil {
		return nil, err
	}
	root, err := iceberg.VisitExpr(rewritten, rgBuilder{columns: columns})
	if err != nil {
		return nil, err
	}
	return &rowGroupFilter{root: root}, nil
}

// eval tests one row group.
func (f *rowGroupFilter) eval(rg *metadata.RowGroupMetaData) verdict {
	if f == nil {
		return rowsMightMatch
	}
	return f.root(rg)
}

type rgBuilder struct {
	columns map[int]statColumn
}

func constTest(v verdict) rgTest { return func(*metadata.RowGroupMetaData) verdict { return v } }

func (rgBuilder) VisitTrue() rgTest  { return constTest(rowsMustMatch) }
func (rgBuilder) VisitFalse() rgTest { return constTest(rowsCannotMatch) }

// VisitNot is only reached for what RewriteNotExpr leaves negated: NOT of
// a three-state verdict is not a verdict under SQL NULL semantics.
func (rgBuilder) VisitNot(rgTest) rgTest { return constTest(rowsMightMatch) }

func (rgBuilder) VisitAnd(l, r rgTest) rgTest {
	return func(rg *metadata.RowGroupMetaData) verdict {
		v := l(rg)
		if v == rowsCannotMatch {
			return v
		}
		return and(v, r(rg))
	}
}

func (rgBuilder) VisitOr(l, r rgTest) rgTest {
	return func(rg *metadata.RowGroupMetaData) verdict {
		v := l(rg)
		if v == rowsMustMatch {
			return v
		}
		return or(v, r(rg))
	}
}

func (rgBuilder) VisitUnbound(iceberg.UnboundPredicate) rgTest { return constTest(rowsMightMatch) }

func (b rgBuilder) VisitBound(pred iceberg.BoundPredicate) rgTest {
	ref, isRef := pred.Term().(iceberg.BoundReference)
	if !isRef {
		return constTest(rowsMightMatch)
	}
	c, found := b.columns[ref.Field().ID]
	if !found || c.kind == kindNone {
		return constTest(rowsMightMatch)
	}
	op := pred.Op()
	switch op {
	case iceberg.OpIsNull, iceberg.OpNotNull, iceberg.OpIsNan, iceberg.OpNotNan:
		return func(rg *metadata.RowGroupMetaData) verdict {
			s, ok := readChunkStats(rg, c)
			if !ok {
				return rowsMightMatch
			}
			return unaryVerdict(op, s)
		}
	case iceberg.OpIn, iceberg.OpNotIn:
		sp, isSet := pred.(iceberg.BoundSetPredicate)
		if !isSet {
			return constTest(rowsMightMatch)
		}
		var vals []statValue
		for _, l := range sp.Literals().Members() {
			v, ok := literalValue(c, l)
			if !ok {
				return constTest(rowsMightMatch)
			}
			vals = append(vals, v)
		}
		return func(rg *metadata.RowGroupMetaData) verdict {
			s, ok := readChunkStats(rg, c)
			if !ok {
				return rowsMightMatch
			}
			return setVerdict(op, c.kind, s, vals)
		}
	}
	lp, isLit := pred.(iceberg.BoundLiteralPredicate)
	if !isLit {
		return constTest(rowsMightMatch)
	}
	lit, ok := literalValue(c, lp.Literal())
	if !ok {
		return constTest(rowsMightMatch)
	}
	return func(rg *metadata.RowGroupMetaData) verdict {
		s, ok := readChunkStats(rg, c)
		if !ok {
			return rowsMightMatch
		}
		return literalVerdict(op, c.kind, s, lit)
	}
}

// unaryVerdict tests IS [NOT] NULL and IS [NOT] NaN.
func unaryVerdict(op iceberg.Operation, s chunkStats) verdict {
	switch op {
	case iceberg.OpIsNull:
		if s.noNull() {
			return rowsCannotMatch
		}
		if s.allNull() {
			return rowsMustMatch
		}
	case iceberg.OpNotNull:
		if s.allNull() {
			return rowsCannotMatch
		}
		if s.noNull() {
			return rowsMustMatch
		}
	case iceberg.OpIsNan, iceberg.OpNotNan:
		// Parquet statistics do not count NaN values; NULL is neither.
		if s.allNull() {
			return rowsCannotMatch
		}
	}
	return rowsMightMatch
}

// literalVerdict tests a comparison with one literal. A NULL value matches
// no comparison. Floats never must match: NaN values are in no statistic
// and compare false.
func literalVerdict(op iceberg.Operation, kind statKind, s chunkStats, lit statValue) verdict {
	if s.allNull() {
		return rowsCannotMatch
	}
	if !s.hasMinMax {
		return rowsMightMatch
	}
	lo, hi := compareValues(kind, lit, s.min), compareValues(kind, lit, s.max) // lit vs min, lit vs max
	must := func(cond bool) verdict {
		if cond && s.noNull() && kind != kindFloat {
			return rowsMustMatch
		}
		return rowsMightMatch
	}
	switch op {
	case iceberg.OpLT: // x < lit
		if lo <= 0 {
			return rowsCannotMatch
		}
		return must(hi > 0)
	case iceberg.OpLTEQ:
		if lo < 0 {
			return rowsCannotMatch
		}
		return must(hi >= 0)
	case iceberg.OpGT: // x > lit
		if hi >= 0 {
			return rowsCannotMatch
		}
		return must(lo < 0)
	case iceberg.OpGTEQ:
		if hi > 0 {
			return rowsCannotMatch
		}
		return must(lo <= 0)
	case iceberg.OpEQ:
		if lo < 0 || hi > 0 {
			return rowsCannotMatch
		}
		return must(lo == 0 && hi == 0)
	case iceberg.OpNEQ:
		if kind != kindFloat && lo == 0 && hi == 0 {
			return rowsCannotMatch
		}
		return must(lo < 0 || hi > 0)
	case iceberg.OpStartsWith, iceberg.OpNotStartsWith:
		if kind != kindBytes {
			return rowsMightMatch
		}
		p := lit.b
		minHas, maxHas := bytes.HasPrefix(s.min.b, p), bytes.HasPrefix(s.max.b, p)
		if op == iceberg.OpNotStartsWith {
			// Every value between two values with the prefix has it.
			if minHas && maxHas {
				return rowsCannotMatch
			}
			return rowsMightMatch
		}
		if bytes.Compare(truncate(s.min.b, len(p)), p) > 0 || bytes.Compare(truncate(s.max.b, len(p)), p) < 0 {
			return rowsCannotMatch
		}
		return must(minHas && maxHas)
	}
	return rowsMightMatch
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// setVerdict tests IN and NOT IN. A NULL is not IN any set, and NOT IN
// every set: the row filter negates is_in, which is false for NULL.
func setVerdict(op iceberg.Operation, kind statKind, s chunkStats, vals []statValue) verdict {
	if s.allNull() {
		if op == iceberg.OpNotIn {
			return rowsMightMatch
		}
		return rowsCannotMatch
	}
	if !s.hasMinMax {
		return rowsMightMatch
	}
	single := compareValues(kind, s.min, s.max) == 0
	in := false // the single value of the chunk is in the set
	inside := false
	for _, v := range vals {
		lo, hi := compareValues(kind, v, s.min), compareValues(kind, v, s.max)
		if lo >= 0 && hi <= 0 {
			inside = true
		}
		if single && lo == 0 {
			in = true
		}
	}
	switch op {
	case iceberg.OpIn:
		if !inside {
			return rowsCannotMatch
		}
		if in && s.noNull() && kind != kindFloat {
			return rowsMustMatch
		}
	case iceberg.OpNotIn:
		if in && kind != kindFloat && s.noNull() {
			return rowsCannotMatch
		}
		if !inside && s.noNull() && kind != kindFloat {
			return rowsMustMatch
		}
	}
	return rowsMightMatch
}
