package executor

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/lakeflight/lakeflight/expr"
)

// WindowFunc names a window function.
type WindowFunc int

// Window functions. Aggregates over a window reuse AggFunc through
// WindowAgg.
const (
	WinRowNumber WindowFunc = iota
	WinRank
	WinDenseRank
	WinLag
	WinLead
	WinFirstValue
	WinLastValue
	WinAgg
)

var winNames = [...]string{"row_number", "rank", "dense_rank", "lag", "lead", "first_value", "last_value", "agg"}

// Frame bounds a window aggregate's rows relative to the current row, in
// ROWS mode; RangeToPeers is the default frame with ORDER BY (every row up
// to the last peer of the current row).
type Frame struct {
	// Start and End are row offsets from the current row; nil is unbounded.
	Start, End   *int64
	RangeToPeers bool
}

// WindowCall is one window function of a Window operator.
type WindowCall struct {
	Func    WindowFunc
	Agg     AggFunc   // for WinAgg
	Arg     expr.Expr // value argument; nil for count(*) and ranking
	Offset  int64     // lag/lead distance
	Default expr.Expr // lag/lead default; nil for NULL
	Type    arrow.DataType
	// PartitionBy and OrderBy define the window; Frame its rows.
	PartitionBy []expr.Expr
	OrderBy     []SortKey
	Frame       Frame
}

func (w WindowCall) String() string {
	name := winNames[w.Func]
	if w.Func == WinAgg {
		name = w.Agg.String()
	}
	arg := ""
	if w.Arg != nil {
		arg = w.Arg.String()
	} else if w.Func == WinAgg {
		arg = "*"
	}
	var parts []string
	if len(w.PartitionBy) > 0 {
		var ps []string
		for _, p := range w.PartitionBy {
			ps = append(ps, p.String())
		}
		parts = append(parts, "PARTITION BY "+strings.Join(ps, ", "))
	}
	if len(w.OrderBy) > 0 {
		var os []string
		for _, o := range w.OrderBy {
			os = append(os, o.String())
		}
		parts = append(parts, "ORDER BY "+strings.Join(os, ", "))
	}
	return fmt.Sprintf("%s(%s) OVER (%s)", name, arg, strings.Join(parts, " "))
}

// Window computes window functions over its whole input and appends one
// column per call to the input's columns. Rows keep their input order.
type Window struct {
	Input  Operator
	Calls  []WindowCall
	Output *arrow.Schema

	ctx  context.Context
	out  arrow.RecordBatch
	done bool
	heldMemory
}

var _ Operator = (*Window)(nil)

func (w *Window) Schema() *arrow.Schema { return w.Output }
func (w *Window) Children() []Operator  { return []Operator{w.Input} }
func (w *Window) String() string {
	parts := make([]string, len(w.Calls))
	for i, c := range w.Calls {
		parts[i] = c.String()
	}
	return "Window " + strings.Join(parts, ", ")
}

func (w *Window) Open(ctx context.Context) error {
	if w.ctx != nil {
		return nil
	}
	w.ctx = ctx
	return w.Input.Open(ctx)
}

func (w *Window) Next() (arrow.RecordBatch, error) {
	if !w.done {
		w.done = true
		if err := w.run(); err != nil {
			return nil, err
		}
	}
	if w.out == nil {
		return nil, io.EOF
	}
	r := w.out
	w.out = nil
	return r, nil
}

func (w *Window) Close() error {
	if w.out != nil {
		w.out.Release()
		w.out = nil
	}
	return w.Input.Close()
}

func (w *Window) run() error {
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for {
		b, err := w.Input.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		batches = append(batches, b)
		w.add(recordBytes(b))
		if err := checkMemory(w.ctx, "a window function"); err != nil {
			return err
		}
	}
	if len(batches) == 0 {
		return nil
	}
	all, err := concatBatches(w.ctx, w.Input.Schema(), batches)
	if err != nil {
		return err
	}
	defer all.Release()
	cols := append([]arrow.Array{}, all.Columns()...)
	var made []arrow.Array
	defer func() { releaseAll(made) }()
	for _, c := range w.Calls {
		a, err := w.compute(all, c)
		if err != nil {
			return err
		}
		made = append(made, a)
		cols = append(cols, a)
	}
	w.out = array.NewRecordBatch(w.Output, cols, all.NumRows())
	return nil
}

