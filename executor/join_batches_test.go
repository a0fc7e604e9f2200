package executor_test

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// joinedSchema is the left table's columns, then the right table's.
var joinedSchema = arrow.NewSchema(append(append([]arrow.Field{}, oSchema.Fields()...), rSchema.Fields()...), nil)

// rc references column c of the right table inside the joined row.
func rc(c int) *expr.Column { return ocAt(c, nCols+c, "r_") }

// joinKeySets are the equi-join keys the tests use, the same columns on
// both sides: one integer, string or boolean key, two keys (the hash table
// takes different paths for these), and none, a nested loop. Residuals
// are tried with some of them (a nested loop always has one: a plain cross
// product adds nothing).
var joinKeySets = []struct {
	name       string
	cols       []int
	residual   bool
	noResidual bool
}{
	{"g", []int{cG}, true, true},
	{"s", []int{cS}, false, true},
	{"b", []int{cB}, false, true},
	{"g,s", []int{cG, cS}, true, true},
	{"none", nil, true, false},
}

// joinResiduals are the extra conditions over the joined row.
var joinResiduals = []struct {
	name string
	expr expr.Expr
	ref  func(l, r orow) bool
}{
	{"no residual", nil, func(orow, orow) bool { return true }},
	{"v < r_v", cmpE(oc(cV), expr.Lt, rc(cV)), func(l, r orow) bool {
		return l.v != nil && r.v != nil && *l.v < *r.v
	}},
}

var joinTypes = []struct {
	name      string
	typ       executor.JoinType
	buildLeft bool
}{
	{"inner", executor.InnerJoin, false},
	{"left", executor.LeftJoin, false},
	{"right", executor.RightJoin, false},
	{"full", executor.FullJoin, false},
	{"semi", executor.SemiJoin, false},
	{"anti", executor.AntiJoin, false},
	{"semi build left", executor.SemiJoin, true},
	{"anti build left", executor.AntiJoin, true},
}

// refJoin joins left and right by a nested loop: rows match when every
// key is non-NULL and equal on both sides and cond holds.
func refJoin(left, right []orow, keys []int, cond func(l, r orow) bool, typ executor.JoinType) [][]any {
	nulls := make([]any, nCols)
	var out [][]any
	rightMatched := make([]bool, len(right))
	for _, l := range left {
		matched := false
		for j, r := range right {
			if !keysMatch(keys, l, r) || !cond(l, r) {
				continue
			}
			matched, rightMatched[j] = true, true
			if typ != executor.SemiJoin && typ != executor.AntiJoin {
				out = append(out, append(l.cells(allCols...), r.cells(allCols...)...))
			}
		}
		switch {
		case typ == executor.SemiJoin && matched, typ == executor.AntiJoin && !matched:
			out = append(out, l.cells(allCols...))
		case (typ == executor.LeftJoin || typ == executor.FullJoin) && !matched:
			out = append(out, append(l.cells(allCols...), nulls...))
		}
	}
	if typ == executor.RightJoin || typ == executor.FullJoin {
		for j, r := range right {
			if !rightMatched[j] {
				out = append(out, append(append([]any{}, nulls...), r.cells(allCols...)...))
			}
		}
	}
	return out
}

func keysMatch(keys []int, l, r orow) bool {
	for _, c := range keys {
		x, xok := l.raw(c)
		y, yok := r.raw(c)
		if !xok || !yok || cmpRaw(x, y) != 0 {
			return false
		}
	}
	return true
}

func TestHashJoinBatches(t *testing.T) {
	// One row per batch is the costly case: it runs on fewer rows.
	shapes := []struct {
		name        string
		left, right int
		sizes       []int
	}{
		{"", 45, 30, []int{3, 1024}},
		{"", 16, 12, []int{1}},
		{"empty right/", 12, 0, []int{3}},
		{"empty left/", 0, 12, []int{3}},
	}
	// Several workers probe inner, left, semi and anti joins with keys in
	// parallel, given several batches to share.
	workers := func(size int, typ executor.JoinType, buildLeft bool, keys []int) []int {
		switch {
		case size != 3 || buildLeft || len(keys) == 0:
		case typ == executor.InnerJoin, typ == executor.LeftJoin, typ == executor.SemiJoin, typ == executor.AntiJoin:
			return []int{0, 3}
		}
		return []int{0}
	}
	for di, ds := range oDataSet {
		for _, sh := range shapes {
			left := genORows(sh.left, uint64(61+di), ds.withNulls)
			right := genORows(sh.right, uint64(71+di), ds.withNulls)
			for _, ks := range joinKeySets {
				lk := make([]expr.Expr, len(ks.cols))
				rk := make([]expr.Expr, len(ks.cols))
				for i, c := range ks.cols {
					lk[i], rk[i] = oc(c), ocAt(c, c, "r_")
				}
				for _, res := range joinResiduals {
					if (res.expr != nil && !ks.residual) || (res.expr == nil && !ks.noResidual) {
						continue
					}
					if sh.name != "" && ks.name != "g" && ks.name != "none" {
						continue // an empty side takes the same paths for every key
					}
					for _, jt := range joinTypes {
						want := refJoin(left, right, ks.cols, res.ref, jt.typ)
						out := joinedSchema
						if jt.typ == executor.SemiJoin || jt.typ == executor.AntiJoin {
							out = oSchema
						}
						for _, size := range sh.sizes {
							for _, w := range workers(size, jt.typ, jt.buildLeft, ks.cols) {
								name := fmt.Sprintf("%s/%skeys=%s/%s/%s/batch=%d/workers=%d", ds.name, sh.name, ks.name, res.name, jt.name, size, w)
								t.Run(name, func(t *testing.T) {
									mem, ctx := opEnv(t)
									ls := fullSource(mem, left, size)
									rs := oSource(mem, rSchema, allCols, right, size)
									j := &executor.HashJoin{Left: ls, Right: rs, Type: jt.typ, LeftKeys: lk, RightKeys: rk,
										Residual: res.expr, Output: out, BuildLeft: jt.buildLeft, Workers: w}
									got, _ := collect(t, ctx, j)
									checkRows(t, got, want, false)
									if ls.closes == 0 || rs.closes == 0 {
										t.Errorf("inputs not closed")
									}
								})
							}
						}
					}
				}
			}
		}
	}
}
