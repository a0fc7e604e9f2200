package executor

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// aggState holds one aggregate's running value for every group.
type aggState interface {
	// grow makes room for n groups.
	grow(n int)
	// add folds arg's rows into the groups gids names (one per row).
	add(arg arrow.Array, gids []int32) error
	// finish builds the result column for n groups.
	finish(mem memory.Allocator, t arrow.DataType, n int) (arrow.Array, error)
}

func newAggState(a Agg, t arrow.DataType, mem memory.Allocator) (aggState, error) {
	var st aggState
	switch a.Func {
	case AggCount:
		st = &countState{}
	case AggSum:
		switch {
		case isIntType(t):
			st = &sumIntState{}
		case isFloatType(t):
			st = &floatState{kind: AggSum}
		case t.ID() == arrow.DECIMAL128:
			st = &sumDecimalState{}
		}
	case AggAvg, AggVarSamp, AggVarPop, AggStddevSamp, AggStddevPop:
		if a.Func == AggAvg && t.ID() == arrow.DECIMAL128 {
			st = &avgDecimalState{scale: t.(*arrow.Decimal128Type).Scale}
			break
		}
		if isIntType(t) || isFloatType(t) || t.ID() == arrow.DECIMAL128 {
			st = &floatState{kind: a.Func}
		}
	case AggMin, AggMax:
		st = &minMaxState{max: a.Func == AggMax}
	case AggBoolAnd, AggBoolOr:
		st = &boolState{and: a.Func == AggBoolAnd}
	case AggStringAgg:
		if t.ID() == arrow.STRING {
			st = &stringAggState{sep: a.Sep}
		}
	}
	if st == nil {
		return nil, fmt.Errorf("%w: %s(%s)", ErrUnsupportedType, a.Func, t)
	}
	if a.Distinct {
		st = &distinctState{inner: st, mem: mem}
	}
	return st, nil
}

// countState counts non-null values (or rows, for count(*)).
type countState struct{ n []int64 }

func (s *countState) grow(n int) {
	for len(s.n) < n {
		s.n = append(s.n, 0)
	}
}
func (s *countState) addStar(gids []int32) {
	for _, g := range gids {
		s.n[g]++
	}
}
func (s *countState) add(arg arrow.Array, gids []int32) error {
	if arg.NullN() == 0 {
		s.addStar(gids)
		return nil
	}
	for i, g := range gids {
		if arg.IsValid(i) {
			s.n[g]++
		}
	}
	return nil
}
func (s *countState) finish(mem memory.Allocator, _ arrow.DataType, n int) (arrow.Array, error) {
	s.grow(n)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(s.n[:n], nil)
	return b.NewArray(), nil
}

// intValues returns a getter of an integer array's values as int64.
func intValues(a arrow.Array) (func(int) int64, error) {
	switch arr := a.(type) {
	case *array.Int8:
		return func(i int) int64 { return int64(arr.Value(i)) }, nil
	case *array.Int16:
		return func(i int) int64 { return int64(arr.Value(i)) }, nil
	case *array.Int32:
		return func(i int) int64 { return int64(arr.Value(i)) }, nil
	case *array.Int64:
		return arr.Value, nil
	}
	return nil, fmt.Errorf("%w: %s is not an integer", ErrUnsupportedType, a.DataType())
}

// floatValues returns a getter of a numeric array's values as float64.
func floatValues(a arrow.Array) (func(int) float64, error) {
	switch arr := a.(type) {
	case *array.Float32:
		return func(i int) float64 { return float64(arr.Value(i)) }, nil
	case *array.Float64:
		return arr.Value, nil
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return func(i int) float64 { return arr.Value(i).ToFloat64(scale) }, nil
	}
	iv, err := intValues(a)
	if err != nil {
		return nil, err
	}
	return func(i int) float64 { return float64(iv(i)) }, nil
}

// sumIntState sums integers in int64, failing on overflow.
type sumIntState struct {
	sum  []int64
	seen []bool
}

func (s *sumIntState) grow(n int) {
	for len(s.sum) < n {
		s.sum = append(s.sum, 0)
		s.seen = append(s.seen, false)
	}
}
func (s *sumIntState) add(arg arrow.Array, gids []int32) error {
	v, err := intValues(arg)
	if err != nil {
		return err
	}
	for i, g := range gids {
		if arg.IsNull(i) {
			continue
		}
		if err := s.addTo(g, v(i)); err != nil {
			return err
		}
	}
	return nil
}

