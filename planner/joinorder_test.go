package planner

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/scan"
)

// joinProblem is a synthetic inner-join tree for greedyOrder: tables with
// estimated rows and per-column distinct counts, joined left-deep in the
// order given, with every condition on the root join (whose columns start
// at 0, so condition indexes are absolute).
type joinProblem struct {
	names  []string // per source
	leaves []*rel
	rows   []float64
	col    map[string]int     // "table.column" -> scope index
	ndvs   map[int]float64    // scope index -> distinct values from bounds
	root   *rel               // the left-deep join of the tables
	pl     *placer            // pl.joins[root] holds the conditions
	conds  map[expr.Expr]bool // every condition added, for checkOrder
}

// joinTable is a table of a joinProblem. cols are "name" or "name=ndv"
// (ndv in Go float syntax); a column without an ndv has as many distinct
// values as the table has rows.
type joinTable struct {
	name string
	rows float64
	cols string
}

func newJoinProblem(t *testing.T, tables ...joinTable) *joinProblem {
	t.Helper()
	p := &joinProblem{col: map[string]int{}, ndvs: map[int]float64{}, conds: map[expr.Expr]bool{}}
	lo := 0
	for i, tb := range tables {
		for _, c := range strings.Fields(tb.cols) {
			name, ndv, found := strings.Cut(c, "=")
			p.ndvs[lo] = tb.rows
			if found {
				v, err := strconv.ParseFloat(ndv, 64)
				if err != nil {
					t.Fatalf("column %s of %s: %v", c, tb.name, err)
				}
				p.ndvs[lo] = v
			}
			p.col[tb.name+"."+name] = lo
			lo++
		}
		leaf := &rel{src: i, lo: lo - len(strings.Fields(tb.cols)), hi: lo}
		p.names = append(p.names, tb.name)
		p.leaves = append(p.leaves, leaf)
		p.rows = append(p.rows, tb.rows)
		if p.root == nil {
			p.root = leaf
		} else {
			p.root = &rel{src: -1, left: p.root, right: leaf, jt: executor.InnerJoin, lo: 0, hi: lo}
		}
	}
	p.pl = &placer{joins: map[*rel][]expr.Expr{}}
	return p
}

// column returns a column reference by "table.column".
func (p *joinProblem) column(t *testing.T, name string) *expr.Column {
	t.Helper()
	i, ok := p.col[name]
	if !ok {
		t.Fatalf("no column %s", name)
	}
	return &expr.Column{Index: i, Name: name, Type: arrow.PrimitiveTypes.Int64}
}

// on adds a = b to the root's conditions and returns it.
func (p *joinProblem) on(t *testing.T, a, b string) expr.Expr {
	t.Helper()
	return p.onExpr(&expr.Compare{Op: expr.Eq, L: p.column(t, a), R: p.column(t, b)})
}

// onExpr adds any condition to the root's and returns it.
func (p *joinProblem) onExpr(c expr.Expr) expr.Expr {
	p.pl.joins[p.root] = append(p.pl.joins[p.root], c)
	p.conds[c] = true
	return c
}

// ndv is what the planner passes greedyOrder: the column's distinct
// values, capped by its table's estimated rows.
func (p *joinProblem) ndv(i int) float64 {
	for _, l := range p.leaves {
		if i >= l.lo && i < l.hi {
			return math.Min(p.ndvs[i], p.rows[l.src])
		}
	}
	panic(fmt.Sprintf("column %d outside every table", i))
}

func (p *joinProblem) order() []joinStep { return greedyOrder(p.root, p.pl, p.rows, p.ndv) }

// render writes an order as the names of its steps' tables, each
// followed by its satellites in parentheses: "F B(C(D)) E".
func (p *joinProblem) render(steps []joinStep) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, p.renderStep(s))
	}
	return strings.Join(parts, " ")
}

func (p *joinProblem) renderStep(s joinStep) string {
	out := p.names[s.leaf.src]
	if len(s.sats) > 0 {
		var sats []string
		for _, k := range s.sats {
			sats = append(sats, p.renderStep(k))
		}
		out += "(" + strings.Join(sats, ",") + ")"
	}
	return out
}

// linked reports whether an equality of the problem joins a column
// expression of a with one of b.
func (p *joinProblem) linked(a, b *rel) bool {
	for c := range p.conds {
		if slices.Contains(equalities(a, b, []expr.Expr{c}, []bool{false}), c) {
			return true
		}
	}
	return false
}

// checkOrder checks what every order must satisfy:
//   - each table appears once and each condition is applied once;
//   - the streamed table comes alone;
//   - a step's conditions read only tables joined by then (its own, its
//     satellites' and earlier steps') and at least one of the step's own
//     (each is applied as soon as it can be);
//   - a table without an equality to those joined comes only when no
//     remaining table has one (no cross join while a connected table
//     remains);
//   - a satellite's conditions are equalities between it and its parent; a
//     satellite has no equality with a table joined before its step; and
//     the tables of a step are linked by equalities along the satellite
//     tree only (no cycle).
func (p *joinProblem) checkOrder(t *testing.T, steps []joinStep) {
	t.Helper()
	if len(steps) == 0 {
		t.Fatal("no steps")
	}
	if len(steps[0].conds) > 0 || len(steps[0].sats) > 0 {
		t.Errorf("the streamed table %s has conditions %v or satellites", p.names[steps[0].leaf.src], steps[0].conds)
	}
	name := func(r *rel) string { return p.names[r.src] }
	seen := map[*rel]bool{}
	applied := map[expr.Expr]int{}
	// tree lists a step's tables and the (parent, satellite) edges.
	type edge struct{ a, b *rel }
	var tree func(s joinStep, members []*rel, edges []edge) ([]*rel, []edge)
	tree = func(s joinStep, members []*rel, edges []edge) ([]*rel, []edge) {
		members = append(members, s.leaf)
		for _, k := range s.sats {
			edges = append(edges, edge{s.leaf, k.leaf})
			if len(k.conds) == 0 {
				t.Errorf("satellite %s of %s has no condition", name(k.leaf), name(s.leaf))
			}
			for _, c := range k.conds {
				applied[c]++
				if !slices.Contains(equalities(k.leaf, s.leaf, []expr.Expr{c}, []bool{false}), c) {
					t.Errorf("satellite condition %s is not an equality between %s and %s", c, name(k.leaf), name(s.leaf))
				}
			}
			members, edges = tree(k, members, edges)
		}
		return members, edges
	}
	var joined []*rel
	for i, s := range steps {
		members, edges := tree(s, nil, nil)
		if i > 0 && !slices.ContainsFunc(joined, func(j *rel) bool { return p.linked(s.leaf, j) }) {
			for _, l := range p.leaves {
				if !seen[l] && !slices.Contains(members, l) && slices.ContainsFunc(joined, func(j *rel) bool { return p.linked(l, j) }) {
					t.Errorf("%s cross-joined while %s had an equality with the tables joined", name(s.leaf), name(l))
				}
			}
		}
		for mi, m := range members {
			if mi > 0 {
				for _, j := range joined {
					if p.linked(m, j) {
						t.Errorf("satellite %s of %s has an equality with %s, joined before", name(m), name(s.leaf), name(j))
					}
				}
			}
			for _, o := range members[mi+1:] {
				isEdge := slices.Contains(edges, edge{m, o}) || slices.Contains(edges, edge{o, m})
				if p.linked(m, o) && !isEdge {
					t.Errorf("%s and %s, both in the step of %s, have an equality outside the satellite tree", name(m), name(o), name(s.leaf))
				}
			}
		}
		for _, m := range members {
			if seen[m] {
				t.Errorf("table %s appears twice", name(m))
			}
			seen[m] = true
			joined = append(joined, m)
		}
		for _, c := range s.conds {
			applied[c]++
			for _, i := range expr.Columns(c) {
				if !slices.ContainsFunc(joined, func(l *rel) bool { return i >= l.lo && i < l.hi }) {
					t.Errorf("condition %s of step %s reads column %d of a table not joined yet", c, name(s.leaf), i)
				}
			}
			if !slices.ContainsFunc(members, func(m *rel) bool { return anyWithin(c, m.lo, m.hi) }) {
				t.Errorf("condition %s of step %s could have been applied at an earlier step", c, name(s.leaf))
			}
		}
	}
	if len(seen) != len(p.leaves) {
		t.Errorf("%d of %d tables in the order", len(seen), len(p.leaves))
	}
	for c, n := range applied {
		if !p.conds[c] {
			t.Errorf("condition %s applied but never added", c)
		} else if n != 1 {
			t.Errorf("condition %s applied %d times", c, n)
		}
	}
	for c := range p.conds {
		if applied[c] == 0 {
			t.Errorf("condition %s never applied", c)
		}
	}
}

