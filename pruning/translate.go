package pruning

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"

	"github.com/lakeflight/lakeflight/expr"
)

// Pushdown is the part of a filter that an Iceberg scan takes over.
type Pushdown struct {
	// Filter is the Iceberg predicate handed to the scan: it prunes
	// partitions, manifests, files and row groups, and the scan applies it to
	// the rows it reads. AlwaysTrue when nothing could be translated.
	Filter iceberg.BooleanExpression
	// Residual is what the executor must still evaluate after the scan: the
	// conjuncts that have no exact Iceberg form. Nil when none remain.
	Residual expr.Expr
	// Handled counts the conjuncts the scan fully applies.
	Handled int
}

// Translate splits filter (an expression over the columns of the scanned
// table, each Column named by its dotted Iceberg field path) into an Iceberg
// predicate for the scan and a residual for the executor. Comparisons of a
// column with a constant, IN lists, IS [NOT] NULL, LIKE 'prefix%' and
// AND/OR/NOT of those are translated; a translated conjunct leaves the
// residual only when it holds no negation (see exact).
func Translate(filter expr.Expr) Pushdown {
	out := Pushdown{Filter: iceberg.AlwaysTrue{}}
	var residual []expr.Expr
	var pushed []iceberg.BooleanExpression
	for _, c := range expr.Conjuncts(filter) {
		p, ok := translate(c, false)
		if ok {
			pushed = append(pushed, p)
		}
		if ok && exact(c) {
			out.Handled++
			continue
		}
		residual = append(residual, c)
	}
	switch len(pushed) {
	case 0:
	case 1:
		out.Filter = pushed[0]
	default:
		out.Filter = iceberg.NewAnd(pushed[0], pushed[1], pushed[2:]...)
	}
	out.Residual = expr.AndOf(residual)
	return out
}

// exact reports whether the Iceberg row filter keeps exactly the rows for
// which e is true. Negated forms are pruned by Iceberg but still evaluated by
// the executor: Iceberg may keep rows whose value is NULL for them.
func exact(e expr.Expr) bool {
	ok := true
	expr.Walk(e, func(x expr.Expr) bool {
		switch y := x.(type) {
		case *expr.Not:
			ok = false
		case *expr.Compare:
			if y.Op == expr.NotEq {
				ok = false
			}
		case *expr.In:
			if y.Negate {
				ok = false
			}
		case *expr.Like:
			if y.Negate {
				ok = false
			}
		}
		return ok
	})
	return ok
}

// translate converts e (negated when neg is set) into an Iceberg predicate
// with the same true-set as the SQL predicate.
func translate(e expr.Expr, neg bool) (iceberg.BooleanExpression, bool) {
	// Predicates on fields nested in structs stay with the executor:
	// iceberg-go's row filter panics on sliced struct children (arrow-go
	// compute), in goroutines no caller can recover.
	nested := false
	expr.Walk(e, func(x expr.Expr) bool {
		if c, ok := x.(*expr.Column); ok && (len(c.Path) > 0 || arrow.IsNested(c.Type.ID())) {
			nested = true
		}
		return !nested
	})
	if nested {
		return nil, false
	}
	switch x := e.(type) {
	case *expr.And, *expr.Or:
		var args []expr.Expr
		isAnd := false
		if a, ok := x.(*expr.And); ok {
			args, isAnd = a.Args, true
		} else {
			args = x.(*expr.Or).Args
		}
		// De Morgan: NOT(a AND b) = NOT a OR NOT b, which keeps the true-set
		// exact under three-valued logic.
		if neg {
			isAnd = !isAnd
		}
		parts := make([]iceberg.BooleanExpression, 0, len(args))
		for _, a := range args {
			p, ok := translate(a, neg)
			if !ok {
				return nil, false
			}
			parts = append(parts, p)
		}
		if len(parts) == 1 {
			return parts[0], true
		}
		if isAnd {
			return iceberg.NewAnd(parts[0], parts[1], parts[2:]...), true
		}
		return iceberg.NewOr(parts[0], parts[1], parts[2:]...), true
	case *expr.Not:
		return translate(x.X, !neg)
	case *expr.IsNull:
		col, ok := x.X.(*expr.Column)
		if !ok || col.Type.ID() == arrow.DECIMAL128 {
			// iceberg-go filters rows with arrow-go's is_null, which panics
			// on decimals (in a reader goroutine: the process dies).
			return nil, false
		}
		if x.Negate != neg {
			return iceberg.NotNull(iceberg.Reference(col.Name)), true
		}
		return iceberg.IsNull(iceberg.Reference(col.Name)), true
	case *expr.Compare:
		op := x.Op
		col, okc := x.L.(*expr.Column)
		lit, okl := x.R.(*expr.Literal)
		if !okc || !okl {
			col, okc = x.R.(*expr.Column)
			lit, okl = x.L.(*expr.Literal)
			op = op.Flip()
		}
		if !okc || !okl || !lit.Value.IsValid() || !sameType(col.Type, lit.Value.DataType()) {
			return nil, false
		}
		if isFloat(col.Type) {
			// NaN orders differently in Iceberg and SQL; leave floats to the executor.
			return nil, false
		}
		l, ok := Literal(lit.Value)
		if !ok {
			return nil, false
		}
		if neg {
			op = negate(op)
		}
		if col.Type.ID() == arrow.BOOL && op != expr.Eq && op != expr.NotEq {
			// iceberg-go cannot order booleans when it filters rows.
			return nil, false
		}
		return iceberg.LiteralPredicate(icebergOp(op), iceberg.Reference(col.Name), l), true
	case *expr.In:
		col, ok := x.X.(*expr.Column)
		if !ok || isFloat(col.Type) || col.Type.ID() == arrow.BOOL {
			// Booleans: iceberg-go filters rows with arrow-go's is_in, which
			// never matches a boolean.
			return nil, false
		}
		lits := make([]iceberg.Literal, 0, len(x.List))
		for _, item := range x.List {
			l, ok := item.(*expr.Literal)
			if !ok || !l.Value.IsValid() || !sameType(col.Type, l.Value.DataType()) {
				// A NULL in the list makes non-matches NULL: not exact.
				return nil, false
			}
			il, ok := Literal(l.Value)
			if !ok {
				return nil, false
			}
			lits = append(lits, il)
		}
		op := iceberg.OpIn
		if x.Negate != neg {
			op = iceberg.OpNotIn
		}
		return iceberg.SetPredicate(op, iceberg.Reference(col.Name), lits), true
	case *expr.Like:
		// iceberg-go cannot apply starts_with to rows, so a prefix pattern
		// becomes the equivalent byte range [prefix, next(prefix)), which
		// prunes files by their bounds and filters rows exactly. NOT LIKE
		// is left to the executor.
		col, ok := x.X.(*expr.Column)
		pat, okp := x.Pattern.(*expr.Literal)
		if !ok || !okp || x.Fold || x.Negate != neg || !pat.Value.IsValid() || col.Type.ID() != arrow.STRING {
			return nil, false
		}
		prefix, ok := LikePrefix(pat.Value.(*scalar.String).String())
		if !ok {
			return nil, false
		}
		ref := iceberg.Reference(col.Name)
		lo := iceberg.GreaterThanEqual(ref, prefix)
		if hi, ok := nextPrefix(prefix); ok {
			return iceberg.NewAnd(lo, iceberg.LessThan(ref, hi)), true
		}
		return lo, true
	}
	return nil, false
}

