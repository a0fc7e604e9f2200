package planner

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
)

// TestConcurrentQuery runs one planned query from 8 goroutines at once,
// each building its own operator tree for a part (run with -race): a Query
// is immutable and its plans share the scan plan read-only.
func TestConcurrentQuery(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	q := plan(t, ctx, p, "SELECT id, shop_code, rssi FROM probe_events WHERE rssi > -75 AND ap_mac <> 'none' AND shop_code LIKE 'S00%'")
	if q.Parts < 2 {
		t.Fatalf("Parts = %d, want a split query", q.Parts)
	}
	parts := make([][]string, q.Parts)
	for i := range parts {
		parts[i] = sorted(runPart(t, ctx, q, i, q.Parts))
	}
	whole := sorted(runPart(t, ctx, q, 0, 1))

	const workers = 8
	results := make([][]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part, n := w%(q.Parts+1), q.Parts
			if part == q.Parts {
				part, n = 0, 1 // the whole query
			}
			errs[w] = executor.Drain(ctx, q.Operator(part, n), func(rec arrow.RecordBatch) error {
				results[w] = append(results[w], renderRecord(rec)...)
				return nil
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for w, rows := range results {
		want := whole
		if part := w % (q.Parts + 1); part < q.Parts {
			want = parts[part]
		}
		if got := sorted(rows); !reflect.DeepEqual(got, want) {
			t.Errorf("goroutine %d: %d rows, want %d", w, len(got), len(want))
		}
	}
}

// TestConcurrentPlanning plans different statements on one Planner from 8
// goroutines.
func TestConcurrentPlanning(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	sqls := []string{
		"SELECT id FROM probe_events WHERE rssi > -60",
		"SELECT * FROM shops WHERE floor = ?",
		"SELECT info.vendor FROM devices WHERE id < 10",
		"EXPLAIN SELECT id FROM probe_events WHERE pt = '2026-11-02'",
		"SELECT 1",
		"SELECT nope FROM shops",
	}
	want := make([]string, len(sqls))
	for i, sql := range sqls {
		want[i] = planSummary(p.Plan(ctx, Request{SQL: sql}))
	}
	var wg sync.WaitGroup
	got := make([][]string, 8)
	for w := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 3; k++ {
				for _, sql := range sqls {
					got[w] = append(got[w], planSummary(p.Plan(ctx, Request{SQL: sql})))
				}
			}
		}()
	}
	wg.Wait()
	for w := range got {
		for k, s := range got[w] {
			if s != want[k%len(sqls)] {
				t.Errorf("goroutine %d, plan %d: %s, want %s", w, k, s, want[k%len(sqls)])
			}
		}
	}
}

func planSummary(q *Query, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%s parts=%d params=%v %s", q.Schema, q.Parts, q.ParamTypes, normalizePlan(q.Explain()))
}
