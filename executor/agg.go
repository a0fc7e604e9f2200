package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeflight/lakeflight/expr"
)

// AggFunc is an aggregate function.
type AggFunc int

// Aggregate functions.
const (
	AggCount AggFunc = iota // count(x); count(*) when Arg is nil
	AggSum
	AggAvg
	AggMin
	AggMax
	AggBoolAnd
	AggBoolOr
	AggVarSamp
	AggVarPop
	AggStddevSamp
	AggStddevPop
	AggStringAgg
)

var aggNames = map[AggFunc]string{AggCount: "count", AggSum: "sum", AggAvg: "avg", AggMin: "min", AggMax: "max",
	AggBoolAnd: "bool_and", AggBoolOr: "bool_or", AggVarSamp: "var_samp", AggVarPop: "var_pop",
	AggStddevSamp: "stddev_samp", AggStddevPop: "stddev_pop", AggStringAgg: "string_agg"}

func (f AggFunc) String() string { return aggNames[f] }

// ErrOverflow means an integer result does not fit its type.
var ErrOverflow = errors.New("integer out of range")

// Agg is one aggregate of a HashAggregate.
type Agg struct {
	Func     AggFunc
	Arg      expr.Expr // nil for count(*)
	Distinct bool
	Filter   expr.Expr // FILTER (WHERE ...): rows for which it is not true are skipped; nil for none
	Sep      string    // string_agg's separator
}

// AggResultType is the type an aggregate yields for an argument of type t
// (t is nil for count(*)). It reports an error for arguments the function
// does not take.
func AggResultType(f AggFunc, t arrow.DataType) (arrow.DataType, error) {
	switch f {
	case AggCount:
		return arrow.PrimitiveTypes.Int64, nil
	case AggSum:
		switch {
		case isIntType(t):
			return arrow.PrimitiveTypes.Int64, nil
		case isFloatType(t):
			return arrow.PrimitiveTypes.Float64, nil
		case t.ID() == arrow.DECIMAL128:
			return &arrow.Decimal128Type{Precision: 38, Scale: t.(*arrow.Decimal128Type).Scale}, nil
		}
	case AggAvg, AggVarSamp, AggVarPop, AggStddevSamp, AggStddevPop:
		if isIntType(t) || isFloatType(t) || t.ID() == arrow.DECIMAL128 {
			return arrow.PrimitiveTypes.Float64, nil
		}
	case AggMin, AggMax:
		switch t.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.FLOAT32, arrow.FLOAT64, arrow.STRING,
			arrow.DATE32, arrow.TIMESTAMP, arrow.TIME64, arrow.DECIMAL128, arrow.BOOL:
			return t, nil
		}
	case AggBoolAnd, AggBoolOr:
		if t.ID() == arrow.BOOL {
			return t, nil
		}
	case AggStringAgg:
		if t.ID() == arrow.STRING {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: %s(%s)", ErrUnsupportedType, f, t)
}

func isIntType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return true
	}
	return false
}

func isFloatType(t arrow.DataType) bool { return t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64 }

// HashAggregate groups its input by Groups and computes Aggs per group. The
// output has the group columns, then one column per aggregate. Without
// groups it yields exactly one row, even for empty input.
type HashAggregate struct {
	Input  Operator
	Groups []expr.Expr
	Aggs   []Agg
	Output *arrow.Schema
	// BatchSize is the number of groups per output batch; 0 for 65536.
	BatchSize int

	ctx      context.Context
	keys     map[string]int32
	keyBufs  []array.Builder
	states   []aggState
	ngroups  int
	out      []arrow.RecordBatch
	done     bool
	reserved int64
	// Typed group tables for a single grouping column.
	intKeys map[int64]int32
	strKeys map[string]int32
	nullGid int32
}

var _ Operator = (*HashAggregate)(nil)

