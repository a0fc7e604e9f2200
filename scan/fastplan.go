package scan

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	lru "github.com/hashicorp/golang-lru/v2"
)

// wholePlans keeps the plan of whole snapshots (every live data file with
// its delete files, no filter), by table metadata file and snapshot: a
// snapshot's files never change, so a request with a new filter prunes
// this list instead of reading and decoding every manifest again.
var wholePlans, _ = lru.New[string, []table.FileScanTask](64)

// prunedPlans counts the plans pruned from a whole plan (for tests).
var prunedPlans atomic.Int64

// prunedFromWhole plans req from its snapshot's whole plan, keeping the
// files whose column bounds and null counts may hold a matching row. It
// declines (ok false) where iceberg-go's own planning could prune more:
// partition transforms other than identity and time ones (bucket,
// truncate), and files without bounds on a filtered column.
func prunedFromWhole(ctx context.Context, req Request, snapshotID int64) (tasks []table.FileScanTask, ok bool, err error) {
	tbl := req.Table
	loc := tbl.MetadataLocation()
	if loc == "" || req.Limit > 0 {
		return nil, false, nil
	}
	for _, spec := range tbl.Metadata().PartitionSpecs() {
		for _, f := range spec.Fields() {
			switch f.Transform.(type) {
			case iceberg.IdentityTransform, iceberg.YearTransform, iceberg.MonthTransform, iceberg.DayTransform,
				iceberg.HourTransform, iceberg.VoidTransform:
			default:
				return nil, false, nil
			}
		}
	}
	var bound iceberg.BooleanExpression
	if req.Filter != nil && !req.Filter.Equals(iceberg.AlwaysTrue{}) {
		schema := tbl.Schema()
		if snap := tbl.SnapshotByID(snapshotID); snap != nil && snap.SchemaID != nil {
			if s, found := tbl.Schemas()[*snap.SchemaID]; found {
				schema = s
			}
		}
		if bound, err = iceberg.BindExpr(schema, req.Filter, true); err != nil {
			return nil, false, nil // iceberg-go reports it
		}
	}
	key := fmt.Sprintf("%s\x00%d", loc, snapshotID)
	whole, found := wholePlans.Get(key)
	if !found {
		if whole, err = tbl.Scan(table.WithSnapshotID(snapshotID), table.WithCaseSensitive(true)).PlanFiles(ctx); err != nil {
			return nil, false, err
		}
		wholePlans.Add(key, whole)
	}
	out := make([]table.FileScanTask, 0, len(whole))
	for _, t := range whole {
		keep := true
		if bound != nil {
			v, err := iceberg.VisitExpr(bound, &fileBounds{file: t.File})
			if err != nil {
				return nil, false, nil
			}
			if v == boundsMissing {
				return nil, false, nil
			}
			keep = v != rowsCannotMatch
		}
		if keep {
			// The plan's filter applies to every file (no residual).
			t.Residual = nil
			out = append(out, t)
		}
	}
	prunedPlans.Add(1)
	return out, true, nil
}

// boundsMissing is a file without the bounds a predicate needs: the
// caller plans through iceberg-go, whose partition evaluation may know
// more.
const boundsMissing verdict = -1

// fileBounds evaluates a bound filter against one data file's column
// bounds and null counts: rowsCannotMatch when no row can satisfy it,
// rowsMightMatch otherwise (it never claims every row matches).
type fileBounds struct {
	file iceberg.DataFile
}

func (fileBounds) VisitTrue() verdict  { return rowsMightMatch }
func (fileBounds) VisitFalse() verdict { return rowsCannotMatch }
func (fileBounds) VisitNot(verdict) verdict {
	return rowsMightMatch
}

func (fileBounds) VisitAnd(l, r verdict) verdict {
	switch {
	case l == boundsMissing || r == boundsMissing:
		return boundsMissing
	case l == rowsCannotMatch || r == rowsCannotMatch:
		return rowsCannotMatch
	}
	return rowsMightMatch
}

func (fileBounds) VisitOr(l, r verdict) verdict {
	switch {
	case l == boundsMissing || r == boundsMissing:
		return boundsMissing
	case l == rowsCannotMatch && r == rowsCannotMatch:
		return rowsCannotMatch
	}
	return rowsMightMatch
}

func (fileBounds) VisitUnbound(iceberg.UnboundPredicate) verdict { return rowsMightMatch }

