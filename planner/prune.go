package planner

import (
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/scan"
)

// ---- push_projections ----

// pushProjections narrows every scan to the fields the plan reads, down
// to nested leaves (a query on device.fw.version reads that leaf only),
// and drops the outputs of inner projections (subqueries in FROM) that
// nothing above uses. Every node above is renumbered to the narrower rows.
func pushProjections(st *stmt, n lnode) (lnode, error) {
	need := demand{}
	for i := range n.schema().NumFields() {
		need.whole(i)
	}
	out, _, err := prune(n, need)
	return out, err
}

// demand is what a node's consumers read of its output: per column, the
// struct paths read (an empty path reads the whole column).
type demand map[int][][]int

func (d demand) whole(i int) { d[i] = append(d[i], nil) }

// add records the columns e reads.
func (d demand) add(es ...expr.Expr) {
	for _, e := range es {
		expr.Walk(e, func(x expr.Expr) bool {
			if c, ok := x.(*expr.Column); ok {
				d[c.Index] = append(d[c.Index], c.Path)
			}
			return true
		})
	}
}

// colMap renumbers a column of a node's old output to its new output.
type colMap func(c *expr.Column) *expr.Column

func identityMap(c *expr.Column) *expr.Column { return c }

func remap(e expr.Expr, m colMap) expr.Expr {
	if e == nil {
		return nil
	}
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		if c, ok := x.(*expr.Column); ok {
			return m(c)
		}
		return x
	})
}

func remapAll(es []expr.Expr, m colMap) []expr.Expr {
	if es == nil {
		return nil
	}
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		out[i] = remap(e, m)
	}
	return out
}

// indexMap renumbers top-level columns through pos (old index -> new).
func indexMap(pos map[int]int) colMap {
	return func(c *expr.Column) *expr.Column {
		n := *c
		n.Index = pos[c.Index]
		return &n
	}
}

// prune returns n reading only what need (over its output) and its own
// expressions require, and the renumbering of its output.
func prune(n lnode, need demand) (lnode, colMap, error) {
	switch x := n.(type) {
	case *lScan:
		return pruneScan(x, need)
	case *lFilter:
		need.add(x.conds...)
		in, m, err := prune(x.in, need)
		if err != nil {
			return nil, nil, err
		}
		return &lFilter{in: in, conds: remapAll(x.conds, m)}, m, nil
	case *lKeyFilter:
		need.add(x.keys...)
		in, m, err := prune(x.in, need)
		if err != nil {
			return nil, nil, err
		}
		return &lKeyFilter{in: in, keys: remapAll(x.keys, m), slot: x.slot}, m, nil
	case *lProject:
		var keep []int
		for i := range x.exprs {
			if _, ok := need[i]; ok {
				keep = append(keep, i)
			}
		}
		if len(keep) == 0 && len(x.exprs) > 0 {
			keep = []int{0}
		}
		child := demand{}
		for _, i := range keep {
			child.add(x.exprs[i])
		}
		in, m, err := prune(x.in, child)
		if err != nil {
			return nil, nil, err
		}
		pos := map[int]int{}
		exprs := make([]expr.Expr, len(keep))
		fields := make([]arrow.Field, len(keep))
		for k, i := range keep {
			pos[i] = k
			exprs[k] = remap(x.exprs[i], m)
			fields[k] = x.out.Field(i)
		}
		return &lProject{in: in, exprs: exprs, out: arrow.NewSchema(fields, nil)}, indexMap(pos), nil
	case *lJoin:
		return pruneJoin(x, need)
	case *lAggregate:
		child := demand{}
		child.add(x.groups...)
		for _, a := range x.aggs {
			child.add(a.Arg, a.Filter)
		}
		in, m, err := prune(x.in, child)
		if err != nil {
			return nil, nil, err
		}
		c := *x
		c.in, c.groups = in, remapAll(x.groups, m)
		c.aggs = make([]executor.Agg, len(x.aggs))
		for i, a := range x.aggs {
			a.Arg, a.Filter = remap(a.Arg, m), remap(a.Filter, m)
			c.aggs[i] = a
		}
		return &c, identityMap, nil
	case *lWindow:
		inW := x.in.schema().NumFields()
		child := demand{}
		for i, ps := range need {
			if i < inW {
				child[i] = append(child[i], ps...)
			}
		}
		for _, w := range x.calls {
			child.add(winCallExprs(w)...)
		}
		in, m, err := prune(x.in, child)
		if err != nil {
			return nil, nil, err
		}
		c := *x
		c.in = in
		c.calls = make([]executor.WindowCall, len(x.calls))
		for i, w := range x.calls {
			c.calls[i] = mapWindowCall(w, func(e expr.Expr) expr.Expr { return remap(e, m) })
		}
		newW := in.schema().NumFields()
		c.out = arrow.NewSchema(append(append([]arrow.Field{}, in.schema().Fields()...), x.out.Fields()[inW:]...), nil)
		return &c, func(col *expr.Column) *expr.Column {
			if col.Index < inW {
				return m(col)
			}
			n := *col
			n.Index = newW + col.Index - inW
			return &n
		}, nil
	case *lSort:
		for _, k := range x.keys {
			need.add(k.Expr)
		}
		in, m, err := prune(x.in, need)
		if err != nil {
			return nil, nil, err
		}
		c := *x
		c.in, c.keys = in, mapSortKeys(x.keys, func(e expr.Expr) expr.Expr { return remap(e, m) })
		return &c, m, nil
	case *lLimit:
		in, m, err := prune(x.in, need)
		if err != nil {
			return nil, nil, err
		}
		c := *x
		c.in = in
		return &c, m, nil
	case *lDistinct:
		all := demand{}
		for i := range x.in.schema().NumFields() {
			all.whole(i)
		}
		in, m, err := prune(x.in, all)
		if err != nil {
			return nil, nil, err
		}
		return &lDistinct{in: in}, m, nil
	}
	return n, identityMap, nil
}

