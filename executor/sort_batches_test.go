package executor_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/lakeflight/lakeflight/executor"
)

// sortCases are ORDER BY lists over the table. Those ending in id order
// the rows totally; the others leave ties.
var sortCases = []struct {
	name  string
	keys  []okey
	total bool
}{
	{"g asc, s desc, id", []okey{{col: cG}, {col: cS, desc: true, nullsFirst: true}, {col: cID}}, true},
	{"s asc nulls first, f desc nulls last, d", []okey{{col: cS, nullsFirst: true}, {col: cF, desc: true}, {col: cD}}, false},
	{"d desc, id desc", []okey{{col: cD, desc: true, nullsFirst: true}, {col: cID, desc: true}}, true},
	{"b desc nulls last, v nulls first", []okey{{col: cB, desc: true}, {col: cV, nullsFirst: true}}, false},
	{"f", []okey{{col: cF}}, false},
}

// refSort orders rows by keys; ties keep their input order.
func refSort(rows []orow, keys []okey) []orow {
	out := append([]orow(nil), rows...)
	sort.SliceStable(out, func(i, j int) bool { return cmpBy(keys, out[i], out[j]) < 0 })
	return out
}

// checkSorted compares a sorted result with the reference order: the sort
// key columns must match position by position, and the rows must be the
// reference's rows (all of them, or a subset for a top-N that cuts
// through ties).
func checkSorted(t *testing.T, got [][]any, want []orow, keys []okey, all []orow, whole bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, r := range want {
		for _, k := range keys {
			if !cellEqual(got[i][k.col], r.cell(k.col)) {
				t.Fatalf("row %d: %s = %v, want %v (row %s)", i, oNames[k.col], got[i][k.col], r.cell(k.col), rowKey(got[i]))
			}
		}
	}
	if whole {
		var wantCells [][]any
		for _, r := range want {
			wantCells = append(wantCells, r.cells(allCols...))
		}
		checkRows(t, got, wantCells, false)
		return
	}
	var allCells [][]any
	for _, r := range all {
		allCells = append(allCells, r.cells(allCols...))
	}
	if d := subMultiset(got, allCells); d != "" {
		t.Errorf("top-N: %s", d)
	}
}

func TestSortBatches(t *testing.T) {
	for di, ds := range oDataSet {
		rows := genORows(300, uint64(31+di), ds.withNulls)
		for _, sc := range sortCases {
			want := refSort(rows, sc.keys)
			for _, size := range batchSizes {
				t.Run(fmt.Sprintf("%s/%s/batch=%d", ds.name, sc.name, size), func(t *testing.T) {
					mem, ctx := opEnv(t)
					src := fullSource(mem, rows, size)
					got, _ := collect(t, ctx, &executor.Sort{Input: src, Keys: sortKeys(sc.keys), Limit: -1})
					checkSorted(t, got, want, sc.keys, rows, true)
				})
			}
		}
	}
	t.Run("empty", func(t *testing.T) {
		mem, ctx := opEnv(t)
		got, _ := collect(t, ctx, &executor.Sort{Input: fullSource(mem, nil, 3), Keys: sortKeys(sortCases[0].keys), Limit: -1})
		if len(got) != 0 {
			t.Errorf("%d rows from no rows", len(got))
		}
	})
}

func TestTopNBatches(t *testing.T) {
	limits := []struct{ limit, offset int64 }{{0, 0}, {1, 0}, {7, 5}, {20, 290}, {5, 300}, {1000, 3}}
	for di, ds := range oDataSet {
		rows := genORows(300, uint64(41+di), ds.withNulls)
		for _, sc := range sortCases[:3] { // two total orders and one with ties
			sorted := refSort(rows, sc.keys)
			for _, l := range limits {
				lo := min(int(l.offset), len(sorted))
				want := sorted[lo:min(lo+int(l.limit), len(sorted))]
				for _, size := range batchSizes {
					t.Run(fmt.Sprintf("%s/%s/limit=%d/offset=%d/batch=%d", ds.name, sc.name, l.limit, l.offset, size), func(t *testing.T) {
						mem, ctx := opEnv(t)
						src := fullSource(mem, rows, size)
						s := &executor.Sort{Input: src, Keys: sortKeys(sc.keys), Limit: l.limit, Offset: l.offset}
						got, _ := collect(t, ctx, s)
						checkSorted(t, got, want, sc.keys, rows, sc.total)
					})
				}
			}
		}
	}
}

// TestTopNCompacts feeds a top-N enough rows that it drops all but the best
// rows it has seen while reading, more than once.
func TestTopNCompacts(t *testing.T) {
	keys := []okey{{col: cV, desc: true}, {col: cF, nullsFirst: true}, {col: cID}}
	rows := genORows(140_000, 51, true)
	want := refTopN(rows, keys, 35)[10:]
	mem, ctx := opEnv(t)
	src := fullSource(mem, rows, 1024)
	got, _ := collect(t, ctx, &executor.Sort{Input: src, Keys: sortKeys(keys), Limit: 25, Offset: 10})
	checkSorted(t, got, want, keys, rows, true)
}

// refTopN returns the first n rows in the order of keys, which must order
// the rows totally, by keeping the best n seen so far.
func refTopN(rows []orow, keys []okey, n int) []orow {
	var best []orow
	for _, r := range rows {
		if len(best) == n && cmpBy(keys, r, best[n-1]) >= 0 {
			continue
		}
		i := sort.Search(len(best), func(i int) bool { return cmpBy(keys, r, best[i]) < 0 })
		best = append(best, orow{})
		copy(best[i+1:], best[i:])
		best[i] = r
		if len(best) > n {
			best = best[:n]
		}
	}
	return best
}