// addTo adds x to group g's sum, failing when it leaves the int64 range.
func (s *sumIntState) addTo(g int32, x int64) error {
	r := s.sum[g] + x
	if (x > 0 && r < s.sum[g]) || (x < 0 && r > s.sum[g]) {
		return fmt.Errorf("%w: sum exceeds the bigint range", ErrOverflow)
	}
	s.sum[g], s.seen[g] = r, true
	return nil
}

func (s *sumIntState) finish(mem memory.Allocator, _ arrow.DataType, n int) (arrow.Array, error) {
	s.grow(n)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(s.sum[:n], s.seen[:n])
	return b.NewArray(), nil
}

// sumDecimalState sums decimals exactly.
type sumDecimalState struct {
	sum  []decimal128.Num
	seen []bool
}

func (s *sumDecimalState) grow(n int) {
	for len(s.sum) < n {
		s.sum = append(s.sum, decimal128.Num{})
		s.seen = append(s.seen, false)
	}
}
func (s *sumDecimalState) add(arg arrow.Array, gids []int32) error {
	arr := arg.(*array.Decimal128)
	for i, g := range gids {
		if arr.IsNull(i) {
			continue
		}
		s.sum[g], s.seen[g] = s.sum[g].Add(arr.Value(i)), true
	}
	return nil
}
func (s *sumDecimalState) finish(mem memory.Allocator, t arrow.DataType, n int) (arrow.Array, error) {
	s.grow(n)
	b := array.NewDecimal128Builder(mem, t.(*arrow.Decimal128Type))
	defer b.Release()
	b.AppendValues(s.sum[:n], s.seen[:n])
	return b.NewArray(), nil
}

// floatState computes sums of floats, averages and variances (Welford).
type floatState struct {
	kind       AggFunc
	count      []int64
	mean, m2   []float64
	sum        []float64
	compensate []float64
}

func (s *floatState) grow(n int) {
	for len(s.count) < n {
		s.count = append(s.count, 0)
		s.mean = append(s.mean, 0)
		s.m2 = append(s.m2, 0)
		s.sum = append(s.sum, 0)
		s.compensate = append(s.compensate, 0)
	}
}
func (s *floatState) add(arg arrow.Array, gids []int32) error {
	v, err := floatValues(arg)
	if err != nil {
		return err
	}
	for i, g := range gids {
		if arg.IsNull(i) {
			continue
		}
		x := v(i)
		s.count[g]++
		s.addSum(g, x)
		if s.kind >= AggVarSamp {
			d := x - s.mean[g]
			s.mean[g] += d / float64(s.count[g])
			s.m2[g] += d * (x - s.mean[g])
		}
	}
	return nil
}

// addSum adds x to group g's sum with Kahan-Babuska compensation, which
// keeps sums of many values accurate.
func (s *floatState) addSum(g int32, x float64) {
	t := s.sum[g] + x
	if math.Abs(s.sum[g]) >= math.Abs(x) {
		s.compensate[g] += (s.sum[g] - t) + x
	} else {
		s.compensate[g] += (x - t) + s.sum[g]
	}
	s.sum[g] = t
}

func (s *floatState) finish(mem memory.Allocator, _ arrow.DataType, n int) (arrow.Array, error) {
	s.grow(n)
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	for g := 0; g < n; g++ {
		c := float64(s.count[g])
		sum := s.sum[g] + s.compensate[g]
		switch {
		case s.count[g] == 0:
			b.AppendNull()
		case s.kind == AggSum:
			b.Append(sum)
		case s.kind == AggAvg:
			b.Append(sum / c)
		case s.kind == AggVarPop:
			b.Append(s.m2[g] / c)
		case s.kind == AggStddevPop:
			b.Append(math.Sqrt(s.m2[g] / c))
		case s.count[g] < 2:
			b.AppendNull()
		case s.kind == AggVarSamp:
			b.Append(s.m2[g] / (c - 1))
		default:
			b.Append(math.Sqrt(s.m2[g] / (c - 1)))
		}
	}
	return b.NewArray(), nil
}

// minMaxState keeps the least or greatest value per group, for any
// orderable type, as the row that holds it.
type minMaxState struct {
	max  bool
	ints []int64
	flts []float64
	strs []string
	decs []decimal128.Num
	seen []bool
	kind int // 0 ints, 1 floats, 2 strings, 3 decimals
	t    arrow.DataType
}

