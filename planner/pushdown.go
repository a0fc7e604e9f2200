package planner

import (
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// ---- push_filters ----

// pushFilters moves every filter conjunct as close to the data as it can
// go without changing the result: through projections (substituting the
// projected expressions), DISTINCT, sorts without a limit and the group
// columns of an aggregation; into either side of inner joins and the
// padded side's ON conditions of outer joins; into scans, where it prunes
// files and row groups. Conditions over both sides of an inner join
// become its join conditions. Semi and anti joins on one table's columns
// and a correlated subquery's key filter sink through inner joins to that
// table. Filters stop at windows, limits and relations planned apart.
func pushFilters(st *stmt, n lnode) (lnode, error) {
	return push(n, nil), nil
}

// push returns n with conds (over n's output columns) applied, placed as
// low as they can go.
func push(n lnode, conds []expr.Expr) lnode {
	switch x := n.(type) {
	case *lFilter:
		return push(x.in, append(append([]expr.Expr{}, x.conds...), conds...))
	case *lScan:
		if len(conds) == 0 {
			return x
		}
		c := *x
		c.filters = append(append([]expr.Expr{}, x.filters...), conds...)
		return &c
	case *lKeyFilter:
		return placeKeys(push(x.in, conds), x.keys, x.slot)
	case *lChanges:
		c, rest := x.push(conds)
		return filterOver(c, rest)
	case *lJoin:
		return pushJoin(x, conds)
	case *lProject:
		var down, stay []expr.Expr
		for _, c := range conds {
			if s, ok := substitute(c, x.exprs); ok {
				down = append(down, s)
			} else {
				stay = append(stay, c)
			}
		}
		return filterOver(&lProject{in: push(x.in, down), exprs: x.exprs, out: x.out}, stay)
	case *lDistinct:
		return &lDistinct{in: push(x.in, conds)}
	case *lSort:
		if x.limit < 0 && x.offset <= 0 {
			c := *x
			c.in = push(x.in, conds)
			return &c
		}
		c := *x
		c.in = push(x.in, nil)
		return filterOver(&c, conds)
	case *lAggregate:
		var down, stay []expr.Expr
		for _, c := range conds {
			if within(c, 0, len(x.groups)) && len(x.groups) > 0 {
				if s, ok := substitute(c, x.groups); ok {
					down = append(down, s)
					continue
				}
			}
			stay = append(stay, c)
		}
		c := *x
		c.in = push(x.in, down)
		return filterOver(&c, stay)
	case *lWindow:
		c := *x
		c.in = push(x.in, nil)
		return filterOver(&c, conds)
	case *lLimit:
		c := *x
		c.in = push(x.in, nil)
		return filterOver(&c, conds)
	}
	return filterOver(n, conds)
}

func filterOver(n lnode, conds []expr.Expr) lnode {
	if len(conds) == 0 {
		return n
	}
	return &lFilter{in: n, conds: conds}
}

// substitute rewrites c, over the outputs of a projection, into a
// condition over its input. It fails when c reaches into a projected
// expression that is not a column.
func substitute(c expr.Expr, exprs []expr.Expr) (expr.Expr, bool) {
	ok := true
	out := expr.Rewrite(c, func(x expr.Expr) expr.Expr {
		col, isCol := x.(*expr.Column)
		if !isCol {
			return x
		}
		e := exprs[col.Index]
		if len(col.Path) == 0 {
			return e
		}
		inner, isCol := e.(*expr.Column)
		if !isCol {
			ok = false
			return x
		}
		n := *inner
		n.Path = append(append([]int{}, inner.Path...), col.Path...)
		n.Name, n.Type = col.Name, col.Type
		return &n
	})
	return out, ok && !hasSub(out)
}

// pushJoin places conds (over the join's output) and the join's own
// conditions.
func pushJoin(j *lJoin, conds []expr.Expr) lnode {
	lw := j.left.schema().NumFields()
	rw := j.right.schema().NumFields()
	var left, right, own, stay []expr.Expr
	toRight := func(c expr.Expr) { right = append(right, expr.Shift(c, -lw)) }
	for _, c := range conds {
		inL, inR := within(c, 0, lw), within(c, lw, lw+rw) && len(expr.Columns(c)) > 0
		switch j.jt {
		case executor.InnerJoin:
			switch {
			case inL:
				left = append(left, c)
			case inR:
				toRight(c)
			default:
				own = append(own, c)
			}
		case executor.LeftJoin, executor.SemiJoin, executor.AntiJoin:
			if inL {
				left = append(left, c)
			} else {
				stay = append(stay, c)
			}
		case executor.RightJoin:
			if inR {
				toRight(c)
			} else {
				stay = append(stay, c)
			}
		default:
			stay = append(stay, c)
		}
	}
	for _, c := range j.conds {
		inL, inR := within(c, 0, lw) && len(expr.Columns(c)) > 0, within(c, lw, lw+rw) && len(expr.Columns(c)) > 0
		switch {
		case j.jt == executor.InnerJoin && inL, j.jt == executor.RightJoin && inL, j.jt == executor.SemiJoin && inL:
			left = append(left, c)
		case j.jt == executor.InnerJoin && inR, j.jt == executor.LeftJoin && inR, j.jt == executor.SemiJoin && inR:
			toRight(c)
		default:
			own = append(own, c)
		}
	}
	out := *j
	out.left, out.right, out.conds = push(j.left, left), push(j.right, right), own
	var res lnode = &out
	if (out.jt == executor.SemiJoin || out.jt == executor.AntiJoin) && len(out.conds) == 0 && len(out.lkeys) > 0 {
		res = sinkSemi(&out)
	}
	return filterOver(res, stay)
}

// sinkSemi moves a semi or anti join whose keys read one side of the inner
// join below it onto that side, so that it filters the table before the
// join does.
func sinkSemi(j *lJoin) lnode {
	in, ok := j.left.(*lJoin)
	if !ok || in.jt != executor.InnerJoin || in.publish != nil {
		return j
	}
	llw := in.left.schema().NumFields()
	lw := in.schema().NumFields()
	var keysIn func(lo, hi int) bool = func(lo, hi int) bool {
		for _, k := range j.lkeys {
			if len(expr.Columns(k)) == 0 || !within(k, lo, hi) {
				return false
			}
		}
		return true
	}
	switch {
	case keysIn(0, llw):
		s := *j
		s.left, s.out = in.left, in.left.schema()
		c := *in
		c.left = sinkSemi(&s)
		return &c
	case keysIn(llw, lw):
		s := *j
		s.left, s.out = in.right, in.right.schema()
		s.lkeys = shiftAll(j.lkeys, -llw)
		c := *in
		c.right = sinkSemi(&s)
		return &c
	}
	return j
}

func shiftAll(es []expr.Expr, delta int) []expr.Expr {
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		out[i] = expr.Shift(e, delta)
	}
	return out
}

