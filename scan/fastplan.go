package scan

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	lru "github.com/hashicorp/golang-lru/v2"
)

// wholePlans keeps the plan of whole snapshots (every live data file with
// its delete files, no filter), by table metadata file and snapshot: a
// snapshot's files never change, so a request with a new filter prunes
// this list instead of reading and decoding every manifest again. A
// snapshot is planned whole once it has been planned with a filter
// before (seen), or when asked for without one.
var (
	wholePlans, _ = lru.New[string, *wholePlan](64)
	seen, _       = lru.New[string, bool](1024)
)

// prunedPlans counts the plans pruned from a whole plan (for tests).
var prunedPlans atomic.Int64

// wholePlan is a snapshot's whole plan and, decoded on first use, the
// bounds of each column over its files.
type wholePlan struct {
	tasks []table.FileScanTask
	mu    sync.Mutex
	cols  map[int]*colBounds
}

// colBounds are one column's bounds and counts, per file (kind 0: no
// bound; -1: no count).
type colBounds struct {
	lo, hi        []ordered
	nulls, values []int64
}

func (w *wholePlan) column(f iceberg.NestedField) *colBounds {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.cols[f.ID]; ok {
		return c
	}
	n := len(w.tasks)
	c := &colBounds{lo: make([]ordered, n), hi: make([]ordered, n), nulls: make([]int64, n), values: make([]int64, n)}
	_, primitive := f.Type.(iceberg.PrimitiveType)
	_, decimal := f.Type.(iceberg.DecimalType)
	for i, t := range w.tasks {
		c.nulls[i], c.values[i] = -1, -1
		if v, ok := t.File.NullValueCounts()[f.ID]; ok {
			c.nulls[i] = v
		}
		if v, ok := t.File.ValueCounts()[f.ID]; ok {
			c.values[i] = v
		}
		if !primitive || decimal {
			continue
		}
		lo, okLo := t.File.LowerBoundValues()[f.ID]
		hi, okHi := t.File.UpperBoundValues()[f.ID]
		if !okLo || !okHi {
			continue
		}
		l, err1 := iceberg.LiteralFromBytes(f.Type, lo)
		h, err2 := iceberg.LiteralFromBytes(f.Type, hi)
		if err1 != nil || err2 != nil {
			continue
		}
		lv, ok1 := orderValue(l)
		hv, ok2 := orderValue(h)
		if ok1 && ok2 && lv.kind == hv.kind {
			c.lo[i], c.hi[i] = lv, hv
		}
	}
	if w.cols == nil {
		w.cols = map[int]*colBounds{}
	}
	w.cols[f.ID] = c
	return c
}

// prunedFromWhole plans req from its snapshot's whole plan, keeping the
// files whose column bounds and null counts may hold a matching row. It
// declines (ok false) where iceberg-go's own planning does better: on the
// first filtered plan of a snapshot (a selective filter prunes whole
// manifests there), for partition transforms other than identity and
// time ones (bucket, truncate), and for files without bounds on a
// filtered column.
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
		if bound != nil {
			if _, again := seen.Get(key); !again {
				seen.Add(key, true)
				return nil, false, nil
			}
		}
		all, err := tbl.Scan(table.WithSnapshotID(snapshotID), table.WithCaseSensitive(true)).PlanFiles(ctx)
		if err != nil {
			return nil, false, err
		}
		whole = &wholePlan{tasks: all}
		wholePlans.Add(key, whole)
	}
	test := func(int) verdict { return rowsMightMatch }
	if bound != nil {
		if test, err = iceberg.VisitExpr(bound, &fileTests{plan: whole}); err != nil {
			return nil, false, nil
		}
	}
	out := make([]table.FileScanTask, 0, len(whole.tasks))
	for i, t := range whole.tasks {
		switch test(i) {
		case boundsMissing:
			return nil, false, nil
		case rowsCannotMatch:
			continue
		}
		// The plan's filter applies to every file (no residual).
		t.Residual = nil
		out = append(out, t)
	}
	prunedPlans.Add(1)
	return out, true, nil
}

// boundsMissing is a file without the bounds a predicate needs: the
// caller plans through iceberg-go, whose partition evaluation may know
// more.
const boundsMissing verdict = -1

// fileTests compiles a bound filter into a test of the files of a whole
// plan (by index) against their column bounds and null counts:
// rowsCannotMatch when no row of the file can satisfy it, rowsMightMatch
// otherwise (it never claims every row matches).
type fileTests struct {
	plan *wholePlan
}

