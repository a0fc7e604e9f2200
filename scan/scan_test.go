package scan_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/pruning"
	"github.com/lakeflight/lakeflight/scan"
)

// readAll reads tasks of p to the end and returns the rows and the reader's
// counters.
func readAll(t *testing.T, ctx context.Context, p *scan.Plan, tasks []table.FileScanTask) ([]string, *scan.Reader) {
	t.Helper()
	r, err := p.Open(ctx, tasks)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	var rows []string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if !rec.Schema().Equal(p.Schema()) {
			t.Errorf("batch schema\n%s\ndiffers from plan schema\n%s", rec.Schema(), p.Schema())
		}
		if rec.NumRows() == 0 {
			t.Errorf("reader returned an empty batch")
		}
		rows = append(rows, renderRows(rec)...)
		rec.Release()
	}
	return rows, r
}

func TestNewPlanNoTable(t *testing.T) {
	if _, err := scan.NewPlan(t.Context(), scan.Request{}); err == nil {
		t.Fatal("NewPlan without a table succeeded")
	}
}

func TestFullScan(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	p, err := scan.NewPlan(ctx, scan.Request{Table: tbl})
	if err != nil {
		t.Fatal(err)
	}
	want, err := catalog.ArrowSchema(tbl.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Schema().Equal(want) {
		t.Errorf("schema\n%s\nwant\n%s", p.Schema(), want)
	}
	if p.SnapshotID() != tbl.CurrentSnapshot().SnapshotID {
		t.Errorf("SnapshotID %d, want current %d", p.SnapshotID(), tbl.CurrentSnapshot().SnapshotID)
	}
	if got, want := p.NumTasks(), demoDays*demoFilesPerDay; got != want {
		t.Errorf("NumTasks %d, want %d (days x files per day)", got, want)
	}
	if p.Stats.DataFiles != p.NumTasks() || p.Stats.RecordCount != demoEvents || p.Stats.DeleteFiles != 0 || p.Stats.FileBytes <= 0 {
		t.Errorf("Stats %+v, want %d files, %d records, no deletes, some bytes", p.Stats, p.NumTasks(), demoEvents)
	}
	wantDesc := fmt.Sprintf("snapshot=%d files=%d records=%d filter=none", p.SnapshotID(), p.NumTasks(), demoEvents)
	if got := p.Describe(); got != wantDesc {
		t.Errorf("Describe() = %q, want %q", got, wantDesc)
	}
	rows, r := readAll(t, ctx, p, p.Part(0, 1))
	if len(rows) != demoEvents || r.Rows != demoEvents || r.Batches < 1 {
		t.Errorf("read %d rows (Rows=%d, Batches=%d), want %d", len(rows), r.Rows, r.Batches, demoEvents)
	}
	ref := referenceRows(t, ctx, tbl)
	if len(ref) != demoEvents {
		t.Fatalf("reference has %d rows", len(ref))
	}
}

func TestPart(t *testing.T) {
	_, ctx := newAlloc(t)
	p, err := scan.NewPlan(ctx, scan.Request{Table: loadTable(t, datagen.ProbeEventsTable), Fields: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	all := p.Part(0, 1)
	if len(all) != p.NumTasks() {
		t.Fatalf("Part(0, 1) has %d tasks, want all %d", len(all), p.NumTasks())
	}
	paths := func(ts []table.FileScanTask) []string {
		var out []string
		for _, t := range ts {
			out = append(out, fmt.Sprintf("%s@%d", t.File.FilePath(), t.Start))
		}
		return out
	}
	if !slices.IsSorted(paths(all)) {
		t.Errorf("tasks are not in path order: %v", paths(all))
	}
	allRows, _ := readAll(t, ctx, p, all)
	slices.Sort(allRows)
	for _, n := range []int{2, 3, 4, 6, 7, 10} {
		var union []string
		var unionRows []string
		for i := 0; i < n; i++ {
			part := p.Part(i, n)
			// Round robin over the sorted tasks.
			for k, task := range part {
				if want := all[i+k*n]; task.File.FilePath() != want.File.FilePath() {
					t.Errorf("Part(%d, %d)[%d] = %s, want %s", i, n, k, task.File.FilePath(), want.File.FilePath())
				}
			}
			union = append(union, paths(part)...)
			rows, _ := readAll(t, ctx, p, part)
			unionRows = append(unionRows, rows...)
		}
		slices.Sort(union)
		if !reflect.DeepEqual(union, paths(all)) {
			t.Errorf("parts of %d: union of tasks %v, want each task once %v", n, union, paths(all))
		}
		slices.Sort(unionRows)
		if !reflect.DeepEqual(unionRows, allRows) {
			t.Errorf("parts of %d: %d rows in all, want the %d rows of one part", n, len(unionRows), len(allRows))
		}
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		table  string
		fields []string
		want   string // rendered schema fields
	}{
		{datagen.ProbeEventsTable, []string{"id", "rssi"}, "id: int64, rssi: int32"},
		{datagen.ProbeEventsTable, []string{"rssi", "id"}, "id: int64, rssi: int32"},
		{datagen.ShopsTable, nil, "shop_code: utf8, shop_name: utf8, category: utf8, floor: int32, opened: date32"},
		{datagen.DevicesTable, []string{"info.vendor"}, "info: struct<vendor: utf8 nullable>"},
		{datagen.DevicesTable, []string{"info.os.name", "id"}, "id: int64, info: struct<os: struct<name: utf8 nullable> nullable>"},
		{datagen.DevicesTable, []string{"first_seen"}, "first_seen: timestamp[us, tz=UTC]"},
	}
	for _, tt := range tests {
		t.Run(tt.table+"/"+strings.Join(tt.fields, ","), func(t *testing.T) {
			_, ctx := newAlloc(t)
			p, err := scan.NewPlan(ctx, scan.Request{Table: loadTable(t, tt.table), Fields: tt.fields})
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, f := range p.Schema().Fields() {
				parts = append(parts, f.Name+": "+f.Type.String())
			}
			if got := strings.Join(parts, ", "); got != tt.want {
				t.Errorf("schema %s, want %s", got, tt.want)
			}
			rows, _ := readAll(t, ctx, p, p.Part(0, 1))
			if len(rows) == 0 {
				t.Errorf("no rows read")
			}
		})
	}
	_, ctx := newAlloc(t)
	if _, err := scan.NewPlan(ctx, scan.Request{Table: loadTable(t, datagen.ShopsTable), Fields: []string{"nope"}}); err == nil {
		t.Errorf("NewPlan with an unknown field succeeded")
	}
}

// TestHandledFiltersAreExact pushes the Iceberg form of predicates that
// pruning reports as handled and checks that the scan returns exactly the
// rows for which the SQL predicate is true: the executor will not filter
// them again.
func TestHandledFiltersAreExact(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	ref := referenceRows(t, ctx, tbl)
	sc := must(catalog.ArrowSchema(tbl.Schema()))
	colOf := func(name string) *expr.Column {
		idx := sc.FieldIndices(name)[0]
		return &expr.Column{Index: idx, Name: name, Type: sc.Field(idx).Type}
	}
	lit := func(s scalar.Scalar) *expr.Literal { return &expr.Literal{Value: s} }
	str := func(v string) *expr.Literal { return lit(scalar.NewStringScalar(v)) }
	i32 := func(v int32) *expr.Literal { return lit(scalar.NewInt32Scalar(v)) }
	i64 := func(v int64) *expr.Literal { return lit(scalar.NewInt64Scalar(v)) }
	day2 := arrow.Date32FromTime(datagen.DefaultDemoOptions().Start.AddDate(0, 0, 1))
	noon := datagen.DefaultDemoOptions().Start.Add(36 * time.Hour)
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	rssi, shop, apMAC, id, pt, occur := colOf("rssi"), colOf("shop_code"), colOf("ap_mac"), colOf("id"), colOf("pt"), colOf("occur_time")

	intOf := func(v any) (int64, bool) {
		switch x := v.(type) {
		case int32:
			return int64(x), true
		case int64:
			return x, true
		}
		return 0, false
	}
	tests := []struct {
		name string
		e    expr.Expr
		keep func(m map[string]any) bool
	}{
		{"rssi < -80", &expr.Compare{Op: expr.Lt, L: rssi, R: i32(-80)}, func(m map[string]any) bool {
			v, ok := intOf(m["rssi"])
			return ok && v < -80
		}},
		{"-60 <= rssi", &expr.Compare{Op: expr.LtEq, L: i32(-60), R: rssi}, func(m map[string]any) bool {
			v, ok := intOf(m["rssi"])
			return ok && v >= -60
		}},
		{"rssi = -70", &expr.Compare{Op: expr.Eq, L: rssi, R: i32(-70)}, func(m map[string]any) bool {
			v, ok := intOf(m["rssi"])
			return ok && v == -70
		}},
		{"rssi IS NULL", &expr.IsNull{X: rssi}, func(m map[string]any) bool { return m["rssi"] == nil }},
		{"ap_mac IS NULL OR rssi > -45", &expr.Or{Args: []expr.Expr{&expr.IsNull{X: apMAC}, &expr.Compare{Op: expr.Gt, L: rssi, R: i32(-45)}}}, func(m map[string]any) bool {
			v, ok := intOf(m["rssi"])
			return m["ap_mac"] == nil || (ok && v > -45)
		}},
		{"ap_mac IS NOT NULL", &expr.IsNull{X: apMAC, Negate: true}, func(m map[string]any) bool { return m["ap_mac"] != nil }},
		{"shop_code IN (S0001, S0007)", &expr.In{X: shop, List: []expr.Expr{str("S0001"), str("S0007")}}, func(m map[string]any) bool {
			return m["shop_code"] == "S0001" || m["shop_code"] == "S0007"
		}},
		{"shop_code LIKE 'S001%'", &expr.Like{X: shop, Pattern: str("S001%")}, func(m map[string]any) bool {
			s, ok := m["shop_code"].(string)
			return ok && strings.HasPrefix(s, "S001")
		}},
		{"id range", &expr.And{Args: []expr.Expr{&expr.Compare{Op: expr.GtEq, L: id, R: i64(5000)}, &expr.Compare{Op: expr.Lt, L: id, R: i64(5100)}}}, func(m map[string]any) bool {
			v := m["id"].(int64)
			return v >= 5000 && v < 5100
		}},
		{"pt = day 2", &expr.Compare{Op: expr.Eq, L: pt, R: lit(scalar.NewDate32Scalar(day2))}, func(m map[string]any) bool {
			return m["pt"] == day2
		}},
		{"occur_time < noon of day 2", &expr.Compare{Op: expr.Lt, L: occur, R: lit(scalar.NewTimestampScalar(arrow.Timestamp(noon.UnixMicro()), ts))}, func(m map[string]any) bool {
			return m["occur_time"].(int64) < noon.UnixMicro()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ctx := newAlloc(t)
			push := pruning.Translate(tt.e)
			if push.Residual != nil || push.Handled != len(expr.Conjuncts(tt.e)) {
				t.Fatalf("%s is not fully handled: residual %v, handled %d", tt.e, push.Residual, push.Handled)
			}
			p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: push.Filter, Fields: []string{"id"}})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := readAll(t, ctx, p, p.Part(0, 1))
			var want []string
			for _, m := range ref {
				if tt.keep(m) {
					want = append(want, fmt.Sprint(m["id"]))
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if len(want) == 0 {
				t.Fatalf("test predicate selects no rows")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: scan returned %d rows, SQL semantics give %d", tt.e, len(got), len(want))
			}
			if p.Stats.RecordCount < int64(len(want)) {
				t.Errorf("plan keeps %d records, fewer than the %d matches", p.Stats.RecordCount, len(want))
			}
		})
	}
}

// TestPartitionPruning checks that a filter on the partition column plans
// only that day's files.
func TestPartitionPruning(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	start := datagen.DefaultDemoOptions().Start
	ref := referenceRows(t, ctx, tbl)
	for d := 0; d < demoDays; d++ {
		day := arrow.Date32FromTime(start.AddDate(0, 0, d))
		f := iceberg.EqualTo(iceberg.Reference("pt"), iceberg.Date(day))
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, m := range ref {
			if m["pt"] == day {
				want++
			}
		}
		if p.NumTasks() != demoFilesPerDay || p.Stats.RecordCount != int64(want) {
			t.Errorf("pt = %s: %d tasks, %d records; want %d tasks, %d records", dayOf(day), p.NumTasks(), p.Stats.RecordCount, demoFilesPerDay, want)
		}
		if !strings.Contains(p.Describe(), "filter=Equal(term=Reference(name='pt'), literal="+dayOf(day)+")") {
			t.Errorf("Describe() = %s, want the pushed filter", p.Describe())
		}
	}
	// A day outside the data plans nothing.
	f := iceberg.EqualTo(iceberg.Reference("pt"), iceberg.Date(arrow.Date32FromTime(start.AddDate(1, 0, 0))))
	p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	if p.NumTasks() != 0 {
		t.Errorf("a day without data plans %d tasks", p.NumTasks())
	}
	rows, _ := readAll(t, ctx, p, p.Part(0, 1))
	if len(rows) != 0 {
		t.Errorf("read %d rows from no tasks", len(rows))
	}
}

func TestSnapshots(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	snaps := tbl.Metadata().Snapshots()
	if len(snaps) != demoDays {
		t.Fatalf("%d snapshots, want one per day (%d)", len(snaps), demoDays)
	}
	// Snapshot k holds days 0..k.
	var prev int64
	for k, s := range snaps {
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, SnapshotID: s.SnapshotID, Fields: []string{"pt"}})
		if err != nil {
			t.Fatal(err)
		}
		if p.SnapshotID() != s.SnapshotID {
			t.Errorf("SnapshotID %d, want pinned %d", p.SnapshotID(), s.SnapshotID)
		}
		if p.NumTasks() != (k+1)*demoFilesPerDay || p.Stats.RecordCount <= prev {
			t.Errorf("snapshot %d: %d tasks, %d records (previous %d)", k, p.NumTasks(), p.Stats.RecordCount, prev)
		}
		prev = p.Stats.RecordCount
		rows, _ := readAll(t, ctx, p, p.Part(0, 1))
		if int64(len(rows)) != p.Stats.RecordCount {
			t.Errorf("snapshot %d: read %d rows, stats say %d", k, len(rows), p.Stats.RecordCount)
		}
	}
	if prev != demoEvents {
		t.Errorf("last snapshot has %d records, want %d", prev, demoEvents)
	}
	_, err := scan.NewPlan(ctx, scan.Request{Table: tbl, SnapshotID: 12345})
	if !errors.Is(err, scan.ErrNoSuchSnapshot) || !strings.Contains(err.Error(), "12345") || !strings.Contains(err.Error(), "mall.probe_events") {
		t.Errorf("unknown snapshot: error %v, want ErrNoSuchSnapshot naming the snapshot and table", err)
	}
}

func TestLimitAndBatchSize(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: []string{"id"}, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Open(ctx, p.Part(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() > 1000 {
			t.Errorf("batch of %d rows with BatchSize 1000", rec.NumRows())
		}
		n += rec.NumRows()
		rec.Release()
	}
	r.Close()
	if n != demoEvents || r.Batches < demoEvents/1000 {
		t.Errorf("read %d rows in %d batches", n, r.Batches)
	}

	lp, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: []string{"id"}, Limit: 25})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := readAll(t, ctx, lp, lp.Part(0, 1))
	if len(rows) != 25 {
		t.Errorf("Limit 25 read %d rows", len(rows))
	}
}

