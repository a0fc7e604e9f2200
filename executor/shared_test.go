package executor_test

import (
	"slices"
	"testing"

	"github.com/lakeflight/lakeflight/executor"
)

// A relation read by several readers runs its plan once while any reader
// is open, gives each reader every row, and releases its batches when the
// last reader closes; reading again later runs the plan again.
func TestMaterializedRunsOncePerUse(t *testing.T) {
	for _, size := range batchSizes {
		mem, ctx := newAlloc(t)
		rec := buildRecord(mem, genRows(50, 5, true))
		builds := 0
		m := &executor.Materialized{Output: testSchema, Label: "w", Build: func() executor.Operator {
			builds++
			return newSource(testSchema, cut(rec, size)...)
		}}
		want := recordRows(t, rec)
		defer rec.Release()
		a, b, idle := m.Reader(), m.Reader(), m.Reader()
		if len(a.Children()) != 1 || len(b.Children()) != 0 {
			t.Errorf("the first reader shows the plan, the others do not: %d, %d children", len(a.Children()), len(b.Children()))
		}
		if err := a.Open(ctx); err != nil {
			t.Fatal(err)
		}
		first, err := a.Next() // a is open and has read: the plan has run
		if err != nil {
			t.Fatal(err)
		}
		rowsB, _ := drain(t, ctx, b)
		rest, _ := drain(t, ctx, a)
		gotA := append(recordRows(t, first), rest...)
		first.Release()
		if !slices.Equal(gotA, want) || !slices.Equal(rowsB, want) {
			t.Errorf("batch size %d: readers got %d and %d rows, want %d", size, len(gotA), len(rowsB), len(want))
		}
		if builds != 1 {
			t.Errorf("batch size %d: plan built %d times for two readers at once, want 1", size, builds)
		}
		if err := idle.Close(); err != nil { // built, never read
			t.Fatal(err)
		}
		// All readers closed: the rows were released; a new reader runs it again.
		again, _ := drain(t, ctx, m.Reader())
		if !slices.Equal(again, want) || builds != 2 {
			t.Errorf("batch size %d: a later reader got %d rows after %d builds, want %d rows after 2", size, len(again), builds, len(want))
		}
	}
}
