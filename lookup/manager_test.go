package lookup_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/lookup"
)

// TestModesAnswerAlike looks the same keys up in FULL, PARTIAL and NONE
// mode, before and after changes are committed, and waits for each mode
// to see the new snapshot.
func TestModesAnswerAlike(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := compute.WithAllocator(context.Background(), mem)
	wctx := context.Background()
	d := newDim(t, true)
	var all []int64
	for i := int64(1); i <= 1000; i++ {
		all = append(all, i)
	}
	d.commit(t, func(tx *table.Transaction) error { return tx.AppendTable(wctx, dimRows(all, "s"), 250, nil) })
	m := lookup.NewManager(lookup.Options{Catalog: d.cat, Default: lookup.TableConfig{Refresh: 20 * time.Millisecond, CacheBytes: 1 << 20}})
	defer m.Close()
	probe := []any{5, 2000, nil, 999, 1, 5, 5}
	for _, mode := range []lookup.Mode{lookup.Full, lookup.Partial, lookup.None} {
		r, err := m.Reader(ctx, d.ident, mode)
		if err != nil {
			t.Fatal(mode, err)
		}
		if r.Mode() != mode {
			t.Errorf("mode %v, want %v", r.Mode(), mode)
		}
		// Twice: PARTIAL answers the second from its cache.
		for range 2 {
			if got := names(t, ctx, r, probe...); fmt.Sprint(got) != "[s5 - - s999 s1 s5 s5]" {
				t.Errorf("%v: %v", mode, got)
			}
		}
		r.Release()
	}
	d.commit(t, func(tx *table.Transaction) error {
		return tx.OverwriteTable(wctx, dimRows([]int64{5}, "new"), 10, nil, table.WithOverwriteFilter(iceberg.EqualTo(iceberg.Reference("id"), int64(5))))
	})
	d.commit(t, func(tx *table.Transaction) error {
		return tx.Delete(wctx, iceberg.EqualTo(iceberg.Reference("id"), int64(999)), nil)
	})
	d.commit(t, func(tx *table.Transaction) error { return tx.AppendTable(wctx, dimRows([]int64{2000}, "s"), 10, nil) })
	want := d.load(t).CurrentSnapshot().SnapshotID
	for _, mode := range []lookup.Mode{lookup.Full, lookup.Partial, lookup.None} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, err := m.Reader(ctx, d.ident, mode)
			if err != nil {
				t.Fatal(err)
			}
			if r.Snapshot() == want {
				if got := names(t, ctx, r, probe...); fmt.Sprint(got) != "[new5 s2000 - - s1 new5 new5]" {
					t.Errorf("%v after commits: %v", mode, got)
				}
				r.Release()
				break
			}
			r.Release()
			if time.Now().After(deadline) {
				t.Fatalf("%v still at snapshot %d, want %d", mode, r.Snapshot(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var seen []string
	for _, s := range m.Stats() {
		seen = append(seen, s.Mode.String())
		if s.Snapshot != want || s.Behind != 0 || s.Bytes <= 0 {
			t.Errorf("stats %+v", s)
		}
		if s.Mode == lookup.Partial && (s.Hits == 0 || s.Misses == 0) {
			t.Errorf("partial cache hits %d misses %d", s.Hits, s.Misses)
		}
	}
	if len(seen) != 2 {
		t.Errorf("stats for %v, want full and partial", seen)
	}
}

// TestFullIndexOverBudget: a FULL index that does not fit is refused with
// a message saying what to do, and PARTIAL still works.
func TestFullIndexOverBudget(t *testing.T) {
	ctx := context.Background()
	d := newDim(t, true)
	var all []int64
	for i := int64(1); i <= 5000; i++ {
		all = append(all, i)
	}
	d.commit(t, func(tx *table.Transaction) error { return tx.AppendTable(ctx, dimRows(all, "s"), 1000, nil) })
	m := lookup.NewManager(lookup.Options{Catalog: d.cat, Memory: 64 << 10, Default: lookup.TableConfig{CacheBytes: 32 << 10}})
	defer m.Close()
	_, err := m.Reader(ctx, d.ident, lookup.Full)
	if !errors.Is(err, lookup.ErrMemory) || !strings.Contains(err.Error(), "--lookup-memory") || !strings.Contains(err.Error(), "d.shops") {
		t.Fatalf("err %v", err)
	}
	if used, _ := m.Used(); used != 0 {
		t.Errorf("%d bytes still reserved after a refused load", used)
	}
	r, err := m.Reader(ctx, d.ident, lookup.Partial)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var keys []any
	for i := 1; i <= 5000; i += 7 {
		keys = append(keys, i)
	}
	for range 3 {
		got := names(t, ctx, r, keys...)
		for i, k := range keys {
			if got[i] != fmt.Sprintf("s%d", k) {
				t.Fatalf("key %v: %s", k, got[i])
			}
		}
	}
	if used, budget := m.Used(); used != 32<<10 || budget != 64<<10 {
		t.Errorf("used %d of %d", used, budget)
	}
	_, err = m.Reader(ctx, d.ident, lookup.Full)
	if !errors.Is(err, lookup.ErrMemory) {
		t.Fatalf("second FULL load: %v", err)
	}
}