func TestReaderLifecycle(t *testing.T) {
	tbl := loadTable(t, datagen.ProbeEventsTable)
	t.Run("close early", func(t *testing.T) {
		_, ctx := newAlloc(t)
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, BatchSize: 500})
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.Open(ctx, p.Part(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		r.Close()
		r.Close()
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("Next after Close = %v, want io.EOF", err)
		}
	})
	t.Run("next after EOF", func(t *testing.T) {
		_, ctx := newAlloc(t)
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: []string{"id"}})
		if err != nil {
			t.Fatal(err)
		}
		rows, r := readAll(t, ctx, p, p.Part(0, 3))
		if len(rows) == 0 {
			t.Fatal("no rows")
		}
		for k := 0; k < 3; k++ {
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("Next #%d after EOF = %v, want io.EOF", k+1, err)
			}
		}
	})
	t.Run("no tasks", func(t *testing.T) {
		_, ctx := newAlloc(t)
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl})
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.Open(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("Next over no tasks = %v, want io.EOF", err)
		}
		r.Close()
		r.Close()
	})
	t.Run("cancelled context", func(t *testing.T) {
		_, ctx := newAlloc(t)
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, BatchSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		r, err := p.Open(cctx, p.Part(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		cancel()
		for k := 0; ; k++ {
			rec, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, context.Canceled) {
					t.Errorf("Next after cancel: %v", err)
				}
				break
			}
			rec.Release()
			if k > demoEvents/100 {
				t.Fatal("reader keeps going after cancel")
			}
		}
	})
}

