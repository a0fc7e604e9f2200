package planner

import (
	"math"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/pruning"
	"github.com/lakeflight/lakeflight/scan"
)

// placer holds the conditions of each join of a FROM tree, over the
// join's own columns, for join ordering.
type placer struct {
	joins map[*rel][]expr.Expr
}

// finish optimizes a planned relation's logical plan and lowers it to
// operators. trace, when set, sees the plan before and after each rule.
func (st *stmt) finish(pl *planned, trace func(string, lnode)) error {
	if pl.build != nil || pl.node == nil {
		return nil
	}
	n, err := st.optimize(pl.node, trace)
	if err != nil {
		return err
	}
	lo, err := st.lower(n)
	if err != nil {
		return err
	}
	pl.node, pl.build, pl.parts = n, lo.build, lo.parts
	return nil
}

// lowered is a logical node made executable: a builder of the operators
// of part of parts (or of all with parts <= 1), and how many parts it can
// run in.
type lowered struct {
	build func(part, parts int) executor.Operator
	parts int
	// scan and semis, for a table read (with its filters and the semi
	// joins that filter it), feed join ordering's estimates.
	scan    *scan.Plan
	filters []expr.Expr
	semis   int
	// rows estimates the rows it yields; 0 when unknown.
	rows float64
}

func (st *stmt) lower(n lnode) (*lowered, error) {
	p := st.p
	switch x := n.(type) {
	case *lScan:
		return st.lowerScan(x)
	case *lLeaf:
		pl := x.pl
		return &lowered{build: func(int, int) executor.Operator { return pl.build(0, 1) }, parts: 1}, nil
	case *lFilter:
		in, err := st.lower(x.in)
		if err != nil {
			return nil, err
		}
		f := expr.AndOf(x.conds)
		return &lowered{parts: in.parts, build: func(part, parts int) executor.Operator {
			return st.m(&executor.Filter{Input: in.build(part, parts), Predicate: f})
		}}, nil
	case *lKeyFilter:
		in, err := st.lower(x.in)
		if err != nil {
			return nil, err
		}
		slot, keys := x.slot, x.keys
		return &lowered{parts: 1, build: func(part, parts int) executor.Operator {
			op := in.build(0, 1)
			if f := slot.filter(op, keys); f != op {
				return st.m(f)
			}
			return op
		}}, nil
	case *lProject:
		in, err := st.lower(x.in)
		if err != nil {
			return nil, err
		}
		if identity(x.exprs, x.in.schema(), x.out) {
			return in, nil
		}
		exprs, out := x.exprs, x.out
		return &lowered{parts: in.parts, build: func(part, parts int) executor.Operator {
			return st.m(&executor.Project{Input: in.build(part, parts), Exprs: exprs, Output: out})
		}}, nil
	case *lJoin:
		if x.jt == executor.InnerJoin && x.publish == nil && len(x.lkeys) == 0 {
			return st.lowerInner(x)
		}
		return st.lowerJoin(x)
	case *lAggregate:
		in, err := st.lower(x.in)
		if err != nil {
			return nil, err
		}
		groups, aggs, out := x.groups, x.aggs, x.out
		return &lowered{parts: 1, build: func(int, int) executor.Operator {
			return st.m(&executor.HashAggregate{Workers: p.opts.Parallelism, Input: in.build(0, 1), Groups: groups, Aggs: aggs, Output: out})
		}}, nil
	case *lWindow:
		in, err := st.lower(x.in)
		if err != nil {
			return nil, err
		}
		calls, out := x.calls, x.out
		return &lowered{parts: 1, build: func(int, int) executor.Operator {
			return st.m(&executor.Window{Input: in.build(0, 1), Calls: calls, Output: out})
		}}, nil
	case *lSort:
		in, err := st.lower(x.in)
		if err != nil {
			return nil, err
		}
		keys, limit, offset := x.keys, x.limit, x.offset
		return &lowered{parts: 1, build: func(int, int) executor.Operator {
			return st.m(&executor.Sort{Input: in.build(0, 1), Keys: keys, Limit: limit, Offset: offset})
		}}, nil
	case *lLimit:
		in, err := st.lower(x.in)
		if err != nil {
			return nil, err
		}
		count, offset := x.n, x.offset
		return &lowered{parts: 1, build: func(int, int) executor.Operator {
			return st.m(&executor.Limit{Input: in.build(0, 1), N: count, Offset: offset})
		}}, nil
	case *lChanges:
		return x.lower(st), nil
	case *lMeta:
		return x.lower(st), nil
	case *lDistinct:
		in, err := st.lower(x.in)
		if err != nil {
			return nil, err
		}
		s := x.schema()
		groups := make([]expr.Expr, s.NumFields())
		for i, f := range s.Fields() {
			groups[i] = &expr.Column{Index: i, Name: f.Name, Type: f.Type}
		}
		return &lowered{parts: 1, build: func(int, int) executor.Operator {
			return st.m(&executor.HashAggregate{Workers: p.opts.Parallelism, Input: in.build(0, 1), Groups: groups, Output: s})
		}}, nil
	}
	return nil, unsupported("plan node %T", n)
}

