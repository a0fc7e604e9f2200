package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

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
//
// With Workers above one and aggregates that can be merged (no DISTINCT,
// no string_agg), that many goroutines pull batches from Input, each
// folding them into a table of its own; the tables are merged at the end.
type HashAggregate struct {
	Input  Operator
	Groups []expr.Expr
	Aggs   []Agg
	Output *arrow.Schema
	// BatchSize is the number of groups per output batch; 0 for 65536.
	BatchSize int
	// Workers is how many goroutines consume the input; 0 or 1 for the
	// calling one.
	Workers int

	ctx   context.Context
	table *aggTable
	extra []*aggTable // the other workers' tables, until merged
	out   []arrow.RecordBatch
	done  bool
	heldMemory
}

// aggTable is one worker's groups: the key index, the group values and the
// accumulators.
type aggTable struct {
	h        *HashAggregate
	keys     map[string]int32
	keyBufs  []array.Builder
	states   []aggState
	ngroups  int
	reserved int64
	keyLen   int
	// Typed group tables for a single grouping column.
	intKeys *intTable
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

// Mergeable reports whether per-worker results of these aggregates can be
// combined: string_agg depends on the order of rows, and DISTINCT
// aggregates other than count on the values seen, which workers do not
// keep.
func Mergeable(aggs []Agg) bool {
	for _, a := range aggs {
		if (a.Distinct && a.Func != AggCount) || a.Func == AggStringAgg {
			return false
		}
	}
	return true
}

func (h *HashAggregate) newTable() (*aggTable, error) {
	mem := allocator(h.ctx)
	t := &aggTable{h: h, keys: map[string]int32{}}
	for i := range h.Groups {
		t.keyBufs = append(t.keyBufs, newBuilder(mem, h.Output.Field(i).Type))
	}
	for _, a := range h.Aggs {
		var typ arrow.DataType
		if a.Arg != nil {
			typ = a.Arg.DataType()
		}
		st, err := newAggState(a, typ, mem)
		if err != nil {
			t.release()
			return nil, err
		}
		t.states = append(t.states, st)
	}
	if len(h.Groups) == 0 {
		t.ngroups = 1
		for _, st := range t.states {
			st.grow(1)
		}
	}
	return t, nil
}

func (h *HashAggregate) consume() error {
	workers := h.Workers
	if workers < 1 || !Mergeable(h.Aggs) {
		workers = 1
	}
	var err error
	if h.table, err = h.newTable(); err != nil {
		return err
	}
	if workers == 1 {
		for {
			in, err := h.Input.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			err = h.table.add(in)
			in.Release()
			if err != nil {
				return err
			}
		}
		return h.emit()
	}
	for w := 1; w < workers; w++ {
		t, err := h.newTable()
		if err != nil {
			return err
		}
		h.extra = append(h.extra, t)
	}
	tables := append([]*aggTable{h.table}, h.extra...)
	var (
		mu     sync.Mutex // guards Input.Next, eof and firstErr
		eof    bool
		first  error
		wg     sync.WaitGroup
		failed atomic.Bool
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		failed.Store(true)
	}
	for _, t := range tables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				mu.Lock()
				if eof {
					mu.Unlock()
					return
				}
				in, err := h.Input.Next()
				if err == io.EOF {
					eof = true
				}
				mu.Unlock()
				if err == io.EOF {
					return
				}
				if err != nil {
					fail(err)
					return
				}
				err = t.add(in)
				in.Release()
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	for _, t := range h.extra {
		h.add(t.reserved)
	}
	for len(h.extra) > 0 {
		t := h.extra[0]
		err := h.table.merge(t)
		t.release()
		h.extra = h.extra[1:]
		if err != nil {
			return err
		}
	}
	return h.emit()
}

// add folds one input batch into the table.
func (t *aggTable) add(in arrow.RecordBatch) error {
	h := t.h
	n := int(in.NumRows())
	var gids []int32
	if len(h.Groups) == 0 {
		gids = make([]int32, n)
	} else {
		cols := make([]arrow.Array, len(h.Groups))
		defer func() {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
		}()
		for i, g := range h.Groups {
			c, err := Eval(h.ctx, g, in)
			if err != nil {
				return err
			}
			cols[i] = c
		}
		var err error
		if gids, err = t.assign(cols, make([]int32, 0, n)); err != nil {
			return err
		}
	}
	if err := t.update(in, gids); err != nil {
		return err
	}
	// Each group costs its key in the map and its accumulators.
	grow := int64(t.ngroups)*(int64(t.keyLen)+48+16*int64(len(h.Aggs))) - t.reserved
	if grow > 0 {
		reserve(h.ctx, grow)
		t.reserved += grow
	}
	if err := checkMemory(h.ctx, "GROUP BY or DISTINCT"); err != nil {
		return err
	}
	if err := h.ctx.Err(); err != nil {
		return context.Cause(h.ctx)
	}
	return nil
}

// assign maps each row of the grouping columns to its group id, adding
// groups (and their key values) for keys not seen before.
func (t *aggTable) assign(cols []arrow.Array, gids []int32) ([]int32, error) {
	if len(cols) == 1 {
		out, done, err := t.assignSingle(cols[0], gids)
		if done || err != nil {
			return out, err
		}
	}
	writers := make([]keyWriter, len(cols))
	for i, c := range cols {
		var err error
		if writers[i], err = newKeyWriter(c); err != nil {
			return nil, err
		}
	}
	var keyBuf []byte
	n := 0
	if len(cols) > 0 {
		n = cols[0].Len()
	}
	for r := 0; r < n; r++ {
		keyBuf = keyBuf[:0]
		for _, w := range writers {
			keyBuf = w(keyBuf, r)
		}
		gid, ok := t.keys[string(keyBuf)]
		if !ok {
			gid = int32(t.ngroups)
			t.ngroups++
			t.keys[string(keyBuf)] = gid
			for i, c := range cols {
				if err := appendRow(t.keyBufs[i], c, r); err != nil {
					return nil, err
				}
			}
		}
		gids = append(gids, gid)
	}
	t.keyLen = max(t.keyLen, len(keyBuf))
	for _, st := range t.states {
		st.grow(t.ngroups)
	}
	return gids, nil
}

func (t *aggTable) update(in arrow.RecordBatch, gids []int32) error {
	h := t.h
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
			t.states[i].(*countState).addStar(rows)
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
		err = t.states[i].add(arg, rows)
		arg.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// merge folds another worker's table into t.
func (t *aggTable) merge(o *aggTable) error {
	if o.ngroups == 0 {
		return nil
	}
	gmap := make([]int32, o.ngroups)
	if len(t.h.Groups) > 0 {
		cols := make([]arrow.Array, len(o.keyBufs))
		for i, b := range o.keyBufs {
			cols[i] = b.NewArray()
		}
		var err error
		gmap, err = t.assign(cols, gmap[:0])
		releaseAll(cols)
		if err != nil {
			return err
		}
	}
	for i, st := range t.states {
		if err := st.(mergeable).merge(o.states[i], gmap); err != nil {
			return err
		}
	}
	return nil
}

func (t *aggTable) release() {
	if t.reserved != 0 {
		reserve(t.h.ctx, -t.reserved)
		t.reserved = 0
	}
	for _, b := range t.keyBufs {
		b.Release()
	}
	t.keyBufs = nil
}

func (h *HashAggregate) emit() error {
	t := h.table
	// What the tables hold at the end is their peak: groups only grow.
	h.add(t.reserved)
	mem := allocator(h.ctx)
	cols := make([]arrow.Array, 0, h.Output.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, b := range t.keyBufs {
		cols = append(cols, b.NewArray())
	}
	for i, st := range t.states {
		a, err := st.finish(mem, h.Output.Field(len(h.Groups)+i).Type, t.ngroups)
		if err != nil {
			return err
		}
		cols = append(cols, a)
	}
	if t.ngroups == 0 {
		return nil
	}
	all := array.NewRecordBatch(h.Output, cols, int64(t.ngroups))
	defer all.Release()
	size := h.BatchSize
	if size <= 0 {
		size = 65536
	}
	for off := 0; off < t.ngroups; off += size {
		h.out = append(h.out, all.NewSlice(int64(off), int64(min(off+size, t.ngroups))))
	}
	return nil
}

func (h *HashAggregate) Close() error {
	if h.table != nil {
		h.table.release()
	}
	for _, t := range h.extra {
		t.release()
	}
	h.extra = nil
	for _, r := range h.out {
		r.Release()
	}
	h.out = nil
	return h.Input.Close()
}

// assignSingle maps the rows of a single integer-like or string grouping
// column to group ids with a typed hash table, skipping key encoding. It
// reports false for other types.
func (t *aggTable) assignSingle(col arrow.Array, gids []int32) ([]int32, bool, error) {
	n := col.Len()
	newGroup := func(r int) (int32, error) {
		gid := int32(t.ngroups)
		t.ngroups++
		return gid, appendRow(t.keyBufs[0], col, r)
	}
	nullGroup := func(r int) (int32, error) {
		if t.ngroups == 0 || t.nullGid == 0 {
			// nullGid stores id+1 so that zero means "none yet".
			g, err := newGroup(r)
			t.nullGid = g + 1
			return g, err
		}
		return t.nullGid - 1, nil
	}
	defer func() {
		for _, st := range t.states {
			st.grow(t.ngroups)
		}
	}()
	switch arr := col.(type) {
	case *array.String:
		if t.strKeys == nil {
			t.strKeys = map[string]int32{}
		}
		t.keyLen = 16
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
			g, ok := t.strKeys[v]
			if !ok {
				var err error
				if g, err = newGroup(r); err != nil {
					return nil, true, err
				}
				t.strKeys[strings.Clone(v)] = g
			}
			gids = append(gids, g)
		}
		return gids, true, nil
	}
	v, err := orderedInts(col)
	if err != nil || col.DataType().ID() == arrow.BOOL {
		return gids, false, nil
	}
	if t.intKeys == nil {
		t.intKeys = newIntTable(1024)
	}
	t.keyLen = 9
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
		g, ok := t.intKeys.get(x)
		if !ok {
			var err error
			if g, err = newGroup(r); err != nil {
				return nil, true, err
			}
			t.intKeys.add(x, g)
		}
		gids = append(gids, g)
	}
	return gids, true, nil
}