// stepOf returns the step (or satellite, at any depth) of table name.
func (p *joinProblem) stepOf(t *testing.T, steps []joinStep, name string) joinStep {
	t.Helper()
	s, ok := p.findStep(steps, name)
	if !ok {
		t.Fatalf("no step for %s", name)
	}
	return s
}

func (p *joinProblem) findStep(steps []joinStep, name string) (joinStep, bool) {
	for _, s := range steps {
		if p.names[s.leaf.src] == name {
			return s, true
		}
		if k, ok := p.findStep(s.sats, name); ok {
			return k, true
		}
	}
	return joinStep{}, false
}

// TestGreedyOrderStar: the largest table streams, wherever it is written,
// and the dimension that leaves the fewest rows is joined first, before a
// smaller one that keeps every fact row.
func TestGreedyOrderStar(t *testing.T) {
	p := newJoinProblem(t,
		joinTable{"D1", 1000, "id"},
		joinTable{"F", 1e6, "id d1=1000 d2=1e4"},
		// Filtered to 50 of 10,000 keys: a fact row matches 1 time in 200.
		joinTable{"D2", 50, "id=1e4"},
	)
	p.on(t, "F.d1", "D1.id")
	p.on(t, "D2.id", "F.d2")
	steps := p.order()
	p.checkOrder(t, steps)
	if got, want := p.render(steps), "F D2 D1"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

// TestGreedyOrderSatellites: a table that joins only a dimension and
// shrinks it is joined into that dimension before it is hashed, and the
// dimension counts with its satellites when the next join is chosen.
func TestGreedyOrderSatellites(t *testing.T) {
	t.Run("filtered", func(t *testing.T) {
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id b=1e5"},
			joinTable{"B", 1e5, "id y=1000"},
			joinTable{"C", 10, "id=1000"},
		)
		fb := p.on(t, "F.b", "B.id")
		bc := p.on(t, "B.y", "C.id")
		steps := p.order()
		p.checkOrder(t, steps)
		if got, want := p.render(steps), "F B(C)"; got != want {
			t.Fatalf("order %s, want %s", got, want)
		}
		if b := steps[1]; !slices.Equal(b.conds, []expr.Expr{fb}) || !slices.Equal(b.sats[0].conds, []expr.Expr{bc}) {
			t.Errorf("B joins on %v with C on %v, want %v with %v", b.conds, b.sats[0].conds, fb, bc)
		}
		// C keeps 10 of B's 1000 y values.
		if eff := steps[1].sats[0].eff; eff != 10 {
			t.Errorf("C's rows after its satellites %g, want 10", eff)
		}
	})
	t.Run("unfiltered", func(t *testing.T) {
		// C holds every y: joining it first would not shrink B.
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id b=1e5"},
			joinTable{"B", 1e5, "id y=1000"},
			joinTable{"C", 1000, "id"},
		)
		p.on(t, "F.b", "B.id")
		p.on(t, "B.y", "C.id")
		steps := p.order()
		p.checkOrder(t, steps)
		if got, want := p.render(steps), "F B C"; got != want {
			t.Errorf("order %s, want %s", got, want)
		}
	})
	t.Run("tree", func(t *testing.T) {
		// orders - customer - nation - region: C alone keeps all of B, but
		// with D (one of its 25 d values) it keeps 1 in 25.
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id b=1e5"},
			joinTable{"B", 1e5, "id c=1000"},
			joinTable{"C", 1000, "id d=25"},
			joinTable{"D", 1, "id=25"},
		)
		p.on(t, "F.b", "B.id")
		p.on(t, "B.c", "C.id")
		cd := p.on(t, "D.id", "C.d")
		steps := p.order()
		p.checkOrder(t, steps)
		if got, want := p.render(steps), "F B(C(D))"; got != want {
			t.Fatalf("order %s, want %s", got, want)
		}
		c := p.stepOf(t, steps, "C")
		if !slices.Equal(c.sats[0].conds, []expr.Expr{cd}) {
			t.Errorf("D joins C on %v, want %v", c.sats[0].conds, cd)
		}
		if eff := steps[1].sats[0].eff; eff != 40 {
			t.Errorf("C's rows after D %g, want 1000/25 = 40", eff)
		}
	})
	t.Run("counted when choosing", func(t *testing.T) {
		// Alone, E (10,000 rows, keeps every fact row) is cheaper than B
		// (100,000 rows, keeps every fact row); with its satellite C, B
		// keeps 1% of the facts and goes first.
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id b=1e5 e=1e4"},
			joinTable{"E", 1e4, "id"},
			joinTable{"B", 1e5, "id y=1000"},
			joinTable{"C", 10, "id=1000"},
		)
		p.on(t, "F.b", "B.id")
		p.on(t, "F.e", "E.id")
		p.on(t, "B.y", "C.id")
		steps := p.order()
		p.checkOrder(t, steps)
		if got, want := p.render(steps), "F B(C) E"; got != want {
			t.Errorf("order %s, want %s", got, want)
		}
	})
	t.Run("nested join conditions", func(t *testing.T) {
		// F JOIN (B JOIN C ON B.y = C.id) ON F.b = B.id: the inner join's
		// condition is stored relative to its first column.
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id b=1e5"},
			joinTable{"B", 1e5, "id y=1000"},
			joinTable{"C", 10, "id=1000"},
		)
		f, b, c := p.leaves[0], p.leaves[1], p.leaves[2]
		inner := &rel{src: -1, left: b, right: c, jt: executor.InnerJoin, lo: b.lo, hi: c.hi}
		p.root = &rel{src: -1, left: f, right: inner, jt: executor.InnerJoin, lo: 0, hi: c.hi}
		p.pl.joins = map[*rel][]expr.Expr{}
		p.on(t, "F.b", "B.id")
		bc := &expr.Compare{Op: expr.Eq, L: p.column(t, "B.y"), R: p.column(t, "C.id")}
		p.pl.joins[inner] = []expr.Expr{expr.Shift(bc, -inner.lo)}
		steps := p.order()
		if got, want := p.render(steps), "F B(C)"; got != want {
			t.Fatalf("order %s, want %s", got, want)
		}
		if got := steps[1].sats[0].conds; len(got) != 1 || got[0].String() != bc.String() || !reflect.DeepEqual(expr.Columns(got[0]), expr.Columns(bc)) {
			t.Errorf("C joins B on %v (columns %v), want %s (columns %v)", got, expr.Columns(got[0]), bc, expr.Columns(bc))
		}
	})
}

