package planner

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/scan"
)

// Row estimates for ordering joins. They come from what planning already
// knows: the record counts of the planned files and the value bounds the
// manifests keep for each column. Without column histograms the guesses are
// rough; they only have to rank join orders, not predict row counts.

// Default selectivities where statistics say nothing.
const (
	selEqual   = 0.05 // column = value, for a column without bounds
	selRange   = 1.0 / 3
	selLike    = 0.2
	selIsNull  = 0.05
	selOther   = 0.5
	selSemi    = 0.5 // an EXISTS or IN subquery on the table
	minSelRows = 1.0
)

// sourceRows estimates the rows a scan yields after the filters on it.
func sourceRows(plan *scan.Plan, filters []expr.Expr, semis int) float64 {
	base := math.Max(float64(plan.Stats.RecordCount), 1)
	sel := 1.0
	// Ranges on one column intersect: lo <= x AND x < hi keeps the
	// fraction of the bounds between lo and hi, not the product of the
	// fractions above lo and below hi.
	type interval struct{ lo, hi, min, max int64 }
	ranges := map[string]*interval{}
	var order []string
	for _, f := range filters {
		if name, op, v, ok := rangeOf(f); ok {
			if lo, hi, ok := plan.IntRange(name); ok && hi >= lo {
				r := ranges[name]
				if r == nil {
					r = &interval{lo: lo, hi: hi, min: lo, max: hi}
					ranges[name] = r
					order = append(order, name)
				}
				switch op {
				case expr.Lt:
					r.hi = min(r.hi, v-1)
				case expr.LtEq:
					r.hi = min(r.hi, v)
				case expr.Gt:
					r.lo = max(r.lo, v+1)
				case expr.GtEq:
					r.lo = max(r.lo, v)
				}
				continue
			}
		}
		sel *= selectivity(f, plan, base)
	}
	for _, name := range order {
		r := ranges[name]
		width := float64(r.max-r.min) + 1
		sel *= math.Min(math.Max((float64(r.hi-r.lo)+1)/width, 0.001), 1)
	}
	sel *= math.Pow(selSemi, float64(semis))
	return math.Max(base*sel, minSelRows)
}

// columnNDV estimates a column's distinct values from its bounds: an
// integer-like column holds at most hi-lo+1 of them. Other columns are
// taken to be as varied as their rows.
func columnNDV(plan *scan.Plan, name string) float64 {
	base := math.Max(float64(plan.Stats.RecordCount), 1)
	if lo, hi, ok := plan.IntRange(name); ok && hi >= lo {
		return math.Min(base, float64(hi-lo)+1)
	}
	return base
}

func clampSel(s float64) float64 { return math.Min(math.Max(s, 1e-6), 1) }

// selectivity estimates the fraction of a table's rows for which e holds.
func selectivity(e expr.Expr, plan *scan.Plan, base float64) float64 {
	switch x := e.(type) {
	case *expr.And:
		s := 1.0
		for _, a := range x.Args {
			s *= selectivity(a, plan, base)
		}
		return s
	case *expr.Or:
		miss := 1.0
		for _, a := range x.Args {
			miss *= 1 - selectivity(a, plan, base)
		}
		return clampSel(1 - miss)
	case *expr.Not:
		return clampSel(1 - selectivity(x.X, plan, base))
	case *expr.IsNull:
		if x.Negate {
			return 1 - selIsNull
		}
		return selIsNull
	case *expr.Like:
		if x.Negate {
			return 1 - selLike
		}
		return selLike
	case *expr.In:
		s := selEqual
		if c, ok := x.X.(*expr.Column); ok {
			s = equalSel(c, plan, base)
		}
		s = clampSel(s * float64(len(x.List)))
		if x.Negate {
			return clampSel(1 - s)
		}
		return s
	case *expr.Compare:
		col, okc := x.L.(*expr.Column)
		lit, okl := x.R.(*expr.Literal)
		op := x.Op
		if !okc || !okl {
			col, okc = x.R.(*expr.Column)
			lit, okl = x.L.(*expr.Literal)
			op = op.Flip()
		}
		if !okc {
			return selOther
		}
		switch op {
		case expr.Eq:
			return equalSel(col, plan, base)
		case expr.NotEq:
			return clampSel(1 - equalSel(col, plan, base))
		}
		if !okl {
			return selRange
		}
		return rangeSel(col, op, lit, plan)
	}
	return selOther
}

func equalSel(c *expr.Column, plan *scan.Plan, base float64) float64 {
	if len(c.Path) == 0 {
		if lo, hi, ok := plan.IntRange(c.Name); ok && hi >= lo {
			return clampSel(1 / math.Min(base, float64(hi-lo)+1))
		}
	}
	return math.Max(selEqual, 1/base)
}

// rangeSel estimates col op v from where v falls between the column's
// bounds, taking values to be spread evenly.
func rangeSel(c *expr.Column, op expr.CmpOp, lit *expr.Literal, plan *scan.Plan) float64 {
	v, ok := icebergInt(lit.Value)
	if !ok || len(c.Path) > 0 {
		return selRange
	}
	lo, hi, ok := plan.IntRange(c.Name)
	if !ok || hi < lo {
		return selRange
	}
	width := float64(hi-lo) + 1
	var s float64
	switch op {
	case expr.Lt, expr.LtEq:
		s = (float64(v-lo) + 1) / width
	default:
		s = (float64(hi-v) + 1) / width
	}
	return math.Min(math.Max(s, 0.001), 1)
}

// icebergInt reads a literal in the units Iceberg bounds use: integers as
// they are, dates in days, timestamps in microseconds.
func icebergInt(s scalar.Scalar) (int64, bool) {
	if !s.IsValid() {
		return 0, false
	}
	switch v := s.(type) {
	case *scalar.Int8:
		return int64(v.Value), true
	case *scalar.Int16:
		return int64(v.Value), true
	case *scalar.Int32:
		return int64(v.Value), true
	case *scalar.Int64:
		return v.Value, true
	case *scalar.Date32:
		return int64(v.Value), true
	case *scalar.Timestamp:
		unit := v.Type.(*arrow.TimestampType).Unit
		switch unit {
		case arrow.Second:
			return int64(v.Value) * 1e6, true
		case arrow.Millisecond:
			return int64(v.Value) * 1e3, true
		case arrow.Microsecond:
			return int64(v.Value), true
		case arrow.Nanosecond:
			return int64(v.Value) / 1e3, true
		}
	}
	return 0, false
}

// rangeOf reads col op literal (either way round) with op one of <, <=,
// >, >= on a top-level integer-like column, the literal in Iceberg's units.
func rangeOf(e expr.Expr) (name string, op expr.CmpOp, v int64, ok bool) {
	cmp, isCmp := e.(*expr.Compare)
	if !isCmp {
		return "", 0, 0, false
	}
	col, okc := cmp.L.(*expr.Column)
	lit, okl := cmp.R.(*expr.Literal)
	op = cmp.Op
	if !okc || !okl {
		col, okc = cmp.R.(*expr.Column)
		lit, okl = cmp.L.(*expr.Literal)
		op = op.Flip()
	}
	if !okc || !okl || len(col.Path) > 0 || (op != expr.Lt && op != expr.LtEq && op != expr.Gt && op != expr.GtEq) {
		return "", 0, 0, false
	}
	v, ok = icebergInt(lit.Value)
	return col.Name, op, v, ok
}