// TestEmptyTable reads a table that has no snapshot yet.
func TestEmptyTable(t *testing.T) {
	_, ctx := newAlloc(t)
	cat := demoCatalog(t).Iceberg()
	ident := table.Identifier{datagen.Namespace, "empty_for_scan_test"}
	sc := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64})
	tbl, err := cat.CreateTable(ctx, ident, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.DropTable(context.Background(), ident)
	p, err := scan.NewPlan(ctx, scan.Request{Table: tbl})
	if err != nil {
		t.Fatal(err)
	}
	if p.SnapshotID() != 0 || p.NumTasks() != 0 || p.Schema().NumFields() != 1 {
		t.Errorf("empty table: snapshot %d, %d tasks, schema %s", p.SnapshotID(), p.NumTasks(), p.Schema())
	}
	rows, _ := readAll(t, ctx, p, p.Part(0, 4))
	if len(rows) != 0 {
		t.Errorf("read %d rows from an empty table", len(rows))
	}
}

// TestNestedRead checks nested columns come back with the plan's
// normalized types and the same values iceberg-go reads directly.
func TestNestedRead(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.DevicesTable)
	p, err := scan.NewPlan(ctx, scan.Request{Table: tbl})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, ctx, p, p.Part(0, 1))
	at, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	var want []string
	tr := array.NewTableReader(at, 1<<20)
	defer tr.Release()
	for tr.Next() {
		want = append(want, renderRows(tr.RecordBatch())...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nested rows differ from iceberg-go's: %d vs %d rows", len(got), len(want))
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("first difference at row %d:\n got  %s\n want %s", i, got[i], want[i])
				break
			}
		}
	}
}