// compute evaluates one call over all rows.
func (w *Window) compute(all arrow.RecordBatch, c WindowCall) (arrow.Array, error) {
	n := int(all.NumRows())
	var owned []arrow.Array
	defer func() { releaseAll(owned) }()
	eval := func(e expr.Expr) (arrow.Array, error) {
		a, err := Eval(w.ctx, e, all)
		if err == nil {
			owned = append(owned, a)
		}
		return a, err
	}
	// Order rows by partition, then by the window's ORDER BY.
	var partW []colWriter
	for _, p := range c.PartitionBy {
		a, err := eval(p)
		if err != nil {
			return nil, err
		}
		kw, err := newKeyWriter(a)
		if err != nil {
			return nil, err
		}
		partW = append(partW, colWriter{col: a, w: kw})
	}
	var cmps []func(i, j int) int
	var orderW []colWriter
	for _, p := range c.PartitionBy {
		a, _ := eval(p)
		cmp, err := comparator(a, false, false)
		if err != nil {
			return nil, err
		}
		cmps = append(cmps, cmp)
	}
	for _, k := range c.OrderBy {
		a, err := eval(k.Expr)
		if err != nil {
			return nil, err
		}
		cmp, err := comparator(a, k.Desc, k.NullsFirst)
		if err != nil {
			return nil, err
		}
		cmps = append(cmps, cmp)
		kw, err := newKeyWriter(a)
		if err != nil {
			return nil, err
		}
		orderW = append(orderW, colWriter{col: a, w: kw})
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		for _, cmp := range cmps {
			if r := cmp(a, b); r != 0 {
				return r
			}
		}
		return 0
	})
	key := func(ws []colWriter, r int) string {
		var buf []byte
		for _, w := range ws {
			buf = w.w(buf, r)
		}
		return string(buf)
	}
	var arg, def arrow.Array
	var err error
	if c.Arg != nil {
		if arg, err = eval(c.Arg); err != nil {
			return nil, err
		}
	}
	if c.Default != nil {
		if def, err = eval(c.Default); err != nil {
			return nil, err
		}
	}
	res := newWindowResult(w.ctx, c, n)
	defer res.release()
	// Walk partitions in sorted order.
	for start := 0; start < n; {
		end := start + 1
		pk := key(partW, idx[start])
		for end < n && key(partW, idx[end]) == pk {
			end++
		}
		part := idx[start:end]
		// Peer groups: rows equal on the ORDER BY keys.
		peerEnd := make([]int, len(part))
		peerStart := make([]int, len(part))
		for i := 0; i < len(part); {
			j := i + 1
			ok := key(orderW, part[i])
			for j < len(part) && key(orderW, part[j]) == ok {
				j++
			}
			for k := i; k < j; k++ {
				peerStart[k], peerEnd[k] = i, j
			}
			i = j
		}
		if err := res.fill(c, part, peerStart, peerEnd, arg, def); err != nil {
			return nil, err
		}
		start = end
	}
	return res.finish()
}

// windowResult holds one call's values by input row.
type windowResult struct {
	ctx   context.Context
	typ   arrow.DataType
	ints  []int64
	flts  []float64
	decs  []decimal128.Num
	src   []int // for value functions: the input row to copy, or -1
	valid []bool
	n     int
	kind  int // 0 ints, 1 floats, 2 copy from arg, 4 decimals
	from  []int8
	arg   arrow.Array
	def   arrow.Array
}