// TestGreedyOrderNoSatellite: a table is not hung off a dimension when it
// also has an equality with a table already joined, or when the tables
// below the dimension form a cycle; such tables are joined as steps of
// their own once a neighbour is in.
func TestGreedyOrderNoSatellite(t *testing.T) {
	t.Run("equality with a joined table", func(t *testing.T) {
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id b=1e6 c=1000"},
			joinTable{"B", 100, "id=1e6 c=1000"},
			joinTable{"C", 10, "id=1000"},
		)
		p.on(t, "F.b", "B.id")
		fc := p.on(t, "F.c", "C.id")
		bc := p.on(t, "B.c", "C.id")
		steps := p.order()
		p.checkOrder(t, steps)
		if got, want := p.render(steps), "F B C"; got != want {
			t.Fatalf("order %s, want %s", got, want)
		}
		if got := steps[2].conds; len(got) != 2 || !slices.Contains(got, fc) || !slices.Contains(got, bc) {
			t.Errorf("C joins on %v, want %s and %s", got, fc, bc)
		}
	})
	t.Run("triangle through the dimension", func(t *testing.T) {
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id b=1e5"},
			joinTable{"B", 1e5, "id c=1000 d=1000"},
			joinTable{"C", 5, "id=1000 d=1000"},
			joinTable{"D", 50, "id=1000"},
		)
		p.on(t, "F.b", "B.id")
		p.on(t, "B.c", "C.id")
		p.on(t, "B.d", "D.id")
		p.on(t, "C.d", "D.id")
		steps := p.order()
		p.checkOrder(t, steps)
		if got, want := p.render(steps), "F B C D"; got != want {
			t.Errorf("order %s, want %s", got, want)
		}
	})
	t.Run("cycle below the dimension", func(t *testing.T) {
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id b=1e5"},
			joinTable{"B", 1e5, "id c=1000"},
			joinTable{"C", 1000, "id d=1000 e=1000"},
			joinTable{"D", 5, "id=1000 e=1000"},
			joinTable{"E", 50, "id=1000"},
		)
		p.on(t, "F.b", "B.id")
		p.on(t, "B.c", "C.id")
		p.on(t, "C.d", "D.id")
		p.on(t, "C.e", "E.id")
		p.on(t, "D.e", "E.id")
		steps := p.order()
		p.checkOrder(t, steps)
		if got, want := p.render(steps), "F B C D E"; got != want {
			t.Errorf("order %s, want %s", got, want)
		}
	})
}

// TestGreedyOrderCompositeKey is TPC-H q09 at scale factor 1 (part
// filtered by LIKE to a fifth): partsupp joins lineitem on (partkey,
// suppkey), estimated together and capped by the rows on each side, so
// partsupp keeps its 800,000 rows; part, keeping a fifth of lineitem's
// rows and hashing 40,000, goes first.
func TestGreedyOrderCompositeKey(t *testing.T) {
	p := newJoinProblem(t,
		joinTable{"part", 4e4, "p_partkey=2e5"},
		joinTable{"supplier", 1e4, "s_suppkey s_nationkey=25"},
		joinTable{"lineitem", 6e6, "l_orderkey=6e6 l_partkey=2e5 l_suppkey=1e4"},
		joinTable{"partsupp", 8e5, "ps_partkey=2e5 ps_suppkey=1e4"},
		joinTable{"orders", 1.5e6, "o_orderkey=6e6"},
		joinTable{"nation", 25, "n_nationkey"},
	)
	p.on(t, "supplier.s_suppkey", "lineitem.l_suppkey")
	p.on(t, "partsupp.ps_suppkey", "lineitem.l_suppkey")
	p.on(t, "partsupp.ps_partkey", "lineitem.l_partkey")
	p.on(t, "part.p_partkey", "lineitem.l_partkey")
	p.on(t, "orders.o_orderkey", "lineitem.l_orderkey")
	p.on(t, "supplier.s_nationkey", "nation.n_nationkey")
	steps := p.order()
	p.checkOrder(t, steps)
	got := p.render(steps)
	if strings.Index(got, "part ") > strings.Index(got, "partsupp") {
		t.Errorf("partsupp before part: %s", got)
	}
	// After lineitem-part (1.2M rows): supplier keeps them (cost 1.21M),
	// then nation (1.2M), partsupp (800K + 800K hashed), orders last.
	if want := "lineitem part supplier nation partsupp orders"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	ps := p.stepOf(t, steps, "partsupp")
	if len(ps.conds) != 2 {
		t.Errorf("partsupp joins on %v, want both keys", ps.conds)
	}
}

// TestGreedyOrderCrossJoins: a table with no condition to those joined
// comes after every connected one, however small, and unconnected tables
// come smallest first.
func TestGreedyOrderCrossJoins(t *testing.T) {
	p := newJoinProblem(t,
		joinTable{"X", 10, "id"},
		joinTable{"F", 1e6, "id b"},
		joinTable{"Y", 1, "id"},
		joinTable{"B", 1e6, "id"},
		joinTable{"Z", 5, "id"},
	)
	p.on(t, "F.b", "B.id")
	steps := p.order()
	p.checkOrder(t, steps)
	if got, want := p.render(steps), "F B Y Z X"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	for _, s := range steps[2:] {
		if len(s.conds) > 0 {
			t.Errorf("cross-joined %s has conditions %v", p.names[s.leaf.src], s.conds)
		}
	}
	t.Run("connected among themselves", func(t *testing.T) {
		// X and Y join each other but not F: the smaller comes first,
		// then the other joins it on its key.
		p := newJoinProblem(t,
			joinTable{"F", 1e6, "id"},
			joinTable{"X", 10, "id"},
			joinTable{"Y", 20, "x"},
		)
		xy := p.on(t, "Y.x", "X.id")
		steps := p.order()
		p.checkOrder(t, steps)
		if got, want := p.render(steps), "F X Y"; got != want {
			t.Errorf("order %s, want %s", got, want)
		}
		if !slices.Equal(steps[2].conds, []expr.Expr{xy}) {
			t.Errorf("Y joins on %v, want %s", steps[2].conds, xy)
		}
	})
}