// TestConcurrentParts reads the parts of one plan from 8 goroutines at
// once: a Plan is shared read-only (run with -race).
func TestConcurrentParts(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: []string{"id", "shop_code"}, BatchSize: 2000})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	counts := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.Open(ctx, p.Part(i%3, 3))
			if err != nil {
				errs[i] = err
				return
			}
			defer r.Close()
			for {
				rec, err := r.Next()
				if err == io.EOF {
					return
				}
				if err != nil {
					errs[i] = err
					return
				}
				counts[i] += rec.NumRows()
				rec.Release()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// Goroutines i and i+3 read the same part.
	var total int64
	for i := 0; i < 3; i++ {
		total += counts[i]
		for j := i + 3; j < n; j += 3 {
			if counts[j] != counts[i] {
				t.Errorf("part %d read %d rows by one goroutine and %d by another", i, counts[i], counts[j])
			}
		}
	}
	if total != demoEvents {
		t.Errorf("parts hold %d rows in all, want %d", total, demoEvents)
	}
}

// TestUUIDNormalized writes a table with uuid columns (Arrow extension
// type arrow.uuid in iceberg-go) and checks the plan and the batches use
// plain fixed_size_binary(16), as Flight SQL clients expect.
func TestUUIDNormalized(t *testing.T) {
	mem, ctx := newAlloc(t)
	cat := demoCatalog(t).Iceberg()
	ident := table.Identifier{datagen.Namespace, "uuids_for_scan_test"}
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "u", Type: iceberg.PrimitiveTypes.UUID},
		iceberg.NestedField{ID: 3, Name: "s", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{
			{ID: 4, Name: "v", Type: iceberg.PrimitiveTypes.UUID},
		}}},
	)
	tbl, err := cat.CreateTable(ctx, ident, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.DropTable(context.Background(), ident)

	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	ids := []uuid.UUID{uuid.MustParse("00000000-0000-0000-0000-000000000001"), uuid.MustParse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")}
	b := array.NewRecordBuilder(mem, asc)
	for i, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*extensions.UUIDBuilder).Append(id)
		sb := b.Field(2).(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*extensions.UUIDBuilder).Append(id)
	}
	b.Field(0).(*array.Int64Builder).Append(2)
	b.Field(1).AppendNull()
	b.Field(2).AppendNull()
	rec := b.NewRecordBatch()
	b.Release()
	at := array.NewTableFromRecords(asc, []arrow.RecordBatch{rec})
	rec.Release()
	txn := tbl.NewTransaction()
	err = txn.AppendTable(ctx, at, 10, nil)
	at.Release()
	if err != nil {
		t.Fatal(err)
	}
	if tbl, err = txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	p, err := scan.NewPlan(ctx, scan.Request{Table: tbl})
	if err != nil {
		t.Fatal(err)
	}
	fsb := &arrow.FixedSizeBinaryType{ByteWidth: 16}
	if got := p.Schema().Field(1).Type; !arrow.TypeEqual(got, fsb) {
		t.Errorf("u has type %s, want %s", got, fsb)
	}
	if got := p.Schema().Field(2).Type.(*arrow.StructType).Field(0).Type; !arrow.TypeEqual(got, fsb) {
		t.Errorf("s.v has type %s, want %s", got, fsb)
	}
	r, err := p.Open(ctx, p.Part(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got [][]byte
	var nulls int
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Schema().Equal(p.Schema()) {
			t.Errorf("batch schema %s, want %s", rec.Schema(), p.Schema())
		}
		u, ok := rec.Column(1).(*array.FixedSizeBinary)
		if !ok {
			t.Fatalf("u column is %T", rec.Column(1))
		}
		v := rec.Column(2).(*array.Struct).Field(0).(*array.FixedSizeBinary)
		for i := 0; i < u.Len(); i++ {
			if u.IsNull(i) {
				nulls++
				continue
			}
			if string(u.Value(i)) != string(v.Value(i)) {
				t.Errorf("row %d: u %x and s.v %x differ", i, u.Value(i), v.Value(i))
			}
			got = append(got, append([]byte(nil), u.Value(i)...))
		}
		rec.Release()
	}
	slices.SortFunc(got, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
	if len(got) != 2 || string(got[0]) != string(ids[0][:]) || string(got[1]) != string(ids[1][:]) || nulls != 1 {
		t.Errorf("read uuids %x with %d NULLs, want %x, %x and one NULL", got, nulls, ids[0], ids[1])
	}
}

// TestFilterAfterNestedColumn filters on columns that follow a struct
// column while reading only some columns. iceberg-go 0.7 evaluates such a
// row filter against the wrong column when the projection leaves the struct
// out (b = 101 reading [c] returned no row; on mall.devices a filter on
// first_seen failed with "invalid"): the scan must return the same rows as
// a full read filtered in Go.
func TestFilterAfterNestedColumn(t *testing.T) {
	mem, ctx := newAlloc(t)
	cat := demoCatalog(t).Iceberg()
	ident := table.Identifier{datagen.Namespace, "nested_filter_for_scan_test"}
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "a", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 2, Name: "s", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{
			{ID: 5, Name: "x", Type: iceberg.PrimitiveTypes.Int64},
			{ID: 6, Name: "y", Type: iceberg.PrimitiveTypes.String},
		}}},
		iceberg.NestedField{ID: 3, Name: "l", Type: &iceberg.ListType{ElementID: 7, Element: iceberg.PrimitiveTypes.Int64}},
		iceberg.NestedField{ID: 4, Name: "b", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 8, Name: "c", Type: iceberg.PrimitiveTypes.Int64},
	)
	tbl, err := cat.CreateTable(ctx, ident, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.DropTable(context.Background(), ident)
	asc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	// Row k: a=k, s={x: 10+k, y: "y<k>"}, l=[k], b=100+k, c=k%3.
	const n = 12
	bld := array.NewRecordBuilder(mem, asc)
	for k := 0; k < n; k++ {
		bld.Field(0).(*array.Int64Builder).Append(int64(k))
		sb := bld.Field(1).(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Int64Builder).Append(int64(10 + k))
		sb.FieldBuilder(1).(*array.StringBuilder).Append(fmt.Sprint("y", k))
		lb := bld.Field(2).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Int64Builder).Append(int64(k))
		bld.Field(3).(*array.Int64Builder).Append(int64(100 + k))
		bld.Field(4).(*array.Int64Builder).Append(int64(k % 3))
	}
	rec := bld.NewRecordBatch()
	bld.Release()
	at := array.NewTableFromRecords(asc, []arrow.RecordBatch{rec})
	rec.Release()
	txn := tbl.NewTransaction()
	err = txn.AppendTable(ctx, at, n, nil)
	at.Release()
	if err != nil {
		t.Fatal(err)
	}
	if tbl, err = txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	type rowT struct{ a, x, b, c int64 }
	rows := make([]rowT, n)
	for k := range rows {
		rows[k] = rowT{int64(k), int64(10 + k), int64(100 + k), int64(k % 3)}
	}
	filters := []struct {
		f    iceberg.BooleanExpression
		keep func(r rowT) bool
	}{
		{iceberg.EqualTo(iceberg.Reference("b"), int64(101)), func(r rowT) bool { return r.b == 101 }},
		{iceberg.EqualTo(iceberg.Reference("c"), int64(2)), func(r rowT) bool { return r.c == 2 }},
		{iceberg.GreaterThanEqual(iceberg.Reference("b"), int64(105)), func(r rowT) bool { return r.b >= 105 }},
		{iceberg.NewAnd(iceberg.LessThan(iceberg.Reference("a"), int64(6)), iceberg.EqualTo(iceberg.Reference("c"), int64(1))), func(r rowT) bool { return r.a < 6 && r.c == 1 }},
	}
	selections := [][]string{nil, {"a"}, {"b"}, {"c"}, {"a", "c"}, {"a", "b"}, {"b", "c"}, {"a", "s"}, {"a", "s.x", "c"}, {"s.y", "b"}, {"l", "c"}, {"c", "a"}}
	for _, ft := range filters {
		for _, sel := range selections {
			t.Run(fmt.Sprintf("%s/%v", ft.f, sel), func(t *testing.T) {
				_, ctx := newAlloc(t)
				p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: ft.f, Fields: sel})
				if err != nil {
					t.Fatal(err)
				}
				want, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: sel})
				if err != nil {
					t.Fatal(err)
				}
				if !p.Schema().Equal(want.Schema()) {
					t.Errorf("filtered schema %s, unfiltered %s", p.Schema(), want.Schema())
				}
				got, _ := readAll(t, ctx, p, p.Part(0, 1))
				all, _ := readAll(t, ctx, want, want.Part(0, 1))
				var exp []string
				for k, r := range rows {
					if ft.keep(r) {
						exp = append(exp, all[k])
					}
				}
				slices.Sort(got)
				slices.Sort(exp)
				if !reflect.DeepEqual(got, exp) {
					t.Errorf("rows %q, want %q", got, exp)
				}
			})
		}
	}
}

