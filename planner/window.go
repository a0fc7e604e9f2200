package planner

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// winCall is a window function call found while binding the select list or
// ORDER BY; the planner turns each into a column of a Window operator.
type winCall struct{ call executor.WindowCall }

func (w *winCall) DataType() arrow.DataType { return w.call.Type }
func (w *winCall) String() string           { return w.call.String() }

// PostgreSQL frame option bits (nodes/parsenodes.h).
const (
	frameNonDefault      = 0x00001
	frameRange           = 0x00002
	frameRows            = 0x00004
	frameGroups          = 0x00008
	frameStartUnbPrec    = 0x00020
	frameEndUnbFoll      = 0x00100
	frameStartCurrent    = 0x00200
	frameEndCurrent      = 0x00400
	frameStartOffsetPrec = 0x00800
	frameEndOffsetPrec   = 0x01000
	frameStartOffsetFoll = 0x02000
	frameEndOffsetFoll   = 0x04000
	frameExclusion       = 0x08000 | 0x10000 | 0x20000
)

var rankingFuncs = map[string]executor.WindowFunc{
	"row_number": executor.WinRowNumber, "rank": executor.WinRank, "dense_rank": executor.WinDenseRank,
	"lag": executor.WinLag, "lead": executor.WinLead, "first_value": executor.WinFirstValue, "last_value": executor.WinLastValue,
}

func (b *binder) windowCall(name string, fc *pg.FuncCall) (expr.Expr, error) {
	if !b.winOK {
		return nil, invalid("window function %s() is not allowed in %s", name, b.where)
	}
	over := fc.GetOver()
	if over.GetName() != "" || over.GetRefname() != "" {
		return nil, unsupported("named windows (OVER %s)", over.GetName()+over.GetRefname())
	}
	if fc.GetAggDistinct() {
		return nil, unsupported("DISTINCT in a window function")
	}
	wc := executor.WindowCall{}
	// The window's own expressions may not hold other window calls.
	b.winOK = false
	defer func() { b.winOK = true }()
	for _, p := range over.GetPartitionClause() {
		e, err := b.valueExpr(p)
		if err != nil {
			return nil, err
		}
		wc.PartitionBy = append(wc.PartitionBy, e)
	}
	keys, err := b.sortKeys(over.GetOrderClause())
	if err != nil {
		return nil, err
	}
	wc.OrderBy = keys
	fr, err := b.frame(over, len(wc.OrderBy) > 0)
	if err != nil {
		return nil, err
	}
	wc.Frame = fr
	args := fc.GetArgs()
	if f, ok := rankingFuncs[name]; ok {
		wc.Func = f
		switch f {
		case executor.WinRowNumber, executor.WinRank, executor.WinDenseRank:
			if len(args) != 0 {
				return nil, invalid("%s() takes no arguments", name)
			}
			wc.Type = i64
		case executor.WinLag, executor.WinLead:
			if len(args) < 1 || len(args) > 3 {
				return nil, invalid("%s() takes 1 to 3 arguments", name)
			}
			wc.Offset = 1
			if wc.Arg, err = b.valueExpr(args[0]); err != nil {
				return nil, err
			}
			wc.Type = wc.Arg.DataType()
			if len(args) > 1 {
				off, err := b.intConst(args[1], name+" offset")
				if err != nil {
					return nil, err
				}
				wc.Offset = off
			}
			if len(args) > 2 {
				d, err := b.operand(args[2], wc.Type)
				if err != nil {
					return nil, err
				}
				if wc.Default, err = castTo(d, wc.Type); err != nil {
					return nil, err
				}
			}
		default:
			if len(args) != 1 {
				return nil, invalid("%s() takes 1 argument", name)
			}
			if wc.Arg, err = b.valueExpr(args[0]); err != nil {
				return nil, err
			}
			wc.Type = wc.Arg.DataType()
		}
		return &winCall{call: wc}, nil
	}
	fn, ok := aggFuncs[name]
	if !ok {
		return nil, unsupported("window function %s()", name)
	}
	switch fn {
	case executor.AggCount, executor.AggSum, executor.AggAvg, executor.AggMin, executor.AggMax:
	default:
		return nil, unsupported("%s() as a window function", name)
	}
	wc.Func, wc.Agg = executor.WinAgg, fn
	var argType arrow.DataType
	if !fc.GetAggStar() {
		if len(args) != 1 {
			return nil, invalid("%s() takes 1 argument", name)
		}
		if wc.Arg, err = b.valueExpr(args[0]); err != nil {
			return nil, err
		}
		argType = wc.Arg.DataType()
	}
	if wc.Type, err = executor.AggResultType(fn, argType); err != nil {
		return nil, invalid("%s(%s) is not defined", name, argType)
	}
	return &winCall{call: wc}, nil
}

