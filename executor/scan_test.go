package executor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/scan"
)

const scanEvents = 2_000

// demoPlan writes a small demo warehouse into a temporary directory and
// plans a scan of mall.probe_events (columns id and rssi) in batches of
// 100 rows.
func demoPlan(t *testing.T, ctx context.Context) *scan.Plan {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + filepath.Join(dir, "c.db"), Warehouse: "file://" + filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	o := datagen.DefaultDemoOptions()
	o.Events, o.Days, o.Devices, o.Shops = scanEvents, 2, 50, 5
	if err := datagen.WriteDemo(ctx, cat.Iceberg(), o); err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, table.Identifier{"mall", "probe_events"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: []string{"id", "rssi"}, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScanOperator(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlan(t, ctx)
	newScan := func() *executor.Scan {
		return &executor.Scan{Plan: p, Tasks: p.Part(0, 1), Label: "mall.probe_events"}
	}
	if got, want := newScan().String(), fmt.Sprintf("Scan mall.probe_events [snapshot=%d files=4 records=%d filter=none] tasks=4", p.SnapshotID(), scanEvents); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	all, sizes := drain(t, ctx, newScan())
	if len(all) != scanEvents {
		t.Fatalf("read %d rows, want %d", len(all), scanEvents)
	}
	for _, n := range sizes {
		if n > 100 {
			t.Errorf("batch of %d rows with batch size 100", n)
		}
	}

	t.Run("close before open", func(t *testing.T) {
		s := newScan()
		if err := errors.Join(s.Close(), s.Close()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("open twice, next after EOF, close twice", func(t *testing.T) {
		s := newScan()
		if err := errors.Join(s.Open(ctx), s.Open(ctx)); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			rec, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n += int(rec.NumRows())
			rec.Release()
			if n == 300 {
				// Opening again mid-stream changes nothing.
				if err := s.Open(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n != scanEvents {
			t.Errorf("read %d rows, want %d", n, scanEvents)
		}
		for k := 0; k < 3; k++ {
			if _, err := s.Next(); err != io.EOF {
				t.Fatalf("Next after EOF = %v", err)
			}
		}
		if err := errors.Join(s.Close(), s.Close()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("close mid-stream", func(t *testing.T) {
		s := newScan()
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		rec, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Next(); err != io.EOF {
			t.Errorf("Next after Close = %v, want io.EOF", err)
		}
	})
	t.Run("parts", func(t *testing.T) {
		var union []string
		for i := 0; i < 3; i++ {
			rows, _ := drain(t, ctx, &executor.Scan{Plan: p, Tasks: p.Part(i, 3), Label: "x"})
			union = append(union, rows...)
		}
		slices.Sort(union)
		want := slices.Clone(all)
		slices.Sort(want)
		if !reflect.DeepEqual(union, want) {
			t.Errorf("parts hold %d rows together, want %d", len(union), len(want))
		}
	})
	t.Run("limit stops the scan early", func(t *testing.T) {
		// Filter, Project and Limit over a scan that is abandoned after a
		// few batches: no goroutine (goleak) and no buffer (allocator) may
		// be left behind.
		rssi := &expr.Column{Index: 1, Name: "rssi", Type: arrow.PrimitiveTypes.Int32}
		id := &expr.Column{Index: 0, Name: "id", Type: arrow.PrimitiveTypes.Int64}
		out := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
		op := &executor.Limit{N: 150, Offset: 20, Input: &executor.Project{Exprs: []expr.Expr{id}, Output: out,
			Input: &executor.Filter{Predicate: &expr.IsNull{X: rssi, Negate: true}, Input: newScan()}}}
		rows, _ := drain(t, ctx, op)
		if len(rows) != 150 {
			t.Errorf("%d rows, want 150", len(rows))
		}
	})
	t.Run("filter over scan", func(t *testing.T) {
		rssi := &expr.Column{Index: 1, Name: "rssi", Type: arrow.PrimitiveTypes.Int32}
		pred := &expr.Compare{Op: expr.Gt, L: rssi, R: &expr.Literal{Value: scalar.NewInt32Scalar(-60)}}
		got, _ := drain(t, ctx, &executor.Filter{Predicate: pred, Input: newScan()})
		var want []string
		for _, r := range all {
			var id, v int
			if n, _ := fmt.Sscanf(r, "%d|%d", &id, &v); n == 2 && v > -60 {
				want = append(want, r)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("filter kept %d rows, want %d", len(got), len(want))
		}
	})
}