func (b *fileBounds) VisitBound(p iceberg.BoundPredicate) verdict {
	field := p.Term().Ref().Field()
	id := field.ID
	switch p.Op() {
	case iceberg.OpIsNull:
		if n, ok := b.file.NullValueCounts()[id]; ok && n == 0 {
			return rowsCannotMatch
		}
		return rowsMightMatch
	case iceberg.OpNotNull:
		n, okN := b.file.NullValueCounts()[id]
		v, okV := b.file.ValueCounts()[id]
		if okN && okV && n == v {
			return rowsCannotMatch
		}
		return rowsMightMatch
	case iceberg.OpEQ, iceberg.OpLT, iceberg.OpLTEQ, iceberg.OpGT, iceberg.OpGTEQ, iceberg.OpIn:
	default:
		return rowsMightMatch
	}
	if _, primitive := field.Type.(iceberg.PrimitiveType); !primitive {
		return rowsMightMatch
	}
	if _, isDecimal := field.Type.(iceberg.DecimalType); isDecimal {
		return rowsMightMatch
	}
	lo, okLo := b.file.LowerBoundValues()[id]
	hi, okHi := b.file.UpperBoundValues()[id]
	if !okLo || !okHi {
		if v, ok := b.file.ValueCounts()[id]; ok {
			if n, ok := b.file.NullValueCounts()[id]; ok && n == v {
				// Only NULLs: no comparison holds.
				return rowsCannotMatch
			}
		}
		return boundsMissing
	}
	lower, err1 := iceberg.LiteralFromBytes(field.Type, lo)
	upper, err2 := iceberg.LiteralFromBytes(field.Type, hi)
	if err1 != nil || err2 != nil {
		return rowsMightMatch
	}
	var lits []iceberg.Literal
	switch x := p.(type) {
	case iceberg.BoundLiteralPredicate:
		lits = []iceberg.Literal{x.Literal()}
	case iceberg.BoundSetPredicate:
		lits = x.Literals().Members()
	default:
		return rowsMightMatch
	}
	outside := func(v iceberg.Literal) (bool, bool) {
		cl, ok1 := compareLiterals(v, lower)
		ch, ok2 := compareLiterals(v, upper)
		if !ok1 || !ok2 {
			return false, false
		}
		switch p.Op() {
		case iceberg.OpEQ, iceberg.OpIn:
			return cl < 0 || ch > 0, true
		case iceberg.OpLT: // x < v: no x when lower >= v
			return cl <= 0, true
		case iceberg.OpLTEQ:
			return cl < 0, true
		case iceberg.OpGT: // x > v: no x when upper <= v
			return ch >= 0, true
		case iceberg.OpGTEQ:
			return ch > 0, true
		}
		return false, false
	}
	for _, v := range lits {
		out, ok := outside(v)
		if !ok || !out {
			return rowsMightMatch
		}
	}
	return rowsCannotMatch
}

// compareLiterals orders two literals of one primitive type (ok false for
// types it does not order).
func compareLiterals(a, b iceberg.Literal) (int, bool) {
	ai, aok := orderValue(a)
	bi, bok := orderValue(b)
	if !aok || !bok || ai.kind != bi.kind {
		return 0, false
	}
	switch ai.kind {
	case ordInt:
		return cmpOrdered(ai.i, bi.i), true
	case ordFloat:
		if ai.f != ai.f || bi.f != bi.f { // NaN
			return 0, false
		}
		return cmpOrdered(ai.f, bi.f), true
	case ordString:
		return cmpOrdered(ai.s, bi.s), true
	}
	return 0, false
}

func cmpOrdered[T int64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

const (
	ordInt = iota + 1
	ordFloat
	ordString
)

type ordered struct {
	kind int
	i    int64
	f    float64
	s    string
}

func orderValue(l iceberg.Literal) (ordered, bool) {
	switch v := l.Any().(type) {
	case int32:
		return ordered{kind: ordInt, i: int64(v)}, true
	case int64:
		return ordered{kind: ordInt, i: v}, true
	case iceberg.Date:
		return ordered{kind: ordInt, i: int64(v)}, true
	case iceberg.Time:
		return ordered{kind: ordInt, i: int64(v)}, true
	case iceberg.Timestamp:
		return ordered{kind: ordInt, i: int64(v)}, true
	case float32:
		return ordered{kind: ordFloat, f: float64(v)}, true
	case float64:
		return ordered{kind: ordFloat, f: v}, true
	case string:
		return ordered{kind: ordString, s: v}, true
	}
	return ordered{}, false
}