func newWindowResult(ctx context.Context, c WindowCall, n int) *windowResult {
	r := &windowResult{ctx: ctx, typ: c.Type, n: n, valid: make([]bool, n)}
	switch {
	case c.Func == WinAgg && (c.Agg == AggMin || c.Agg == AggMax):
		r.src = make([]int, n)
		r.from = make([]int8, n)
		r.kind = 2
	case c.Func == WinRowNumber || c.Func == WinRank || c.Func == WinDenseRank:
		r.ints = make([]int64, n)
	case c.Func == WinAgg && (c.Agg == AggCount || (c.Agg != AggAvg && isIntType(c.Type))):
		r.ints = make([]int64, n)
	case c.Func == WinAgg && c.Agg == AggSum && c.Type.ID() == arrow.DECIMAL128:
		r.decs = make([]decimal128.Num, n)
		r.kind = 4
	case c.Func == WinAgg && isFloatType(c.Type):
		r.flts = make([]float64, n)
		r.kind = 1
	default:
		r.src = make([]int, n)
		r.from = make([]int8, n)
		r.kind = 2
	}
	return r
}

func (r *windowResult) release() {}

func (r *windowResult) fill(c WindowCall, part, peerStart, peerEnd []int, arg, def arrow.Array) error {
	r.arg, r.def = arg, def
	m := len(part)
	switch c.Func {
	case WinRowNumber:
		for i, row := range part {
			r.ints[row], r.valid[row] = int64(i+1), true
		}
	case WinRank:
		for i, row := range part {
			r.ints[row], r.valid[row] = int64(peerStart[i]+1), true
		}
	case WinDenseRank:
		rank := int64(0)
		for i, row := range part {
			if peerStart[i] == i {
				rank++
			}
			r.ints[row], r.valid[row] = rank, true
		}
	case WinLag, WinLead:
		for i, row := range part {
			j := i - int(c.Offset)
			if c.Func == WinLead {
				j = i + int(c.Offset)
			}
			switch {
			case j >= 0 && j < m:
				r.src[row], r.from[row], r.valid[row] = part[j], 1, arg.IsValid(part[j])
			case def != nil:
				r.src[row], r.from[row], r.valid[row] = row, 2, def.IsValid(row)
			default:
				r.valid[row] = false
			}
		}
	case WinFirstValue, WinLastValue:
		for i, row := range part {
			lo, hi := frameOf(c, i, m, peerStart, peerEnd)
			if lo >= hi {
				continue
			}
			j := part[lo]
			if c.Func == WinLastValue {
				j = part[hi-1]
			}
			r.src[row], r.from[row], r.valid[row] = j, 1, arg.IsValid(j)
		}
	case WinAgg:
		return r.fillAgg(c, part, peerStart, peerEnd, arg)
	}
	return nil
}

// frameOf returns the frame [lo, hi) of position i in a partition of m rows.
func frameOf(c WindowCall, i, m int, peerStart, peerEnd []int) (int, int) {
	if len(c.OrderBy) == 0 && c.Frame.Start == nil && c.Frame.End == nil && !c.Frame.RangeToPeers {
		return 0, m
	}
	if c.Frame.RangeToPeers {
		return 0, peerEnd[i]
	}
	lo, hi := 0, m
	if c.Frame.Start != nil {
		lo = max(0, i+int(*c.Frame.Start))
	}
	if c.Frame.End != nil {
		hi = min(m, i+int(*c.Frame.End)+1)
	}
	return lo, hi
}