func winCallExprs(w executor.WindowCall) []expr.Expr {
	out := []expr.Expr{w.Arg, w.Default}
	out = append(out, w.PartitionBy...)
	for _, k := range w.OrderBy {
		out = append(out, k.Expr)
	}
	return out
}

func pruneJoin(x *lJoin, need demand) (lnode, colMap, error) {
	lw := x.left.schema().NumFields()
	ld, rd := demand{}, demand{}
	for i, ps := range need {
		if i < lw {
			ld[i] = append(ld[i], ps...)
		} else {
			rd[i-lw] = append(rd[i-lw], ps...)
		}
	}
	ld.add(x.lkeys...)
	rd.add(x.rkeys...)
	for _, c := range x.conds {
		expr.Walk(c, func(e expr.Expr) bool {
			if col, ok := e.(*expr.Column); ok {
				if col.Index < lw {
					ld[col.Index] = append(ld[col.Index], col.Path)
				} else {
					rd[col.Index-lw] = append(rd[col.Index-lw], col.Path)
				}
			}
			return true
		})
	}
	left, lm, err := prune(x.left, ld)
	if err != nil {
		return nil, nil, err
	}
	right, rm, err := prune(x.right, rd)
	if err != nil {
		return nil, nil, err
	}
	newLW := left.schema().NumFields()
	both := func(c *expr.Column) *expr.Column {
		if c.Index < lw {
			return lm(c)
		}
		s := *c
		s.Index -= lw
		n := rm(&s)
		out := *n
		out.Index += newLW
		return &out
	}
	c := *x
	c.left, c.right = left, right
	c.lkeys, c.rkeys, c.conds = remapAll(x.lkeys, lm), remapAll(x.rkeys, rm), remapAll(x.conds, both)
	c.out = joinSchema(x.jt, left.schema(), right.schema())
	if x.jt == executor.SemiJoin || x.jt == executor.AntiJoin {
		return &c, lm, nil
	}
	return &c, both, nil
}

// pruneScan chooses the fields a scan reads from what is needed of it and
// what its own filters and keys read.
func pruneScan(x *lScan, need demand) (lnode, colMap, error) {
	need.add(x.filters...)
	need.add(x.keys...)
	old := x.out
	var paths []string
	for i, ps := range need {
		f := old.Field(i)
		for _, p := range ps {
			paths = append(paths, fieldPath(f, p))
		}
	}
	fields := coverPaths(paths)
	if len(fields) == 0 && old.NumFields() > 0 {
		// Nothing referenced (SELECT count(*) FROM t): read the first
		// column to learn row counts.
		fields = []string{old.Field(0).Name}
	}
	s := x.src
	out, err := scan.ProjectedSchema(s.tbl, s.snap, fields)
	if err != nil {
		return nil, nil, err
	}
	s.fields = fields
	m := func(c *expr.Column) *expr.Column {
		f := old.Field(c.Index)
		idx := out.FieldIndices(f.Name)
		if len(idx) == 0 {
			return c
		}
		n := *c
		n.Index = idx[0]
		if len(c.Path) > 0 {
			n.Path = renumberPath(f.Type, out.Field(idx[0]).Type, c.Path)
		}
		return &n
	}
	c := *x
	c.out, c.pruned = out, true
	c.filters, c.keys = remapAll(x.filters, m), remapAll(x.keys, m)
	return &c, m, nil
}

// fieldPath is the dotted name of the struct path p inside field f.
func fieldPath(f arrow.Field, p []int) string {
	name := f.Name
	t := f.Type
	for _, i := range p {
		st, ok := t.(*arrow.StructType)
		if !ok {
			break
		}
		child := st.Field(i)
		name += "." + child.Name
		t = child.Type
	}
	return name
}

// coverPaths drops the paths that another, shorter path already covers.
func coverPaths(paths []string) []string {
	slices.Sort(paths)
	paths = slices.Compact(paths)
	var kept []string
	for _, p := range paths {
		covered := false
		for _, q := range kept {
			if strings.HasPrefix(p, q+".") {
				covered = true
			}
		}
		if !covered {
			kept = append(kept, p)
		}
	}
	return kept
}

// renumberPath maps a struct path through the old type to the same names
// in the narrowed type.
func renumberPath(old, cur arrow.DataType, p []int) []int {
	out := make([]int, 0, len(p))
	for _, i := range p {
		os, ok1 := old.(*arrow.StructType)
		ns, ok2 := cur.(*arrow.StructType)
		if !ok1 || !ok2 {
			return p
		}
		name := os.Field(i).Name
		j, ok := ns.FieldIdx(name)
		if !ok {
			return p
		}
		out = append(out, j)
		old, cur = os.Field(i).Type, ns.Field(j).Type
	}
	return out
}