// TestEqualities lists the unused equalities between two tables, whichever
// side each is written on, and nothing else.
func TestEqualities(t *testing.T) {
	p := newJoinProblem(t,
		joinTable{"A", 10, "x y"},
		joinTable{"B", 10, "x y"},
		joinTable{"C", 10, "x"},
	)
	a, b := p.leaves[0], p.leaves[1]
	ab := &expr.Compare{Op: expr.Eq, L: p.column(t, "A.x"), R: p.column(t, "B.x")}
	ba := &expr.Compare{Op: expr.Eq, L: p.column(t, "B.y"), R: p.column(t, "A.y")}
	used := &expr.Compare{Op: expr.Eq, L: p.column(t, "A.y"), R: p.column(t, "B.x")}
	lt := &expr.Compare{Op: expr.Lt, L: p.column(t, "A.x"), R: p.column(t, "B.y")}
	ac := &expr.Compare{Op: expr.Eq, L: p.column(t, "A.x"), R: p.column(t, "C.x")}
	lit := &expr.Compare{Op: expr.Eq, L: p.column(t, "A.x"), R: &expr.Literal{Value: scalar.NewInt64Scalar(1)}}
	mixed := &expr.Compare{Op: expr.Eq, L: &expr.Arith{Op: "+", L: p.column(t, "A.x"), R: p.column(t, "C.x"), Type: arrow.PrimitiveTypes.Int64}, R: p.column(t, "B.x")}
	conds := []expr.Expr{ab, ba, used, lt, ac, lit, mixed}
	flags := []bool{false, false, true, false, false, false, false}
	if got, want := equalities(a, b, conds, flags), []expr.Expr{ab, ba}; !slices.Equal(got, want) {
		t.Errorf("equalities(A, B) = %v, want %v", got, want)
	}
	if got, want := equalities(b, a, conds, flags), []expr.Expr{ab, ba}; !slices.Equal(got, want) {
		t.Errorf("equalities(B, A) = %v, want %v", got, want)
	}
	if got := equalities(b, p.leaves[2], conds, flags); len(got) != 0 {
		t.Errorf("equalities(B, C) = %v, want none", got)
	}
}

// TestSatShrink: the fraction of a table's rows a satellite keeps is the
// satellite's distinct keys (at most its rows) over the larger key count
// of the two sides, at most 1.
func TestSatShrink(t *testing.T) {
	p := newJoinProblem(t,
		joinTable{"B", 1e5, "id y=1000 z=50"},
		joinTable{"C", 1000, "id w=50"},
	)
	b, c := p.leaves[0], p.leaves[1]
	yc := &expr.Compare{Op: expr.Eq, L: p.column(t, "B.y"), R: p.column(t, "C.id")}
	cy := &expr.Compare{Op: expr.Eq, L: p.column(t, "C.id"), R: p.column(t, "B.y")}
	zw := &expr.Compare{Op: expr.Eq, L: p.column(t, "B.z"), R: p.column(t, "C.w")}
	tests := []struct {
		name  string
		conds []expr.Expr
		eff   float64
		want  float64
	}{
		{"all keys", []expr.Expr{yc}, 1000, 1},
		{"a tenth of the keys", []expr.Expr{yc}, 100, 0.1},
		{"written the other way", []expr.Expr{cy}, 100, 0.1},
		{"more rows than keys", []expr.Expr{zw}, 500, 1},
		{"a fifth of fifty", []expr.Expr{zw}, 10, 0.2},
		// (B has 1000*50 key pairs; C has as many, capped at its 1000 rows.)
		{"composite", []expr.Expr{yc, zw}, 10, 10.0 / 5e4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := satShrink(b, joinStep{leaf: c, conds: tt.conds}, tt.eff, p.rows, p.ndv)
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("satShrink = %g, want %g", got, tt.want)
			}
		})
	}
}

// TestHang builds the tree below a dimension and refuses trees that touch
// a joined table or close a cycle.
func TestHang(t *testing.T) {
	p := newJoinProblem(t,
		joinTable{"F", 1e6, "id c"},
		joinTable{"B", 1e5, "id c=1000"},
		joinTable{"C", 1000, "id d=25 e=10"},
		joinTable{"D", 1, "id=25"},
		joinTable{"E", 10, "id"},
	)
	f, b, c := p.leaves[0], p.leaves[1], p.leaves[2]
	bc := &expr.Compare{Op: expr.Eq, L: p.column(t, "B.c"), R: p.column(t, "C.id")}
	cd := &expr.Compare{Op: expr.Eq, L: p.column(t, "C.d"), R: p.column(t, "D.id")}
	ce := &expr.Compare{Op: expr.Eq, L: p.column(t, "C.e"), R: p.column(t, "E.id")}
	de := &expr.Compare{Op: expr.Eq, L: p.column(t, "D.id"), R: p.column(t, "E.id")}
	fc := &expr.Compare{Op: expr.Eq, L: p.column(t, "F.c"), R: p.column(t, "C.id")}
	joined := map[*rel]bool{f: true}
	hangC := func(conds ...expr.Expr) (joinStep, float64, bool) {
		return hang(c, b, p.leaves, joined, conds, make([]bool, len(conds)), p.rows, p.ndv, map[*rel]bool{b: true})
	}

	step, eff, ok := hangC(bc, cd, ce)
	if !ok {
		t.Fatal("C with D and E below it refused")
	}
	if got, want := p.renderStep(step), "C(D,E)"; got != want {
		t.Errorf("tree %s, want %s", got, want)
	}
	// D keeps 1 of C's 25 d values, E all 10 of its e values.
	if want := 1000.0 / 25; eff != want {
		t.Errorf("C's rows after its satellites %g, want %g", eff, want)
	}
	if !slices.Equal(step.conds, []expr.Expr{bc}) {
		t.Errorf("C joins B on %v, want %s", step.conds, bc)
	}
	if _, _, ok := hangC(bc, cd, ce, de); ok {
		t.Error("cycle C-D-E accepted")
	}
	if _, _, ok := hangC(bc, cd, fc); ok {
		t.Error("C with an equality to the joined F accepted")
	}
	// D's equality with the joined F is found below C too.
	fd := &expr.Compare{Op: expr.Eq, L: p.column(t, "F.c"), R: p.column(t, "D.id")}
	if _, _, ok := hangC(bc, cd, fd); ok {
		t.Error("D (below C) with an equality to the joined F accepted")
	}
}

// intSource yields its rows as one batch of int64 columns, allocated on
// mem and owned by the caller of Next.
type intSource struct {
	name   string
	schema *arrow.Schema
	rows   [][]int64
	mem    memory.Allocator
	done   bool
}

var _ executor.Operator = (*intSource)(nil)

func (s *intSource) Schema() *arrow.Schema         { return s.schema }
func (s *intSource) Open(context.Context) error    { return nil }
func (s *intSource) Close() error                  { return nil }
func (s *intSource) Children() []executor.Operator { return nil }
func (s *intSource) String() string                { return "Source " + s.name }
func (s *intSource) Next() (arrow.RecordBatch, error) {
	if s.done || len(s.rows) == 0 {
		return nil, io.EOF
	}
	s.done = true
	b := array.NewRecordBuilder(s.mem, s.schema)
	defer b.Release()
	for _, r := range s.rows {
		for c, v := range r {
			b.Field(c).(*array.Int64Builder).Append(v)
		}
	}
	return b.NewRecordBatch(), nil
}

// scope is the FROM scope of the problem: every column, int64, named
// "table.column".
func (p *joinProblem) scope() *scope {
	sc := &scope{}
	for src, l := range p.leaves {
		for i := l.lo; i < l.hi; i++ {
			name := ""
			for n, idx := range p.col {
				if idx == i {
					name = n
				}
			}
			sc.cols = append(sc.cols, scopeCol{src: src, field: arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64}})
		}
	}
	return sc
}