// lowerScan plans the files of a table read. The Iceberg form of the
// filters prunes files and row groups; the rows read are tested by a
// Filter over every conjunct. Read whole inside one stream, a scan goes
// parallel through an exchange; split into parts, each part is one of
// several streams.
func (st *stmt) lowerScan(x *lScan) (*lowered, error) {
	s := x.src
	p := st.p
	push := pruning.Translate(expr.AndOf(x.filters))
	sreq := scan.Request{Table: s.tbl, SnapshotID: s.snap, Fields: s.fields, Filter: push.Filter,
		PruneOnly: true, BatchSize: p.opts.BatchSize, Concurrency: p.opts.ScanConcurrency}
	if x.limit >= 0 {
		sreq.Limit = x.limit
	}
	pln, err := scan.NewPlan(st.ctx, sreq)
	if err != nil {
		return nil, err
	}
	if !s.asOf {
		st.snapshots[s.key] = pln.SnapshotID()
	}
	residual := expr.AndOf(x.filters)
	keys, slot := x.keys, x.keySlot
	scanPart := func(i, n int) executor.Operator {
		var op executor.Operator = st.m(&executor.Scan{Plan: pln, Tasks: pln.Part(i, n), Label: s.key})
		if residual != nil {
			op = st.m(&executor.Filter{Input: op, Predicate: residual})
		}
		if slot != nil {
			if f := slot.filter(op, keys); f != op {
				op = st.m(f)
			}
		}
		return op
	}
	parts := 1
	if x.limit < 0 && slot == nil {
		parts = max(1, min(p.opts.MaxParts, pln.NumTasks()))
	}
	limited := x.limit >= 0
	return &lowered{scan: pln, filters: x.filters, parts: parts, rows: sourceRows(pln, x.filters, 0), build: func(part, n int) executor.Operator {
		if k := min(p.opts.Parallelism, pln.NumTasks()); n <= 1 && k > 1 && !limited {
			inputs := make([]executor.Operator, k)
			for i := range inputs {
				inputs[i] = scanPart(i, k)
			}
			return st.m(&executor.Exchange{Inputs: inputs, Output: pln.Schema()})
		}
		return scanPart(part, n)
	}}, nil
}