type fileTest = func(i int) verdict

func constFile(v verdict) fileTest { return func(int) verdict { return v } }

func (fileTests) VisitTrue() fileTest        { return constFile(rowsMightMatch) }
func (fileTests) VisitFalse() fileTest       { return constFile(rowsCannotMatch) }
func (fileTests) VisitNot(fileTest) fileTest { return constFile(rowsMightMatch) }
func (fileTests) VisitUnbound(iceberg.UnboundPredicate) fileTest {
	return constFile(rowsMightMatch)
}

func (fileTests) VisitAnd(l, r fileTest) fileTest {
	return func(i int) verdict {
		a, b := l(i), r(i)
		switch {
		case a == boundsMissing || b == boundsMissing:
			return boundsMissing
		case a == rowsCannotMatch || b == rowsCannotMatch:
			return rowsCannotMatch
		}
		return rowsMightMatch
	}
}

func (fileTests) VisitOr(l, r fileTest) fileTest {
	return func(i int) verdict {
		a, b := l(i), r(i)
		switch {
		case a == boundsMissing || b == boundsMissing:
			return boundsMissing
		case a == rowsCannotMatch && b == rowsCannotMatch:
			return rowsCannotMatch
		}
		return rowsMightMatch
	}
}

func (ft *fileTests) VisitBound(p iceberg.BoundPredicate) fileTest {
	field := p.Term().Ref().Field()
	op := p.Op()
	switch op {
	case iceberg.OpIsNull, iceberg.OpNotNull, iceberg.OpEQ, iceberg.OpLT, iceberg.OpLTEQ, iceberg.OpGT, iceberg.OpGTEQ, iceberg.OpIn:
	default:
		return constFile(rowsMightMatch)
	}
	c := ft.plan.column(field)
	switch op {
	case iceberg.OpIsNull:
		return func(i int) verdict {
			if c.nulls[i] == 0 {
				return rowsCannotMatch
			}
			return rowsMightMatch
		}
	case iceberg.OpNotNull:
		return func(i int) verdict {
			if c.nulls[i] >= 0 && c.nulls[i] == c.values[i] {
				return rowsCannotMatch
			}
			return rowsMightMatch
		}
	}
	if _, primitive := field.Type.(iceberg.PrimitiveType); !primitive {
		return constFile(rowsMightMatch)
	}
	if _, decimal := field.Type.(iceberg.DecimalType); decimal {
		return constFile(rowsMightMatch)
	}
	var lits []iceberg.Literal
	switch x := p.(type) {
	case iceberg.BoundLiteralPredicate:
		lits = []iceberg.Literal{x.Literal()}
	case iceberg.BoundSetPredicate:
		lits = x.Literals().Members()
	default:
		return constFile(rowsMightMatch)
	}
	vals := make([]ordered, 0, len(lits))
	for _, l := range lits {
		v, ok := orderValue(l)
		if !ok || (v.kind == ordFloat && v.f != v.f) {
			return constFile(rowsMightMatch)
		}
		vals = append(vals, v)
	}
	return func(i int) verdict {
		lo, hi := c.lo[i], c.hi[i]
		if lo.kind == 0 {
			if c.nulls[i] >= 0 && c.nulls[i] == c.values[i] {
				return rowsCannotMatch // only NULLs: no comparison holds
			}
			return boundsMissing
		}
		for _, v := range vals {
			if v.kind != lo.kind {
				return rowsMightMatch
			}
			cl, ch := compareOrdered(v, lo), compareOrdered(v, hi)
			var outside bool
			switch op {
			case iceberg.OpEQ, iceberg.OpIn:
				outside = cl < 0 || ch > 0
			case iceberg.OpLT: // x < v: no x when lower >= v
				outside = cl <= 0
			case iceberg.OpLTEQ:
				outside = cl < 0
			case iceberg.OpGT: // x > v: no x when upper <= v
				outside = ch >= 0
			case iceberg.OpGTEQ:
				outside = ch > 0
			}
			if !outside {
				return rowsMightMatch
			}
		}
		return rowsCannotMatch
	}
}

// compareOrdered orders two values of one kind.
func compareOrdered(a, b ordered) int {
	switch a.kind {
	case ordInt:
		return cmpOrdered(a.i, b.i)
	case ordFloat:
		return cmpOrdered(a.f, b.f)
	}
	return cmpOrdered(a.s, b.s)
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