func (s *minMaxState) grow(n int) {
	for len(s.seen) < n {
		s.seen = append(s.seen, false)
		s.ints = append(s.ints, 0)
		s.flts = append(s.flts, 0)
		s.strs = append(s.strs, "")
		s.decs = append(s.decs, decimal128.Num{})
	}
}

func (s *minMaxState) better(c int) bool { return (c > 0) == s.max && c != 0 }

func (s *minMaxState) add(arg arrow.Array, gids []int32) error {
	s.t = arg.DataType()
	switch arr := arg.(type) {
	case *array.Float32, *array.Float64:
		s.kind = 1
		v, _ := floatValues(arg)
		for i, g := range gids {
			if arg.IsNull(i) {
				continue
			}
			x := v(i)
			if !s.seen[g] || s.better(cmpFloat(x, s.flts[g])) {
				s.flts[g], s.seen[g] = x, true
			}
		}
	case *array.String:
		s.kind = 2
		for i, g := range gids {
			if arr.IsNull(i) {
				continue
			}
			x := arr.Value(i)
			if !s.seen[g] || s.better(cmpString(x, s.strs[g])) {
				s.strs[g], s.seen[g] = string([]byte(x)), true
			}
		}
	case *array.Decimal128:
		s.kind = 3
		for i, g := range gids {
			if arr.IsNull(i) {
				continue
			}
			x := arr.Value(i)
			if !s.seen[g] || s.better(x.Cmp(s.decs[g])) {
				s.decs[g], s.seen[g] = x, true
			}
		}
	default:
		v, err := orderedInts(arg)
		if err != nil {
			return err
		}
		for i, g := range gids {
			if arg.IsNull(i) {
				continue
			}
			x := v(i)
			if !s.seen[g] || s.better(cmpInt(x, s.ints[g])) {
				s.ints[g], s.seen[g] = x, true
			}
		}
	}
	return nil
}

// orderedInts reads integer-like values (ints, dates, times, timestamps,
// booleans) as int64 in their natural order.
func orderedInts(a arrow.Array) (func(int) int64, error) {
	switch arr := a.(type) {
	case *array.Date32:
		return func(i int) int64 { return int64(arr.Value(i)) }, nil
	case *array.Timestamp:
		return func(i int) int64 { return int64(arr.Value(i)) }, nil
	case *array.Time64:
		return func(i int) int64 { return int64(arr.Value(i)) }, nil
	case *array.Boolean:
		return func(i int) int64 {
			if arr.Value(i) {
				return 1
			}
			return 0
		}, nil
	}
	return intValues(a)
}