// lowerJoin makes one hash join: equalities between the sides become its
// keys, the rest its residual. The left input streams; a part of a split
// left side is joined on its own.
func (st *stmt) lowerJoin(x *lJoin) (*lowered, error) {
	l, err := st.lower(x.left)
	if err != nil {
		return nil, err
	}
	r, err := st.lower(x.right)
	if err != nil {
		return nil, err
	}
	lw := x.left.schema().NumFields()
	lk, rk, resid := splitJoinKeys(x.conds, lw)
	lk = append(append([]expr.Expr{}, x.lkeys...), lk...)
	rk = append(append([]expr.Expr{}, x.rkeys...), rk...)
	lookupLow, note := st.lookupRight(x, l, r, lk, rk, resid)
	if lookupLow != nil {
		return lookupLow, nil
	}
	p := st.p
	j := *x
	out := &lowered{parts: 1, build: func(part, parts int) executor.Operator {
		left := l.build(part, parts)
		if j.publish != nil {
			right, set := j.publish.buildWith(func() executor.Operator { return r.build(0, 1) })
			return st.m(&executor.HashJoin{Workers: p.opts.Parallelism, Left: left, Right: right, Type: j.jt, LeftKeys: lk, RightKeys: rk,
				Residual: resid, Output: j.out, Publish: set})
		}
		return st.m(&executor.HashJoin{Workers: p.opts.Parallelism, Left: left, Right: r.build(0, 1), Type: j.jt, LeftKeys: lk, RightKeys: rk,
			Residual: resid, Output: j.out, BuildLeft: j.buildLeft, NullAware: j.nullAware, Note: note})
	}}
	if x.jt == executor.SemiJoin || x.jt == executor.AntiJoin {
		// A table filtered by semi joins is still a table read to the
		// join order's estimates.
		out.scan, out.filters, out.semis = l.scan, l.filters, l.semis+1
	}
	return out, nil
}

// lowerInner orders the tables of a tree of inner joins: the largest
// streams through hash joins with the others, smallest and most
// connected first (see greedyOrder).
func (st *stmt) lowerInner(x *lJoin) (*lowered, error) {
	var leaves []lnode
	pl := &placer{joins: map[*rel][]expr.Expr{}}
	sc := &scope{}
	var walk func(n lnode) *rel
	walk = func(n lnode) *rel {
		if j, ok := n.(*lJoin); ok && j.jt == executor.InnerJoin && j.publish == nil && len(j.lkeys) == 0 {
			r := &rel{src: -1, jt: executor.InnerJoin, lo: len(sc.cols)}
			r.left = walk(j.left)
			r.right = walk(j.right)
			r.hi = len(sc.cols)
			pl.joins[r] = j.conds
			return r
		}
		r := &rel{src: len(leaves), lo: len(sc.cols)}
		leaves = append(leaves, n)
		for _, f := range n.schema().Fields() {
			sc.cols = append(sc.cols, scopeCol{src: r.src, field: f})
		}
		r.hi = len(sc.cols)
		return r
	}
	root := walk(x)
	low := make([]*lowered, len(leaves))
	rows := make([]float64, len(leaves))
	for i, n := range leaves {
		var err error
		if low[i], err = st.lower(n); err != nil {
			return nil, err
		}
		rows[i] = 1e5
		if low[i].scan != nil {
			rows[i] = sourceRows(low[i].scan, low[i].filters, low[i].semis)
		}
	}
	ndv := func(col int) float64 {
		src := sc.cols[col].src
		if low[src].scan == nil {
			return 1e5
		}
		return math.Min(columnNDV(low[src].scan, sc.cols[col].field.Name), rows[src])
	}
	rels, conds := joinConds(root, pl)
	var lookups []lookupStep
	var notes map[*rel]string
	if st.p.opts.Lookups != nil {
		lookups, rels, conds, notes = st.planLookups(rels, conds, leaves, low, rows, ndv)
		for _, lk := range lookups {
			st.pinLookup(lk.dim, lk.choice)
		}
	}
	order := orderLeaves(rels, conds, rows, ndv)
	out := &lowered{parts: 1, rows: order[len(order)-1].rows}
	if len(order) == 1 && len(lookups) > 0 {
		// One table looked up into: its parts stay parts.
		out.parts = low[order[0].leaf.src].parts
	}
	out.build = func(part, parts int) executor.Operator {
		leafOp := func(r *rel) executor.Operator {
			if len(order) == 1 {
				return low[r.src].build(part, parts)
			}
			return low[r.src].build(0, 1)
		}
		return buildGreedy(st, sc, order, leafOp, lookups, notes)
	}
	return out, nil
}