func (b *binder) frame(over *pg.WindowDef, ordered bool) (executor.Frame, error) {
	opts := over.GetFrameOptions()
	var fr executor.Frame
	if opts&frameNonDefault == 0 {
		fr.RangeToPeers = ordered
		return fr, nil
	}
	if opts&frameGroups != 0 {
		return fr, unsupported("GROUPS frames")
	}
	if opts&frameExclusion != 0 {
		return fr, unsupported("EXCLUDE in a window frame")
	}
	offset := func(n *pg.Node) (*int64, error) {
		v, err := b.intConst(n, "frame offset")
		if err != nil {
			return nil, err
		}
		return &v, nil
	}
	if opts&frameRange != 0 {
		switch {
		case opts&frameStartUnbPrec != 0 && opts&frameEndCurrent != 0:
			fr.RangeToPeers = ordered
		case opts&frameStartUnbPrec != 0 && opts&frameEndUnbFoll != 0:
		default:
			return fr, unsupported("RANGE frames other than UNBOUNDED PRECEDING to CURRENT ROW or UNBOUNDED FOLLOWING")
		}
		return fr, nil
	}
	var err error
	switch {
	case opts&frameStartUnbPrec != 0:
	case opts&frameStartCurrent != 0:
		zero := int64(0)
		fr.Start = &zero
	case opts&frameStartOffsetPrec != 0:
		if fr.Start, err = offset(over.GetStartOffset()); err != nil {
			return fr, err
		}
		*fr.Start = -*fr.Start
	case opts&frameStartOffsetFoll != 0:
		if fr.Start, err = offset(over.GetStartOffset()); err != nil {
			return fr, err
		}
	}
	switch {
	case opts&frameEndUnbFoll != 0:
	case opts&frameEndCurrent != 0:
		zero := int64(0)
		fr.End = &zero
	case opts&frameEndOffsetPrec != 0:
		if fr.End, err = offset(over.GetEndOffset()); err != nil {
			return fr, err
		}
		*fr.End = -*fr.End
	case opts&frameEndOffsetFoll != 0:
		if fr.End, err = offset(over.GetEndOffset()); err != nil {
			return fr, err
		}
	default:
		// ROWS n PRECEDING alone ends at the current row.
		zero := int64(0)
		fr.End = &zero
	}
	return fr, nil
}

func hasWin(e expr.Expr) bool {
	found := false
	walkAll(e, func(x expr.Expr) {
		if _, ok := x.(*winCall); ok {
			found = true
		}
	})
	return found
}

// walkAll visits e and everything below it, window calls' own expressions
// included.
func walkAll(e expr.Expr, fn func(expr.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	if w, ok := e.(*winCall); ok {
		for _, x := range winExprs(w) {
			walkAll(x, fn)
		}
		return
	}
	for _, c := range expr.Children(e) {
		walkAll(c, fn)
	}
}

func winExprs(w *winCall) []expr.Expr {
	var out []expr.Expr
	if w.call.Arg != nil {
		out = append(out, w.call.Arg)
	}
	if w.call.Default != nil {
		out = append(out, w.call.Default)
	}
	out = append(out, w.call.PartitionBy...)
	for _, k := range w.call.OrderBy {
		out = append(out, k.Expr)
	}
	return out
}

// mapWin rebuilds a window call with every expression mapped by fn.
func mapWin(w *winCall, fn func(expr.Expr) expr.Expr) *winCall {
	c := w.call
	if c.Arg != nil {
		c.Arg = fn(c.Arg)
	}
	if c.Default != nil {
		c.Default = fn(c.Default)
	}
	c.PartitionBy = make([]expr.Expr, len(w.call.PartitionBy))
	for i, p := range w.call.PartitionBy {
		c.PartitionBy[i] = fn(p)
	}
	c.OrderBy = make([]executor.SortKey, len(w.call.OrderBy))
	for i, k := range w.call.OrderBy {
		k.Expr = fn(k.Expr)
		c.OrderBy[i] = k
	}
	return &winCall{call: c}
}

func winName(i int) string { return fmt.Sprintf("_win%d", i) }

// sortDirection reads the direction and NULL placement of an ORDER BY
// term; NULLs sort last ascending and first descending unless told.
func sortDirection(sb *pg.SortBy) (executor.SortKey, error) {
	if sb.GetSortbyDir() == pg.SortByDir_SORTBY_USING {
		return executor.SortKey{}, unsupported("ORDER BY ... USING")
	}
	k := executor.SortKey{Desc: sb.GetSortbyDir() == pg.SortByDir_SORTBY_DESC}
	k.NullsFirst = k.Desc
	switch sb.GetSortbyNulls() {
	case pg.SortByNulls_SORTBY_NULLS_FIRST:
		k.NullsFirst = true
	case pg.SortByNulls_SORTBY_NULLS_LAST:
		k.NullsFirst = false
	}
	return k, nil
}

// sortKeys binds ORDER BY terms that are plain expressions.
func (b *binder) sortKeys(terms []*pg.Node) ([]executor.SortKey, error) {
	var keys []executor.SortKey
	for _, t := range terms {
		sb := t.GetSortBy()
		k, err := sortDirection(sb)
		if err != nil {
			return nil, err
		}
		if k.Expr, err = b.valueExpr(sb.GetNode()); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}