func (s *minMaxState) finish(mem memory.Allocator, t arrow.DataType, n int) (arrow.Array, error) {
	s.grow(n)
	b := array.NewBuilder(mem, t)
	defer b.Release()
	for g := 0; g < n; g++ {
		if !s.seen[g] {
			b.AppendNull()
			continue
		}
		switch bb := b.(type) {
		case *array.Int8Builder:
			bb.Append(int8(s.ints[g]))
		case *array.Int16Builder:
			bb.Append(int16(s.ints[g]))
		case *array.Int32Builder:
			bb.Append(int32(s.ints[g]))
		case *array.Int64Builder:
			bb.Append(s.ints[g])
		case *array.Date32Builder:
			bb.Append(arrow.Date32(s.ints[g]))
		case *array.TimestampBuilder:
			bb.Append(arrow.Timestamp(s.ints[g]))
		case *array.Time64Builder:
			bb.Append(arrow.Time64(s.ints[g]))
		case *array.BooleanBuilder:
			bb.Append(s.ints[g] == 1)
		case *array.Float32Builder:
			bb.Append(float32(s.flts[g]))
		case *array.Float64Builder:
			bb.Append(s.flts[g])
		case *array.StringBuilder:
			bb.Append(s.strs[g])
		case *array.Decimal128Builder:
			bb.Append(s.decs[g])
		default:
			return nil, fmt.Errorf("%w: min/max of %s", ErrUnsupportedType, t)
		}
	}
	return b.NewArray(), nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpFloat orders NaN above every number, as PostgreSQL does.
func cmpFloat(a, b float64) int {
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// boolState is bool_and / bool_or.
type boolState struct {
	and  bool
	val  []bool
	seen []bool
}

func (s *boolState) grow(n int) {
	for len(s.val) < n {
		s.val = append(s.val, s.and)
		s.seen = append(s.seen, false)
	}
}
func (s *boolState) add(arg arrow.Array, gids []int32) error {
	arr := arg.(*array.Boolean)
	for i, g := range gids {
		if arr.IsNull(i) {
			continue
		}
		s.seen[g] = true
		if s.and {
			s.val[g] = s.val[g] && arr.Value(i)
		} else {
			s.val[g] = s.val[g] || arr.Value(i)
		}
	}
	return nil
}
func (s *boolState) finish(mem memory.Allocator, _ arrow.DataType, n int) (arrow.Array, error) {
	s.grow(n)
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.AppendValues(s.val[:n], s.seen[:n])
	return b.NewArray(), nil
}

// distinctState passes each group's first occurrence of a value on to the
// aggregate it wraps.
type distinctState struct {
	inner aggState
	mem   memory.Allocator
	seen  map[string]struct{}
	buf   []byte
}

func (s *distinctState) grow(n int) { s.inner.grow(n) }

func (s *distinctState) add(arg arrow.Array, gids []int32) error {
	if s.seen == nil {
		s.seen = map[string]struct{}{}
	}
	w, err := newKeyWriter(arg)
	if err != nil {
		return err
	}
	var keep []int
	var keepGids []int32
	for i, g := range gids {
		if arg.IsNull(i) {
			continue
		}
		s.buf = append(s.buf[:0], byte(g), byte(g>>8), byte(g>>16), byte(g>>24))
		s.buf = w(s.buf, i)
		if _, ok := s.seen[string(s.buf)]; ok {
			continue
		}
		s.seen[string(s.buf)] = struct{}{}
		keep = append(keep, i)
		keepGids = append(keepGids, g)
	}
	if len(keep) == 0 {
		return nil
	}
	sub, err := takeRows(s.mem, arg, keep)
	if err != nil {
		return err
	}
	defer sub.Release()
	return s.inner.add(sub, keepGids)
}

func (s *distinctState) finish(mem memory.Allocator, t arrow.DataType, n int) (arrow.Array, error) {
	return s.inner.finish(mem, t, n)
}

// takeRows copies the given rows of a into a new array.
func takeRows(mem memory.Allocator, a arrow.Array, rows []int) (arrow.Array, error) {
	b := array.NewBuilder(mem, a.DataType())
	defer b.Release()
	for _, r := range rows {
		if err := appendRow(b, a, r); err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

// stringAggState joins a group's strings in arrival order (the planner
// sorts the input first for string_agg(... ORDER BY ...)).
type stringAggState struct {
	sep  string
	vals []*strings.Builder
	seen []bool
}

func (s *stringAggState) grow(n int) {
	for len(s.vals) < n {
		s.vals = append(s.vals, &strings.Builder{})
		s.seen = append(s.seen, false)
	}
}
func (s *stringAggState) add(arg arrow.Array, gids []int32) error {
	arr := arg.(*array.String)
	for i, g := range gids {
		if arr.IsNull(i) {
			continue
		}
		if s.seen[g] {
			s.vals[g].WriteString(s.sep)
		}
		s.vals[g].WriteString(arr.Value(i))
		s.seen[g] = true
	}
	return nil
}
func (s *stringAggState) finish(mem memory.Allocator, _ arrow.DataType, n int) (arrow.Array, error) {
	s.grow(n)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for g := 0; g < n; g++ {
		if !s.seen[g] {
			b.AppendNull()
			continue
		}
		b.Append(s.vals[g].String())
	}
	return b.NewArray(), nil
}

// mergeable is an aggState whose per-worker results combine: merge folds
// o's group i into this state's group gmap[i] (grown to hold it).
type mergeable interface {
	merge(o aggState, gmap []int32) error
}

func (s *countState) merge(o aggState, gmap []int32) error {
	for i, c := range o.(*countState).n {
		s.n[gmap[i]] += c
	}
	return nil
}

func (s *sumIntState) merge(o aggState, gmap []int32) error {
	os := o.(*sumIntState)
	for i, x := range os.sum {
		if !os.seen[i] {
			continue
		}
		if err := s.addTo(gmap[i], x); err != nil {
			return err
		}
	}
	return nil
}

func (s *sumDecimalState) merge(o aggState, gmap []int32) error {
	os := o.(*sumDecimalState)
	for i, x := range os.sum {
		if os.seen[i] {
			g := gmap[i]
			s.sum[g], s.seen[g] = s.sum[g].Add(x), true
		}
	}
	return nil
}

func (s *avgDecimalState) merge(o aggState, gmap []int32) error {
	os := o.(*avgDecimalState)
	for i, x := range os.sum {
		g := gmap[i]
		s.sum[g] = s.sum[g].Add(x)
		s.count[g] += os.count[i]
	}
	return nil
}

// merge combines counts, compensated sums and, for variances, means and
// squared deviations (the pairwise update of Chan, Golub and LeVeque).
func (s *floatState) merge(o aggState, gmap []int32) error {
	os := o.(*floatState)
	for i, nb := range os.count {
		if nb == 0 {
			continue
		}
		g := gmap[i]
		na := s.count[g]
		n := na + nb
		s.addSum(g, os.sum[i])
		s.addSum(g, os.compensate[i])
		if s.kind >= AggVarSamp {
			d := os.mean[i] - s.mean[g]
			s.mean[g] += d * float64(nb) / float64(n)
			s.m2[g] += os.m2[i] + d*d*float64(na)*float64(nb)/float64(n)
		}
		s.count[g] = n
	}
	return nil
}

func (s *minMaxState) merge(o aggState, gmap []int32) error {
	os := o.(*minMaxState)
	if s.t == nil {
		s.t, s.kind = os.t, os.kind
	}
	for i, seen := range os.seen {
		if !seen {
			continue
		}
		g := gmap[i]
		var c int
		if s.seen[g] {
			switch os.kind {
			case 0:
				c = cmpInt(os.ints[i], s.ints[g])
			case 1:
				c = cmpFloat(os.flts[i], s.flts[g])
			case 2:
				c = cmpString(os.strs[i], s.strs[g])
			case 3:
				c = os.decs[i].Cmp(s.decs[g])
			}
		}
		if !s.seen[g] || s.better(c) {
			s.ints[g], s.flts[g], s.strs[g], s.decs[g] = os.ints[i], os.flts[i], os.strs[i], os.decs[i]
			s.seen[g] = true
		}
	}
	return nil
}

func (s *boolState) merge(o aggState, gmap []int32) error {
	os := o.(*boolState)
	for i, seen := range os.seen {
		if !seen {
			continue
		}
		g := gmap[i]
		if s.and {
			s.val[g] = s.val[g] && os.val[i]
		} else {
			s.val[g] = s.val[g] || os.val[i]
		}
		s.seen[g] = true
	}
	return nil
}

// avgDecimalState averages decimals from an exact sum, converting to
// float64 once per group rather than once per row.
type avgDecimalState struct {
	scale int32
	sum   []decimal128.Num
	count []int64
}

func (s *avgDecimalState) grow(n int) {
	for len(s.sum) < n {
		s.sum = append(s.sum, decimal128.Num{})
		s.count = append(s.count, 0)
	}
}
func (s *avgDecimalState) add(arg arrow.Array, gids []int32) error {
	arr := arg.(*array.Decimal128)
	vals := arr.Values()
	if arr.NullN() == 0 {
		for i, g := range gids {
			s.sum[g] = s.sum[g].Add(vals[i])
			s.count[g]++
		}
		return nil
	}
	for i, g := range gids {
		if arr.IsValid(i) {
			s.sum[g] = s.sum[g].Add(vals[i])
			s.count[g]++
		}
	}
	return nil
}
func (s *avgDecimalState) finish(mem memory.Allocator, _ arrow.DataType, n int) (arrow.Array, error) {
	s.grow(n)
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	for g := 0; g < n; g++ {
		if s.count[g] == 0 {
			b.AppendNull()
			continue
		}
		b.Append(s.sum[g].ToFloat64(s.scale) / float64(s.count[g]))
	}
	return b.NewArray(), nil
}

// merge folds another worker's count(DISTINCT) state in: its (group,
// value) keys are rewritten to this table's groups and counted when new.
func (s *distinctState) merge(o aggState, gmap []int32) error {
	os := o.(*distinctState)
	counts, ok := s.inner.(*countState)
	if !ok {
		return fmt.Errorf("%w: merging DISTINCT of an aggregate other than count", ErrUnsupportedType)
	}
	if s.seen == nil {
		s.seen = map[string]struct{}{}
	}
	for k := range os.seen {
		g := gmap[int32(k[0])|int32(k[1])<<8|int32(k[2])<<16|int32(k[3])<<24]
		s.buf = append(append(s.buf[:0], byte(g), byte(g>>8), byte(g>>16), byte(g>>24)), k[4:]...)
		if _, dup := s.seen[string(s.buf)]; dup {
			continue
		}
		s.seen[string(s.buf)] = struct{}{}
		counts.n[g]++
	}
	return nil
}
