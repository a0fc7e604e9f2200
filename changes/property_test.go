package changes_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/changes"
)

// TestRandomHistories commits a random history of at least 100 snapshots
// to a keyed table (appends of new keys, copy-on-write deletes and
// updates, merge-on-read deletes, equality deletes followed by re-inserts,
// compactions) and checks, for every consecutive pair and for random pairs
// a < b, that the table at a with the changes of (a, b] applied is the
// table at b, and the same with the net changes.
func TestRandomHistories(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100-snapshot history")
	}
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rctx := compute.WithAllocator(ctx, mem)
	rng := rand.New(rand.NewPCG(7, 11))
	h := newHistory(t)
	live := map[int64]bool{}
	next := int64(1)
	pick := func(n int) []int64 {
		ids := slices.Sorted(maps.Keys(live))
		var out []int64
		for range n {
			i := rng.IntN(len(ids))
			out = append(out, ids[i])
			ids = slices.Delete(ids, i, i+1)
		}
		return out
	}
	mor := false
	logf := func(format string, args ...any) {
		if testing.Verbose() {
			t.Logf(format, args...)
		}
	}
	for step := 0; len(h.load(t).Metadata().Snapshots()) < 100; step++ {
		op := rng.IntN(10)
		if len(live) < 5 {
			op = 0
		}
		switch {
		case op <= 3: // append 1..5 new keys
			var ids []int64
			var vals []string
			for range 1 + rng.IntN(5) {
				ids = append(ids, next)
				vals = append(vals, fmt.Sprintf("v%d.%d", next, step))
				live[next] = true
				next++
			}
			h.commit(t, "append", func(tx *table.Transaction) error {
				return tx.AppendTable(ctx, rowsTable(t, ids, vals), 100, nil)
			})
		case op <= 5: // delete 1..2 keys, by rewriting or by position
			if mor != (op == 5) {
				mor = op == 5
				mode := table.WriteModeCopyOnWrite
				if mor {
					mode = table.WriteModeMergeOnRead
				}
				h.commit(t, "mode", func(tx *table.Transaction) error {
					return tx.SetProperties(iceberg.Properties{table.WriteDeleteModeKey: mode})
				})
			}
			var lits []int64
			for _, id := range pick(1 + rng.IntN(2)) {
				lits = append(lits, id)
				delete(live, id)
			}
			logf("step %d: delete %v (mor=%v)", step, lits, mor)
			h.commit(t, "delete", func(tx *table.Transaction) error {
				return tx.Delete(ctx, iceberg.IsIn(iceberg.Reference("id"), lits...), nil)
			})
		case op == 6: // update one key in place (copy-on-write)
			id := pick(1)[0]
			logf("step %d: update %d", step, id)
			h.commit(t, "update", func(tx *table.Transaction) error {
				return tx.OverwriteTable(ctx, rowsTable(t, []int64{id}, []string{fmt.Sprintf("u%d.%d", id, step)}), 100, nil,
					table.WithOverwriteFilter(iceberg.EqualTo(iceberg.Reference("id"), id)))
			})
		case op <= 8: // upsert the Flink way: equality delete, then the new row
			id := pick(1)[0]
			logf("step %d: upsert %d", step, id)
			h.commit(t, "equality delete", func(tx *table.Transaction) error {
				return tx.CommitEqualityDeletes(ctx, []int{1}, recordsOf(t, []int64{id}, []string{"<null>"}), nil)
			})
			h.commit(t, "reinsert", func(tx *table.Transaction) error {
				return tx.AppendTable(ctx, rowsTable(t, []int64{id}, []string{fmt.Sprintf("e%d.%d", id, step)}), 100, nil)
			})
		default: // compaction of every live row into one file
			logf("step %d: compact", step)
			h.compact(t, fmt.Sprintf("compact-%d.parquet", step))
		}
	}
	tbl := h.load(t)
	var snaps []int64
	for _, s := range tbl.Metadata().Snapshots() {
		snaps = append(snaps, s.SnapshotID)
	}
	// States as multisets of rows: a copy-on-write rewrite of a file that
	// has equality deletes may carry a deleted row over (the writer does not
	// apply them), so a key can be live twice; the changes must say so too.
	states := map[int64]map[string]int{0: {}}
	for _, s := range snaps {
		states[s] = bag(t, tbl, s)
	}
	check := func(a, b int64, net bool) {
		st := maps.Clone(states[a])
		for _, c := range readChangesNet(t, rctx, tbl, a, b, net) {
			switch c.kind {
			case changes.Delete, changes.UpdateBefore:
				if st[c.row] == 0 {
					t.Fatalf("(%d, %d] net=%v: %s of %q, which the table did not hold", a, b, net, c.kind, c.row)
				}
				st[c.row]--
				if st[c.row] == 0 {
					delete(st, c.row)
				}
			default:
				st[c.row]++
			}
		}
		if !maps.Equal(st, states[b]) {
			t.Fatalf("(%d, %d] net=%v: applying the changes gives\n  %v\nthe table is\n  %v", a, b, net, st, states[b])
		}
	}
	all := append([]int64{0}, snaps...)
	for i := 1; i < len(all); i++ {
		check(all[i-1], all[i], false)
	}
	for range 25 {
		i := rng.IntN(len(all) - 1)
		j := i + 1 + rng.IntN(len(all)-1-i)
		check(all[i], all[j], false)
		check(all[i], all[j], true)
	}
	check(0, all[len(all)-1], true)
}

// bag reads the table at a snapshot as a multiset of rendered rows.
func bag(t *testing.T, tbl *table.Table, snap int64) map[string]int {
	t.Helper()
	at, err := tbl.Scan(table.WithSnapshotID(snap)).ToArrowTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	tr := array.NewTableReader(at, -1)
	defer tr.Release()
	out := map[string]int{}
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			_, row := render(rec, i)
			out[row]++
		}
	}
	return out
}