func (r *windowResult) fillAgg(c WindowCall, part, peerStart, peerEnd []int, arg arrow.Array) error {
	m := len(part)
	var fv func(int) float64
	var iv func(int) int64
	var dv []decimal128.Num
	// Only sums and averages read the values; count, min and max compare
	// or count rows of any type.
	if arg != nil && (c.Agg == AggSum || c.Agg == AggAvg) {
		if d, ok := arg.(*array.Decimal128); ok && r.decs != nil {
			dv = d.Values()
		}
		if isFloatType(arg.DataType()) || arg.DataType().ID() == arrow.DECIMAL128 {
			fv, _ = floatValues(arg)
		} else {
			v, err := orderedInts(arg)
			if err != nil {
				return fmt.Errorf("%w: %s over %s", ErrUnsupportedType, c.Agg, arg.DataType())
			}
			iv = v
			fv = func(i int) float64 { return float64(v(i)) }
		}
	}
	// Prefix sums make running and whole-partition frames linear.
	cnt := make([]int64, m+1)
	sumF := make([]float64, m+1)
	sumI := make([]int64, m+1)
	var sumD []decimal128.Num
	if dv != nil {
		sumD = make([]decimal128.Num, m+1)
	}
	for i, row := range part {
		ok := arg == nil || arg.IsValid(row)
		cnt[i+1], sumF[i+1], sumI[i+1] = cnt[i], sumF[i], sumI[i]
		if sumD != nil {
			sumD[i+1] = sumD[i]
			if ok {
				sumD[i+1] = sumD[i+1].Add(dv[row])
			}
		}
		if ok {
			cnt[i+1]++
			if fv != nil {
				sumF[i+1] += fv(row)
				if iv != nil {
					sumI[i+1] += iv(row)
				}
			}
		}
	}
	for i, row := range part {
		lo, hi := frameOf(c, i, m, peerStart, peerEnd)
		if lo >= hi {
			if c.Agg == AggCount {
				r.ints[row], r.valid[row] = 0, true
			}
			continue
		}
		k := cnt[hi] - cnt[lo]
		switch c.Agg {
		case AggCount:
			r.ints[row], r.valid[row] = k, true
		case AggSum:
			if k == 0 {
				continue
			}
			switch {
			case r.decs != nil:
				r.decs[row], r.valid[row] = sumD[hi].Sub(sumD[lo]), true
			case r.ints != nil:
				r.ints[row], r.valid[row] = sumI[hi]-sumI[lo], true
			default:
				r.flts[row], r.valid[row] = sumF[hi]-sumF[lo], true
			}
		case AggAvg:
			if k == 0 {
				continue
			}
			r.flts[row], r.valid[row] = (sumF[hi]-sumF[lo])/float64(k), true
		case AggMin, AggMax:
			best := -1
			for j := lo; j < hi; j++ {
				if !arg.IsValid(part[j]) {
					continue
				}
				if best < 0 {
					best = part[j]
					continue
				}
				cmp, err := compareRows2(arg, part[j], best)
				if err != nil {
					return err
				}
				if (c.Agg == AggMax && cmp > 0) || (c.Agg == AggMin && cmp < 0) {
					best = part[j]
				}
			}
			if best >= 0 {
				r.src[row], r.from[row], r.valid[row] = best, 1, true
			}
		default:
			return fmt.Errorf("%w: %s as a window function", ErrUnsupportedType, c.Agg)
		}
	}
	return nil
}

// compareRows2 compares rows i and j of one array.
func compareRows2(a arrow.Array, i, j int) (int, error) {
	cmp, err := comparator(a, false, false)
	if err != nil {
		return 0, err
	}
	return cmp(i, j), nil
}

func (r *windowResult) finish() (arrow.Array, error) {
	b := array.NewBuilder(allocator(r.ctx), r.typ)
	defer b.Release()
	for row := 0; row < r.n; row++ {
		if !r.valid[row] {
			b.AppendNull()
			continue
		}
		switch r.kind {
		case 0:
			switch bb := b.(type) {
			case *array.Int64Builder:
				bb.Append(r.ints[row])
			case *array.Int32Builder:
				bb.Append(int32(r.ints[row]))
			default:
				return nil, fmt.Errorf("%w: window result %s", ErrUnsupportedType, r.typ)
			}
		case 1:
			b.(*array.Float64Builder).Append(r.flts[row])
		case 4:
			b.(*array.Decimal128Builder).Append(r.decs[row])
		default:
			src := r.arg
			if r.from[row] == 2 {
				src = r.def
			}
			if err := appendRow(b, src, r.src[row]); err != nil {
				return nil, err
			}
		}
	}
	return b.NewArray(), nil
}