// build builds the joins of steps over data (per source, rows of int64
// values), on mem.
func (p *joinProblem) build(ctx context.Context, mem memory.Allocator, steps []joinStep, data [][][]int64) executor.Operator {
	sc := p.scope()
	leafOp := func(r *rel) executor.Operator {
		fs := make([]arrow.Field, 0, r.hi-r.lo)
		for _, c := range sc.cols[r.lo:r.hi] {
			fs = append(fs, c.field)
		}
		return &intSource{name: p.names[r.src], schema: arrow.NewSchema(fs, nil), rows: data[r.src], mem: mem}
	}
	st := &stmt{p: New(nil, Options{Parallelism: 2}), ctx: ctx}
	return buildGreedy(st, sc, steps, leafOp, nil, nil)
}

// execute drains op and returns its rows, checking their schema is the
// scope's.
func (p *joinProblem) execute(t *testing.T, ctx context.Context, op executor.Operator) []string {
	t.Helper()
	want := p.scope().schema()
	var rows []string
	if err := executor.Drain(ctx, op, func(rec arrow.RecordBatch) error {
		if !rec.Schema().Equal(want) {
			t.Errorf("schema %s, want %s", rec.Schema(), want)
		}
		rows = append(rows, renderRecord(rec)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return rows
}

// reference returns every combination of the tables' rows (in scope
// order) that satisfies all conditions: column = column and column <
// column.
func (p *joinProblem) reference(data [][][]int64) []string {
	var out []string
	row := make([]int64, p.leaves[len(p.leaves)-1].hi)
	var combine func(src int)
	combine = func(src int) {
		if src == len(p.leaves) {
			for c := range p.conds {
				cmp := c.(*expr.Compare)
				l, r := row[cmp.L.(*expr.Column).Index], row[cmp.R.(*expr.Column).Index]
				if (cmp.Op == expr.Eq && l != r) || (cmp.Op == expr.Lt && l >= r) {
					return
				}
			}
			vals := make([]any, len(row))
			for i, v := range row {
				vals[i] = v
			}
			out = append(out, render(vals...))
			return
		}
		l := p.leaves[src]
		for _, r := range data[src] {
			copy(row[l.lo:l.hi], r)
			combine(src + 1)
		}
	}
	combine(0)
	return out
}

// TestBuildGreedy executes the joins buildGreedy and buildSatellites build
// for an order with a satellite tree, a composite key and a condition left
// as a residual, and compares the rows (in the scope's column order) with
// every combination of the tables' rows that satisfies all conditions.
func TestBuildGreedy(t *testing.T) {
	mem, ctx := newAlloc(t)
	p := newJoinProblem(t,
		joinTable{"F", 1e6, "id b=1e5 e1=100 e2=100 x"},
		joinTable{"E", 1e4, "k1=100 k2=100"},
		joinTable{"B", 1e5, "id c=1000"},
		joinTable{"C", 1000, "id d=25 v"},
		joinTable{"D", 1, "id=25"},
	)
	p.on(t, "F.b", "B.id")
	p.on(t, "B.c", "C.id")
	p.on(t, "C.d", "D.id")
	p.on(t, "F.e1", "E.k1")
	p.on(t, "E.k2", "F.e2")
	p.onExpr(&expr.Compare{Op: expr.Lt, L: p.column(t, "F.x"), R: p.column(t, "C.v")})
	steps := p.order()
	p.checkOrder(t, steps)
	if got, want := p.render(steps), "F B(C(D)) E"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}

	data := [][][]int64{
		make([][]int64, 200),                             // F: id, b, e1, e2, x
		{{0, 0}, {0, 1}, {1, 1}, {1, 2}, {2, 0}},         // E: k1, k2
		{{0, 0}, {1, 1}, {2, 2}, {3, 1}, {4, 3}, {5, 0}}, // B: id, c
		{{0, 1, 3}, {1, 2, 1}, {2, 1, 5}, {3, 1, 0}},     // C: id, d, v
		{{1}}, // D: id
	}
	for i := range data[0] {
		data[0][i] = []int64{int64(i), int64(i*7) % 6, int64(i) % 3, int64(i*5) % 4, int64(i) % 5}
	}
	op := p.build(ctx, mem, steps, data)
	wantPlan := `Project F.id, F.b, F.e1, F.e2, F.x, E.k1, E.k2, B.id, B.c, C.id, C.d, C.v, D.id
  HashJoin Inner on F.e1 = E.k1 AND F.e2 = E.k2
    HashJoin Inner on F.b = B.id AND (F.x < C.v)
      Source F
      HashJoin Inner on B.c = C.id
        Source B
        HashJoin Inner on C.d = D.id
          Source C
          Source D
    Source E
`
	if got := executor.Explain(op); got != wantPlan {
		t.Errorf("plan\n%s\nwant\n%s", got, wantPlan)
	}
	got := p.execute(t, ctx, op)
	want := p.reference(data)
	if len(want) < 20 {
		t.Fatalf("the data joins to %d rows: pick other values", len(want))
	}
	if g, w := sorted(got), sorted(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%d rows, want %d", len(g), len(w))
		reportDiff(t, g, w)
	}
}

// TestGreedyOrderRandom orders random join graphs (equalities, composite
// keys, cycles, disconnected tables, a few non-equality conditions, random
// estimates), checks each order against the rules of checkOrder, and
// executes it on random rows against every combination of them.
func TestGreedyOrderRandom(t *testing.T) {
	mem, ctx := newAlloc(t)
	sizes := []float64{1, 5, 50, 1000, 1e5, 1e6}
	r := rand.New(rand.NewPCG(7, 11))
	withSats, crossJoins := 0, 0
	for iter := range 300 {
		n := 2 + r.IntN(5)
		var tables []joinTable
		for i := range n {
			var cols []string
			for c := range 1 + r.IntN(3) {
				cols = append(cols, fmt.Sprintf("c%d=%g", c, sizes[r.IntN(len(sizes))]))
			}
			tables = append(tables, joinTable{fmt.Sprintf("T%d", i), sizes[r.IntN(len(sizes))], strings.Join(cols, " ")})
		}
		p := newJoinProblem(t, tables...)
		randCol := func(i int) string {
			return fmt.Sprintf("T%d.c%d", i, r.IntN(p.leaves[i].hi-p.leaves[i].lo))
		}
		for i := range n {
			for j := i + 1; j < n; j++ {
				if r.Float64() < 0.4 {
					p.on(t, randCol(i), randCol(j))
					if r.Float64() < 0.2 {
						p.on(t, randCol(j), randCol(i))
					}
				}
				if r.Float64() < 0.05 {
					p.onExpr(&expr.Compare{Op: expr.Lt, L: p.column(t, randCol(i)), R: p.column(t, randCol(j))})
				}
			}
		}
		data := make([][][]int64, n)
		for i, l := range p.leaves {
			data[i] = make([][]int64, 1+r.IntN(4))
			for k := range data[i] {
				data[i][k] = make([]int64, l.hi-l.lo)
				for c := range data[i][k] {
					data[i][k][c] = int64(r.IntN(3))
				}
			}
		}
		var conds []string
		for c := range p.conds {
			conds = append(conds, c.String())
		}
		slices.Sort(conds)
		steps := p.order()
		ok := t.Run(fmt.Sprint(iter), func(t *testing.T) {
			p.checkOrder(t, steps)
			got := p.execute(t, ctx, p.build(ctx, mem, steps, data))
			if g, w := sorted(got), sorted(p.reference(data)); !reflect.DeepEqual(g, w) {
				t.Errorf("%d rows, want %d", len(g), len(w))
				reportDiff(t, g, w)
			}
		})
		if !ok {
			t.Fatalf("tables %v, conditions %v: order %s", tables, conds, p.render(steps))
		}
		for _, s := range steps[1:] {
			if len(s.sats) > 0 {
				withSats++
			}
			if len(s.conds) == 0 {
				crossJoins++
			}
		}
	}
	// The graphs must exercise both.
	if withSats < 20 || crossJoins < 20 {
		t.Errorf("%d steps with satellites and %d cross joins in all", withSats, crossJoins)
	}
}

// demoPlan plans a whole demo table, or the files a filter keeps.
func demoPlan(t *testing.T, name string, filter iceberg.BooleanExpression) *scan.Plan {
	t.Helper()
	tbl, err := demo.catalog(t).LoadTable(t.Context(), table.Identifier{datagen.Namespace, name})
	if err != nil {
		t.Fatal(err)
	}
	p, err := scan.NewPlan(t.Context(), scan.Request{Table: tbl, Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// eventRanges are the least and greatest values of probe_events' integer
// columns, from the reference rows (dates in days, timestamps in
// microseconds).
type eventRanges struct{ idLo, idHi, rssiLo, rssiHi, occurLo, occurHi, ptLo, ptHi int64 }

func demoEventRanges(t *testing.T) eventRanges {
	t.Helper()
	var r eventRanges
	first, firstRSSI := true, true
	for _, e := range demoReference(t).events {
		pt := int64(arrow.Date32FromTime(e.pt))
		occur := e.occur.UnixMicro()
		if first {
			r = eventRanges{idLo: e.id, idHi: e.id, occurLo: occur, occurHi: occur, ptLo: pt, ptHi: pt}
			first = false
		}
		r.idLo, r.idHi = min(r.idLo, e.id), max(r.idHi, e.id)
		r.occurLo, r.occurHi = min(r.occurLo, occur), max(r.occurHi, occur)
		r.ptLo, r.ptHi = min(r.ptLo, pt), max(r.ptHi, pt)
		if e.rssi != nil {
			v := int64(*e.rssi)
			if firstRSSI {
				r.rssiLo, r.rssiHi, firstRSSI = v, v, false
			}
			r.rssiLo, r.rssiHi = min(r.rssiLo, v), max(r.rssiHi, v)
		}
	}
	if first || firstRSSI {
		t.Fatal("no events with an rssi")
	}
	return r
}

// TestSelectivity estimates predicates on probe_events, whose integer
// columns have bounds (rssi, id, pt, occur_time) and whose strings have
// none.
func TestSelectivity(t *testing.T) {
	plan := demoPlan(t, datagen.ProbeEventsTable, nil)
	rg := demoEventRanges(t)
	base := float64(plan.Stats.RecordCount)
	if base != demoEvents {
		t.Fatalf("%g records planned, want %d", base, demoEvents)
	}
	col := func(name string, typ arrow.DataType) *expr.Column { return &expr.Column{Name: name, Type: typ} }
	rssi, id := col("rssi", arrow.PrimitiveTypes.Int32), col("id", arrow.PrimitiveTypes.Int64)
	pt, occur := col("pt", arrow.FixedWidthTypes.Date32), col("occur_time", &arrow.TimestampType{Unit: arrow.Microsecond})
	shop := col("shop_code", arrow.BinaryTypes.String)
	// A field inside a column named like a bounded one: the column's
	// bounds are not the field's.
	nested := &expr.Column{Name: "rssi", Path: []int{0}, Type: arrow.PrimitiveTypes.Int32}
	i32 := func(v int32) expr.Expr { return &expr.Literal{Value: scalar.NewInt32Scalar(v)} }
	str := func(s string) expr.Expr { return &expr.Literal{Value: scalar.NewStringScalar(s)} }
	date := func(d int) expr.Expr {
		return &expr.Literal{Value: scalar.NewDate32Scalar(arrow.Date32FromTime(day(d)))}
	}
	cmp := func(op expr.CmpOp, l, r expr.Expr) expr.Expr { return &expr.Compare{Op: op, L: l, R: r} }
	like := &expr.Like{X: shop, Pattern: str("S00%")}

	rssiWidth := float64(rg.rssiHi-rg.rssiLo) + 1
	if rssiWidth < 10 {
		t.Fatalf("rssi spans only %g values", rssiWidth)
	}
	mid := int32((rg.rssiLo + rg.rssiHi) / 2)
	tsMilli := &arrow.TimestampType{Unit: arrow.Millisecond}
	midOccur := (rg.occurLo + rg.occurHi) / 2
	tests := []struct {
		name string
		e    expr.Expr
		want float64
		tol  float64 // 0 for exact
	}{
		{"= on a bounded column", cmp(expr.Eq, rssi, i32(-60)), 1 / rssiWidth, 0},
		{"= written the other way", cmp(expr.Eq, i32(-60), rssi), 1 / rssiWidth, 0},
		{"= on a key", cmp(expr.Eq, id, &expr.Literal{Value: scalar.NewInt64Scalar(5)}), 1 / base, 0},
		{"= on a string", cmp(expr.Eq, shop, str("S0001")), selEqual, 0},
		{"= on a nested field", cmp(expr.Eq, nested, i32(-60)), selEqual, 0},
		{"range on a nested field", cmp(expr.LtEq, nested, i32(mid)), selRange, 0},
		{"<>", cmp(expr.NotEq, rssi, i32(-60)), 1 - 1/rssiWidth, 0},
		{"<= the middle", cmp(expr.LtEq, rssi, i32(mid)), float64(int64(mid)-rg.rssiLo+1) / rssiWidth, 0},
		{">= the middle", cmp(expr.GtEq, rssi, i32(mid)), float64(rg.rssiHi-int64(mid)+1) / rssiWidth, 0},
		{"< the middle", cmp(expr.Lt, rssi, i32(mid)), float64(int64(mid)-rg.rssiLo) / rssiWidth, 1 / rssiWidth},
		{"the middle <", cmp(expr.Lt, i32(mid), rssi), float64(rg.rssiHi-int64(mid)) / rssiWidth, 1 / rssiWidth},
		{"> the greatest", cmp(expr.Gt, rssi, i32(int32(rg.rssiHi)+10)), 0.001, 0},
		{"<= beyond the greatest", cmp(expr.LtEq, rssi, i32(int32(rg.rssiHi)+10)), 1, 0},
		{"id <= 1000", cmp(expr.LtEq, id, &expr.Literal{Value: scalar.NewInt64Scalar(rg.idLo + 999)}), 1000 / base, 0},
		{"date >= the second day", cmp(expr.GtEq, pt, date(1)), 2.0 / 3, 0},
		{"date <= the first day", cmp(expr.LtEq, pt, date(0)), 1.0 / 3, 0},
		{"timestamp in ms >= the middle", cmp(expr.GtEq, occur, &expr.Literal{Value: scalar.NewTimestampScalar(arrow.Timestamp(midOccur/1000), tsMilli)}), 0.5, 1e-3},
		{"range on a string", cmp(expr.Lt, shop, str("S0005")), selRange, 0},
		{"range against a float", cmp(expr.Lt, rssi, &expr.Literal{Value: scalar.NewFloat64Scalar(-60.5)}), selRange, 0},
		{"range against NULL", cmp(expr.Lt, rssi, &expr.Literal{Value: scalar.MakeNullScalar(arrow.PrimitiveTypes.Int32)}), selRange, 0},
		{"range between columns", cmp(expr.Lt, rssi, id), selRange, 0},
		{"literals only", cmp(expr.Lt, i32(1), i32(2)), selOther, 0},
		{"IN on a bounded column", &expr.In{X: rssi, List: []expr.Expr{i32(-60), i32(-61), i32(-62)}}, 3 / rssiWidth, 0},
		{"NOT IN", &expr.In{X: rssi, List: []expr.Expr{i32(-60), i32(-61), i32(-62)}, Negate: true}, 1 - 3/rssiWidth, 0},
		{"IN on a string", &expr.In{X: shop, List: []expr.Expr{str("S0001"), str("S0002")}}, 2 * selEqual, 0},
		{"IN of more values than the column holds", &expr.In{X: shop, List: slices.Repeat([]expr.Expr{str("S0001")}, 30)}, 1, 0},
		{"LIKE", like, selLike, 0},
		{"NOT LIKE", &expr.Like{X: shop, Pattern: str("S00%"), Negate: true}, 1 - selLike, 0},
		{"IS NULL", &expr.IsNull{X: rssi}, selIsNull, 0},
		{"IS NOT NULL", &expr.IsNull{X: rssi, Negate: true}, 1 - selIsNull, 0},
		{"AND", &expr.And{Args: []expr.Expr{cmp(expr.Eq, rssi, i32(-60)), like}}, selLike / rssiWidth, 1e-15},
		{"OR", &expr.Or{Args: []expr.Expr{like, &expr.IsNull{X: rssi}}}, 1 - (1-selLike)*(1-selIsNull), 1e-15},
		{"NOT", &expr.Not{X: like}, 1 - selLike, 1e-15},
		{"NOT of everything", &expr.Not{X: &expr.IsNull{X: rssi, Negate: true}}, selIsNull, 1e-15},
		{"a boolean column", col("flag", arrow.FixedWidthTypes.Boolean), selOther, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := selectivity(tt.e, plan, base)
			if math.Abs(got-tt.want) > tt.tol {
				t.Errorf("selectivity(%s) = %g, want %g", tt.e, got, tt.want)
			}
		})
	}
}

// TestEqualSelCappedByRows: a column with more possible values than the
// table has rows holds at most one value per row.
func TestEqualSelCappedByRows(t *testing.T) {
	plan := demoPlan(t, datagen.ProbeEventsTable, nil)
	id := &expr.Column{Name: "id", Type: arrow.PrimitiveTypes.Int64}
	if got := equalSel(id, plan, 10); got != 0.1 {
		t.Errorf("equalSel(id) over 10 rows = %g, want 0.1", got)
	}
	shop := &expr.Column{Name: "shop_code", Type: arrow.BinaryTypes.String}
	if got := equalSel(shop, plan, 4); got != 0.25 {
		t.Errorf("equalSel(shop_code) over 4 rows = %g, want 0.25", got)
	}
}

// TestColumnNDVAndSourceRows: distinct values come from the bounds of the
// planned files, capped by their records; row estimates multiply the
// records by the filters' selectivities and halve them per semi-join.
func TestColumnNDVAndSourceRows(t *testing.T) {
	rg := demoEventRanges(t)
	all := demoPlan(t, datagen.ProbeEventsTable, nil)
	secondDay := arrow.Date32FromTime(day(1))
	oneDay := demoPlan(t, datagen.ProbeEventsTable, iceberg.EqualTo(iceberg.Reference("pt"), iceberg.Date(secondDay)))
	none := demoPlan(t, datagen.ProbeEventsTable, iceberg.EqualTo(iceberg.Reference("pt"), iceberg.Date(secondDay+1000)))
	dayRows := float64(oneDay.Stats.RecordCount)
	if dayRows == 0 || dayRows >= demoEvents || none.Stats.RecordCount != 0 {
		t.Fatalf("%g records on the second day, %d on none", dayRows, none.Stats.RecordCount)
	}
	tests := []struct {
		plan *scan.Plan
		col  string
		want float64
	}{
		{all, "id", demoEvents},
		{all, "rssi", float64(rg.rssiHi-rg.rssiLo) + 1},
		{all, "pt", float64(rg.ptHi-rg.ptLo) + 1},
		{all, "occur_time", demoEvents},
		{all, "shop_code", demoEvents},
		{all, "no_such_column", demoEvents},
		{oneDay, "pt", 1},
		{oneDay, "id", dayRows}, // ids are consecutive within a day
		{none, "id", 1},
	}
	for _, tt := range tests {
		if got := columnNDV(tt.plan, tt.col); got != tt.want {
			t.Errorf("columnNDV(%s) over %d records = %g, want %g", tt.col, tt.plan.Stats.RecordCount, got, tt.want)
		}
	}

	rssi := &expr.Column{Name: "rssi", Type: arrow.PrimitiveTypes.Int32}
	eq := &expr.Compare{Op: expr.Eq, L: rssi, R: &expr.Literal{Value: scalar.NewInt32Scalar(-60)}}
	like := &expr.Like{X: &expr.Column{Name: "shop_code", Type: arrow.BinaryTypes.String}, Pattern: &expr.Literal{Value: scalar.NewStringScalar("S1%")}}
	idEq := &expr.Compare{Op: expr.Eq, L: &expr.Column{Name: "id", Type: arrow.PrimitiveTypes.Int64}, R: &expr.Literal{Value: scalar.NewInt64Scalar(7)}}
	rows := []struct {
		name    string
		plan    *scan.Plan
		filters []expr.Expr
		semis   int
		want    float64
	}{
		{"no filter", all, nil, 0, demoEvents},
		{"=", all, []expr.Expr{eq}, 0, demoEvents / (float64(rg.rssiHi-rg.rssiLo) + 1)},
		{"= and LIKE", all, []expr.Expr{eq, like}, 0, demoEvents * selLike / (float64(rg.rssiHi-rg.rssiLo) + 1)},
		{"two semi-joins", all, nil, 2, demoEvents * selSemi * selSemi},
		{"one day", oneDay, []expr.Expr{like}, 0, dayRows * selLike},
		{"at least a row", all, []expr.Expr{idEq, like}, 0, minSelRows},
		{"no files", none, nil, 0, minSelRows},
	}
	for _, tt := range rows {
		if got := sourceRows(tt.plan, tt.filters, tt.semis); math.Abs(got-tt.want) > 1e-9*tt.want {
			t.Errorf("sourceRows(%s) = %g, want %g", tt.name, got, tt.want)
		}
	}
}

// TestIcebergInt reads literals in the units of Iceberg bounds.
func TestIcebergInt(t *testing.T) {
	ts := func(v int64, unit arrow.TimeUnit) scalar.Scalar {
		return scalar.NewTimestampScalar(arrow.Timestamp(v), &arrow.TimestampType{Unit: unit})
	}
	at := time.Date(2026, 11, 2, 12, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		s    scalar.Scalar
		want int64
		ok   bool
	}{
		{"int8", scalar.NewInt8Scalar(-3), -3, true},
		{"int16", scalar.NewInt16Scalar(-300), -300, true},
		{"int32", scalar.NewInt32Scalar(-70000), -70000, true},
		{"int64", scalar.NewInt64Scalar(1 << 40), 1 << 40, true},
		{"date in days", scalar.NewDate32Scalar(arrow.Date32FromTime(at)), int64(at.Unix() / 86400), true},
		{"date before 1970", scalar.NewDate32Scalar(-1), -1, true},
		{"timestamp in s", ts(at.Unix(), arrow.Second), at.UnixMicro(), true},
		{"timestamp in ms", ts(at.UnixMilli(), arrow.Millisecond), at.UnixMicro(), true},
		{"timestamp in us", ts(at.UnixMicro(), arrow.Microsecond), at.UnixMicro(), true},
		{"timestamp in ns", ts(at.UnixNano()+999, arrow.Nanosecond), at.UnixMicro(), true},
		{"NULL", scalar.MakeNullScalar(arrow.PrimitiveTypes.Int64), 0, false},
		{"string", scalar.NewStringScalar("5"), 0, false},
		{"float", scalar.NewFloat64Scalar(5), 0, false},
	}
	for _, tt := range tests {
		got, ok := icebergInt(tt.s)
		if got != tt.want || ok != tt.ok {
			t.Errorf("icebergInt(%s %s) = %d, %v, want %d, %v", tt.name, tt.s, got, ok, tt.want, tt.ok)
		}
	}
}

// TestJoinOrderExplain plans three-table joins over the demo tables and
// checks the nesting the estimates choose: probe_events (20,000 rows)
// streams; shops (20 rows) is hashed before device_places (300 rows),
// unless a filter, estimated from the bounds of min_rssi, leaves
// device_places fewer rows than shops; and devices,
// filtered to one row and joined only to device_places, is joined into
// device_places before that is hashed. The last query's rows are compared
// with the same join written with a LEFT JOIN, which is planned as
// written.
func TestJoinOrderExplain(t *testing.T) {
	// The device that probed most often.
	ref := demoReference(t)
	probes := map[string]int{}
	for _, e := range ref.events {
		if e.mac != nil {
			probes[*e.mac]++
		}
	}
	dev, most := int64(-1), 0
	for _, d := range ref.devices {
		if d.mac != nil && probes[*d.mac] > most {
			dev, most = d.id, probes[*d.mac]
		}
	}
	if most < 2 {
		t.Fatalf("device %d probed %d times", dev, most)
	}
	satellite := fmt.Sprintf("SELECT e.id, d.min_rssi, v.id FROM devices v JOIN device_places d ON v.mac = d.user_device_mac JOIN probe_events e ON e.user_device_mac = d.user_device_mac WHERE v.id = %d", dev)
	tests := []struct{ sql, want string }{
		{"SELECT count(*) FROM device_places d JOIN probe_events e ON e.user_device_mac = d.user_device_mac JOIN shops s ON s.shop_code = e.shop_code", `
Project count(*) AS count
  HashAggregate groups=[] aggs=[count(*)]
    Project user_device_mac, shop_code, user_device_mac, shop_code
      HashJoin Inner on user_device_mac = user_device_mac
        HashJoin Inner on shop_code = shop_code
          Scan mall.probe_events [snapshot=N files=6 records=20000 filter=AlwaysTrue()] tasks=6
          Scan mall.shops [snapshot=N files=1 records=20 filter=AlwaysTrue()] tasks=1
        Scan mall.device_places [snapshot=N files=1 records=300 filter=AlwaysTrue()] tasks=1`},
		// min_rssi spans -95..-60 in the files' bounds: <= -94 keeps 2 of
		// its 36 values, 17 of 300 rows, fewer than shops' 20 (without
		// the bounds, a third); <= -80 keeps 16 of them, 133 rows.
		{"SELECT count(*) FROM shops s JOIN probe_events e ON e.shop_code = s.shop_code JOIN device_places d ON d.user_device_mac = e.user_device_mac WHERE d.min_rssi <= -94", `
Project count(*) AS count
  HashAggregate groups=[] aggs=[count(*)]
    Project shop_code, shop_code, user_device_mac, user_device_mac, min_rssi
      HashJoin Inner on shop_code = shop_code
        HashJoin Inner on user_device_mac = user_device_mac
          Scan mall.probe_events [snapshot=N files=6 records=20000 filter=AlwaysTrue()] tasks=6
          Filter (min_rssi <= -94)
            Scan mall.device_places [snapshot=N files=1 records=300 filter=LessThanEqual(term=Reference(name='min_rssi'), literal=-94)] tasks=1
        Scan mall.shops [snapshot=N files=1 records=20 filter=AlwaysTrue()] tasks=1`},
		{"SELECT count(*) FROM shops s JOIN probe_events e ON e.shop_code = s.shop_code JOIN device_places d ON d.user_device_mac = e.user_device_mac WHERE d.min_rssi <= -80", `
Project count(*) AS count
  HashAggregate groups=[] aggs=[count(*)]
    Project shop_code, shop_code, user_device_mac, user_device_mac, min_rssi
      HashJoin Inner on user_device_mac = user_device_mac
        HashJoin Inner on shop_code = shop_code
          Scan mall.probe_events [snapshot=N files=6 records=20000 filter=AlwaysTrue()] tasks=6
          Scan mall.shops [snapshot=N files=1 records=20 filter=AlwaysTrue()] tasks=1
        Filter (min_rssi <= -80)
          Scan mall.device_places [snapshot=N files=1 records=300 filter=LessThanEqual(term=Reference(name='min_rssi'), literal=-80)] tasks=1`},
		{satellite, fmt.Sprintf(`
Project id, min_rssi, id
  Project id, mac, user_device_mac, min_rssi, id, user_device_mac
    HashJoin Inner on user_device_mac = user_device_mac
      Scan mall.probe_events [snapshot=N files=6 records=20000 filter=AlwaysTrue()] tasks=6
      HashJoin Inner on user_device_mac = mac
        Scan mall.device_places [snapshot=N files=1 records=300 filter=AlwaysTrue()] tasks=1
        Filter (id = %d)
          Scan mall.devices [snapshot=N files=1 records=300 filter=Equal(term=Reference(name='id'), literal=%d)] tasks=1`, dev, dev)},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, ctx := newAlloc(t)
			q := plan(t, ctx, demoPlanner(t), "EXPLAIN "+tt.sql)
			got := normalizePlan(strings.Join(runPart(t, ctx, q, 0, 1), "\n"))
			if want := strings.TrimPrefix(tt.want, "\n"); got != want {
				t.Errorf("EXPLAIN:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	t.Run("satellite rows", func(t *testing.T) {
		_, ctx := newAlloc(t)
		p := demoPlanner(t)
		got := run(t, ctx, p, satellite)
		asWritten := run(t, ctx, p, fmt.Sprintf("SELECT e.id, d.min_rssi, v.id FROM probe_events e LEFT JOIN device_places d ON e.user_device_mac = d.user_device_mac JOIN devices v ON v.mac = d.user_device_mac WHERE v.id = %d", dev))
		if len(got) != most {
			t.Errorf("device %d joins %d events, want %d", dev, len(got), most)
		}
		if g, w := sorted(got), sorted(asWritten); !reflect.DeepEqual(g, w) {
			t.Errorf("%d rows, %d as written", len(g), len(w))
			reportDiff(t, g, w)
		}
	})
}