// placeKeys puts a key filter at the scan of the table its keys read,
// through inner joins, filters and semi joins; else over n.
func placeKeys(n lnode, keys []expr.Expr, slot *keySlot) lnode {
	switch x := n.(type) {
	case *lScan:
		if x.keySlot == nil {
			c := *x
			c.keys, c.keySlot = keys, slot
			return &c
		}
	case *lFilter:
		return &lFilter{in: placeKeys(x.in, keys, slot), conds: x.conds}
	case *lJoin:
		lw := x.left.schema().NumFields()
		switch {
		case (x.jt == executor.InnerJoin || x.jt == executor.SemiJoin || x.jt == executor.AntiJoin) && x.publish == nil && allWithin(keys, 0, lw):
			c := *x
			c.left = placeKeys(x.left, keys, slot)
			return &c
		case x.jt == executor.InnerJoin && x.publish == nil && allWithin(keys, lw, x.schema().NumFields()):
			c := *x
			c.right = placeKeys(x.right, shiftAll(keys, -lw), slot)
			return &c
		}
	}
	return &lKeyFilter{in: n, keys: keys, slot: slot}
}

func allWithin(es []expr.Expr, lo, hi int) bool {
	for _, e := range es {
		if len(expr.Columns(e)) == 0 || !within(e, lo, hi) {
			return false
		}
	}
	return true
}