// With PruneOnly the filter still prunes files, and the rows of the files
// read come back but for those pruning skips (the caller tests the rows):
// every matching row, and others; without it only the matching rows do.
func TestPruneOnly(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	day := arrow.Date32FromTime(datagen.DefaultDemoOptions().Start)
	f := iceberg.NewAnd(iceberg.EqualTo(iceberg.Reference("pt"), iceberg.Date(day)),
		iceberg.GreaterThan(iceberg.Reference("rssi"), int32(-50)))
	filtered, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: f, PruneOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	some, _ := readAll(t, ctx, filtered, filtered.Part(0, 1))
	all, _ := readAll(t, ctx, pruned, pruned.Part(0, 1))
	if pruned.NumTasks() != demoFilesPerDay || int64(len(all)) > pruned.Stats.RecordCount {
		t.Errorf("PruneOnly: %d tasks and %d rows of %d records; want %d tasks", pruned.NumTasks(), len(all), pruned.Stats.RecordCount, demoFilesPerDay)
	}
	if len(some) == 0 || len(some) >= len(all) {
		t.Errorf("filtering rows kept %d of %d; want some and fewer", len(some), len(all))
	}
	seen := map[string]int{}
	for _, r := range all {
		seen[r]++
	}
	for _, r := range some {
		if seen[r]--; seen[r] < 0 {
			t.Fatalf("PruneOnly lost the matching row %s", r)
		}
	}
}

// Plans are reused for the same table metadata and request, and not for
// another request.
func TestPlansReused(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	f := iceberg.GreaterThan(iceberg.Reference("rssi"), int32(-50))
	req := scan.Request{Table: tbl, Filter: f, Fields: []string{"id", "rssi"}}
	a, err := scan.NewPlan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := scan.NewPlan(ctx, scan.Request{Table: loadTable(t, datagen.ProbeEventsTable), Filter: f, Fields: []string{"id", "rssi"}})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the same request on the same metadata planned twice")
	}
	req.Fields = []string{"id"}
	c, err := scan.NewPlan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if c == a || c.Schema().NumFields() != 1 {
		t.Errorf("another field list reused a plan: %d fields", c.Schema().NumFields())
	}
	first := tbl.Metadata().Snapshots()[0].SnapshotID
	d, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: f, Fields: []string{"id", "rssi"}, SnapshotID: first})
	if err != nil {
		t.Fatal(err)
	}
	if d == a || d.SnapshotID() != first {
		t.Errorf("another snapshot reused a plan (snapshot %d)", d.SnapshotID())
	}
}