func (h *HashAggregate) Schema() *arrow.Schema { return h.Output }
func (h *HashAggregate) Children() []Operator  { return []Operator{h.Input} }
func (h *HashAggregate) String() string {
	var parts []string
	for _, a := range h.Aggs {
		arg := "*"
		if a.Arg != nil {
			arg = a.Arg.String()
		}
		if a.Distinct {
			arg = "DISTINCT " + arg
		}
		if a.Filter != nil {
			parts = append(parts, fmt.Sprintf("%s(%s) FILTER (WHERE %s)", a.Func, arg, a.Filter))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s(%s)", a.Func, arg))
	}
	var gs []string
	for _, g := range h.Groups {
		gs = append(gs, g.String())
	}
	return fmt.Sprintf("HashAggregate groups=[%s] aggs=[%s]", strings.Join(gs, ", "), strings.Join(parts, ", "))
}

func (h *HashAggregate) Open(ctx context.Context) error {
	if h.ctx != nil {
		return nil
	}
	h.ctx = ctx
	return h.Input.Open(ctx)
}

func (h *HashAggregate) Next() (arrow.RecordBatch, error) {
	if !h.done {
		h.done = true
		if err := h.consume(); err != nil {
			return nil, err
		}
	}
	if len(h.out) == 0 {
		return nil, io.EOF
	}
	rec := h.out[0]
	h.out = h.out[1:]
	return rec, nil
}

func (h *HashAggregate) consume() error {
	mem := allocator(h.ctx)
	h.keys = map[string]int32{}
	for i := range h.Groups {
		h.keyBufs = append(h.keyBufs, newBuilder(mem, h.Output.Field(i).Type))
	}
	for _, a := range h.Aggs {
		var t arrow.DataType
		if a.Arg != nil {
			t = a.Arg.DataType()
		}
		st, err := newAggState(a, t, mem)
		if err != nil {
			return err
		}
		h.states = append(h.states, st)
	}
	if len(h.Groups) == 0 {
		h.ngroups = 1
		for _, st := range h.states {
			st.grow(1)
		}
	}
	var gids []int32
	var keyBuf []byte
	for {
		in, err := h.Input.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n := int(in.NumRows())
		gids = gids[:0]
		if len(h.Groups) == 0 {
			for i := 0; i < n; i++ {
				gids = append(gids, 0)
			}
		} else {
			cols := make([]arrow.Array, len(h.Groups))
			writers := make([]keyWriter, len(h.Groups))
			err := func() error {
				for i, g := range h.Groups {
					c, err := Eval(h.ctx, g, in)
					if err != nil {
						return err
					}
					cols[i] = c
					if writers[i], err = newKeyWriter(c); err != nil {
						return err
					}
				}
				if len(cols) == 1 {
					var done bool
					var err error
					gids, done, err = h.assignSingle(cols[0], gids)
					if done || err != nil {
						return err
					}
				}
				for r := 0; r < n; r++ {
					keyBuf = keyBuf[:0]
					for _, w := range writers {
						keyBuf = w(keyBuf, r)
					}
					gid, ok := h.keys[string(keyBuf)]
					if !ok {
						gid = int32(h.ngroups)
						h.ngroups++
						h.keys[string(keyBuf)] = gid
						for i, c := range cols {
							if err := appendRow(h.keyBufs[i], c, r); err != nil {
								return err
							}
						}
					}
					gids = append(gids, gid)
				}
				return nil
			}()
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
			if err != nil {
				in.Release()
				return err
			}
			for _, st := range h.states {
				st.grow(h.ngroups)
			}
		}
		err = h.update(in, gids)
		in.Release()
		if err != nil {
			return err
		}
		// Each group costs its key in the map and its accumulators.
		grow := int64(h.ngroups)*(int64(len(keyBuf))+48+16*int64(len(h.Aggs))) - h.reserved
		if grow > 0 {
			reserve(h.ctx, grow)
			h.reserved += grow
		}
		if err := checkMemory(h.ctx, "GROUP BY or DISTINCT"); err != nil {
			return err
		}
		if err := h.ctx.Err(); err != nil {
			return context.Cause(h.ctx)
		}
	}
	return h.emit()
}

func (h *HashAggregate) update(in arrow.RecordBatch, gids []int32) error {
	for i, a := range h.Aggs {
		rows := gids
		var keep []int
		if a.Filter != nil {
			mask, err := Eval(h.ctx, a.Filter, in)
			if err != nil {
				return err
			}
			b := mask.(*array.Boolean)
			rows = make([]int32, 0, len(gids))
			for r := range gids {
				if b.IsValid(r) && b.Value(r) {
					keep = append(keep, r)
					rows = append(rows, gids[r])
				}
			}
			mask.Release()
		}
		if a.Arg == nil {
			h.states[i].(*countState).addStar(rows)
			continue
		}
		arg, err := Eval(h.ctx, a.Arg, in)
		if err != nil {
			return err
		}
		if a.Filter != nil {
			sub, err := takeRows(allocator(h.ctx), arg, keep)
			arg.Release()
			if err != nil {
				return err
			}
			arg = sub
		}
		err = h.states[i].add(arg, rows)
		arg.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *HashAggregate) emit() error {
	mem := allocator(h.ctx)
	cols := make([]arrow.Array, 0, h.Output.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, b := range h.keyBufs {
		cols = append(cols, b.NewArray())
	}
	for i, st := range h.states {
		a, err := st.finish(mem, h.Output.Field(len(h.Groups)+i).Type, h.ngroups)
		if err != nil {
			return err
		}
		cols = append(cols, a)
	}
	if h.ngroups == 0 {
		return nil
	}
	all := array.NewRecordBatch(h.Output, cols, int64(h.ngroups))
	defer all.Release()
	size := h.BatchSize
	if size <= 0 {
		size = 65536
	}
	for off := 0; off < h.ngroups; off += size {
		h.out = append(h.out, all.NewSlice(int64(off), int64(min(off+size, h.ngroups))))
	}
	return nil
}

func (h *HashAggregate) Close() error {
	if h.reserved != 0 {
		reserve(h.ctx, -h.reserved)
		h.reserved = 0
	}
	for _, r := range h.out {
		r.Release()
	}
	h.out = nil
	for _, b := range h.keyBufs {
		b.Release()
	}
	h.keyBufs = nil
	return h.Input.Close()
}

// assignSingle maps the rows of a single integer-like or string grouping
// column to group ids with a typed hash table, skipping key encoding. It
// reports false for other types.
func (h *HashAggregate) assignSingle(col arrow.Array, gids []int32) ([]int32, bool, error) {
	n := col.Len()
	newGroup := func(r int) (int32, error) {
		gid := int32(h.ngroups)
		h.ngroups++
		return gid, appendRow(h.keyBufs[0], col, r)
	}
	nullGroup := func(r int) (int32, error) {
		if h.ngroups == 0 || h.nullGid == 0 {
			// nullGid stores id+1 so that zero means "none yet".
			g, err := newGroup(r)
			h.nullGid = g + 1
			return g, err
		}
		return h.nullGid - 1, nil
	}
	switch arr := col.(type) {
	case *array.String:
		if h.strKeys == nil {
			h.strKeys = map[string]int32{}
		}
		for r := 0; r < n; r++ {
			if arr.IsNull(r) {
				g, err := nullGroup(r)
				if err != nil {
					return nil, true, err
				}
				gids = append(gids, g)
				continue
			}
			v := arr.Value(r)
			g, ok := h.strKeys[v]
			if !ok {
				var err error
				if g, err = newGroup(r); err != nil {
					return nil, true, err
				}
				h.strKeys[strings.Clone(v)] = g
			}
			gids = append(gids, g)
		}
		return gids, true, nil
	}
	v, err := orderedInts(col)
	if err != nil || col.DataType().ID() == arrow.BOOL {
		return gids, false, nil
	}
	if h.intKeys == nil {
		h.intKeys = map[int64]int32{}
	}
	for r := 0; r < n; r++ {
		if col.IsNull(r) {
			g, err := nullGroup(r)
			if err != nil {
				return nil, true, err
			}
			gids = append(gids, g)
			continue
		}
		x := v(r)
		g, ok := h.intKeys[x]
		if !ok {
			var err error
			if g, err = newGroup(r); err != nil {
				return nil, true, err
			}
			h.intKeys[x] = g
		}
		gids = append(gids, g)
	}
	return gids, true, nil
}