// nextPrefix returns the smallest string greater than every string that
// starts with p, in byte order; false when there is none (p is all 0xFF).
func nextPrefix(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// LikePrefix reports whether a LIKE pattern is a literal prefix followed by
// a single trailing % (and nothing else), returning the prefix.
func LikePrefix(pattern string) (string, bool) {
	if !strings.HasSuffix(pattern, "%") || strings.HasSuffix(pattern, `\%`) {
		return "", false
	}
	body := pattern[:len(pattern)-1]
	if body == "" || strings.ContainsAny(body, `%_\`) {
		return "", false
	}
	return body, true
}

func negate(op expr.CmpOp) expr.CmpOp {
	switch op {
	case expr.Eq:
		return expr.NotEq
	case expr.NotEq:
		return expr.Eq
	case expr.Lt:
		return expr.GtEq
	case expr.LtEq:
		return expr.Gt
	case expr.Gt:
		return expr.LtEq
	default:
		return expr.Lt
	}
}

func icebergOp(op expr.CmpOp) iceberg.Operation {
	switch op {
	case expr.Eq:
		return iceberg.OpEQ
	case expr.NotEq:
		return iceberg.OpNEQ
	case expr.Lt:
		return iceberg.OpLT
	case expr.LtEq:
		return iceberg.OpLTEQ
	case expr.Gt:
		return iceberg.OpGT
	default:
		return iceberg.OpGTEQ
	}
}

func isFloat(t arrow.DataType) bool {
	return t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64
}

func sameType(a, b arrow.DataType) bool { return arrow.TypeEqual(a, b) }

// Literal converts an Arrow scalar to the Iceberg literal of the matching
// Iceberg type. It reports false for types without an exact counterpart.
func Literal(s scalar.Scalar) (iceberg.Literal, bool) {
	switch v := s.(type) {
	case *scalar.Boolean:
		return iceberg.NewLiteral(v.Value), true
	case *scalar.Int32:
		return iceberg.NewLiteral(v.Value), true
	case *scalar.Int64:
		return iceberg.NewLiteral(v.Value), true
	case *scalar.Float32:
		return iceberg.NewLiteral(v.Value), true
	case *scalar.Float64:
		return iceberg.NewLiteral(v.Value), true
	case *scalar.String:
		return iceberg.NewLiteral(v.String()), true
	case *scalar.Binary:
		return iceberg.NewLiteral(append([]byte(nil), v.Data()...)), true
	case *scalar.Date32:
		return iceberg.NewLiteral(iceberg.Date(v.Value)), true
	case *scalar.Time64:
		if v.Type.(*arrow.Time64Type).Unit != arrow.Microsecond {
			return nil, false
		}
		return iceberg.NewLiteral(iceberg.Time(v.Value)), true
	case *scalar.Timestamp:
		if v.Type.(*arrow.TimestampType).Unit != arrow.Microsecond {
			return nil, false
		}
		return iceberg.NewLiteral(iceberg.Timestamp(v.Value)), true
	case *scalar.Decimal128:
		dt := v.Type.(*arrow.Decimal128Type)
		return iceberg.NewLiteral(iceberg.Decimal{Val: v.Value, Scale: int(dt.Scale)}), true
	}
	return nil, false
}
