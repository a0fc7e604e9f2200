package scan_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/scan"
)

// asInt reads a reference value of an integer-like column in the units of
// Iceberg bounds (dates in days, timestamps in microseconds).
func asInt(t *testing.T, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int64:
		return x
	case arrow.Date32:
		return int64(x)
	}
	t.Fatalf("value %v of type %T is not integer-like", v, v)
	return 0
}

// trueRange is the least and greatest non-NULL value of column name over
// rows for which keep holds.
func trueRange(t *testing.T, rows []map[string]any, name string, keep func(map[string]any) bool) (lo, hi int64, found bool) {
	t.Helper()
	for _, r := range rows {
		if r[name] == nil || (keep != nil && !keep(r)) {
			continue
		}
		v := asInt(t, r[name])
		if !found {
			lo, hi, found = v, v, true
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi, found
}

// TestIntRangeDemo compares IntRange on the demo tables, as iceberg-go
// wrote them, with the least and greatest values read back, for every
// integer-like column; other columns have no range.
func TestIntRangeDemo(t *testing.T) {
	_, ctx := newAlloc(t)
	tests := []struct {
		table   string
		ints    []string
		noRange []string
	}{
		{datagen.ProbeEventsTable, []string{"id", "occur_time", "rssi", "pt"}, []string{"shop_code", "ap_mac", "no_such_column"}},
		{datagen.ShopsTable, []string{"floor", "opened"}, []string{"shop_code"}},
		{datagen.DevicePlacesTable, []string{"min_rssi"}, []string{"x", "user_device_mac"}},
		{datagen.DevicesTable, []string{"id", "first_seen"}, []string{"info", "info.vendor", "geo.lat", "tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			tbl := loadTable(t, tt.table)
			p := plan(t, ctx, scan.Request{Table: tbl})
			rows := referenceRows(t, ctx, tbl)
			for _, c := range tt.ints {
				wlo, whi, found := trueRange(t, rows, c, nil)
				if !found {
					t.Fatalf("%s holds no value", c)
				}
				lo, hi, ok := p.IntRange(c)
				if !ok || lo != wlo || hi != whi {
					t.Errorf("IntRange(%s) = %d, %d, %v, want %d, %d, true", c, lo, hi, ok, wlo, whi)
				}
			}
			for _, c := range tt.noRange {
				if lo, hi, ok := p.IntRange(c); ok {
					t.Errorf("IntRange(%s) = %d, %d, true, want no range", c, lo, hi)
				}
			}
		})
	}
}

// TestIntRangeFilteredPlan: the range covers the planned files only, here
// those of one day partition.
func TestIntRangeFilteredPlan(t *testing.T) {
	_, ctx := newAlloc(t)
	tbl := loadTable(t, datagen.ProbeEventsTable)
	secondDay := arrow.Date32FromTime(datagen.DefaultDemoOptions().Start.AddDate(0, 0, 1))
	p := plan(t, ctx, scan.Request{Table: tbl, Filter: iceberg.EqualTo(iceberg.Reference("pt"), iceberg.Date(secondDay))})
	if p.NumTasks() == 0 || p.Stats.RecordCount >= demoEvents {
		t.Fatalf("%d tasks and %d records for one day", p.NumTasks(), p.Stats.RecordCount)
	}
	rows := referenceRows(t, ctx, tbl)
	onDay := func(r map[string]any) bool { return r["pt"] == secondDay }
	for _, c := range []string{"id", "occur_time", "pt"} {
		wlo, whi, found := trueRange(t, rows, c, onDay)
		if !found {
			t.Fatalf("no %s on %s", c, dayOf(secondDay))
		}
		if lo, hi, ok := p.IntRange(c); !ok || lo != wlo || hi != whi {
			t.Errorf("IntRange(%s) on %s = %d, %d, %v, want %d, %d, true", c, dayOf(secondDay), lo, hi, ok, wlo, whi)
		}
	}
	none := plan(t, ctx, scan.Request{Table: tbl, Filter: iceberg.EqualTo(iceberg.Reference("pt"), iceberg.Date(secondDay+1000))})
	if lo, hi, ok := none.IntRange("id"); ok {
		t.Errorf("IntRange(id) over no files = %d, %d, true, want no range", lo, hi)
	}
}

// TestIntRangeWrittenTable writes two files of every integer-like type
// (negative values, dates before 1970, the extremes in different files)
// and checks the decoded ranges; a column without bounds in some file
// (metrics off, or only NULLs there) has no range.
func TestIntRangeWrittenTable(t *testing.T) {
	mem, ctx := newAlloc(t)
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "i", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 2, Name: "l", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 3, Name: "d", Type: iceberg.PrimitiveTypes.Date},
		iceberg.NestedField{ID: 4, Name: "tm", Type: iceberg.PrimitiveTypes.Time},
		iceberg.NestedField{ID: 5, Name: "ts", Type: iceberg.PrimitiveTypes.Timestamp},
		iceberg.NestedField{ID: 6, Name: "tz", Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 7, Name: "nometrics", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 8, Name: "sparse", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 9, Name: "f", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 10, Name: "s", Type: iceberg.PrimitiveTypes.String},
	)
	tbl := newTestTable(t, "int_ranges_for_scan_test", sc, iceberg.Properties{"write.metadata.metrics.column.nometrics": "none"})
	empty := plan(t, ctx, scan.Request{Table: tbl})
	if _, _, ok := empty.IntRange("i"); ok {
		t.Error("IntRange(i) of a table without a snapshot has a range")
	}

	big := int64(1) << 40
	ts := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC).UnixMicro()
	tbl = appendJSON(t, ctx, mem, tbl, fmt.Sprintf(`[
		{"i": -2147483648, "l": 5, "d": -3, "tm": 1000, "ts": %d, "tz": %d, "nometrics": 1, "sparse": null, "f": 1.5, "s": "a"},
		{"i": 7, "l": %d, "d": 10, "tm": 2000, "ts": %d, "tz": %d, "nometrics": 2, "sparse": null, "f": 2.5, "s": "b"}
	]`, ts, -ts, big, ts+1, ts))
	tbl = appendJSON(t, ctx, mem, tbl, fmt.Sprintf(`[
		{"i": 2147483647, "l": %d, "d": 0, "tm": 500, "ts": %d, "tz": 0, "nometrics": 3, "sparse": -4, "f": -1, "s": "c"},
		{"i": null, "l": -1, "d": 20000, "tm": 86399999999, "ts": %d, "tz": null, "nometrics": 4, "sparse": 9, "f": 0, "s": "d"}
	]`, -big, ts-1, ts+2))
	p := plan(t, ctx, scan.Request{Table: tbl})
	if p.NumTasks() != 2 {
		t.Fatalf("%d tasks, want 2", p.NumTasks())
	}
	tests := []struct {
		col    string
		lo, hi int64
		ok     bool
	}{
		{"i", -2147483648, 2147483647, true},
		{"l", -big, big, true},
		{"d", -3, 20000, true},
		{"tm", 500, 86399999999, true},
		{"ts", ts - 1, ts + 2, true},
		{"tz", -ts, ts, true},
		{"nometrics", 0, 0, false},
		{"sparse", 0, 0, false},
		{"f", 0, 0, false},
		{"s", 0, 0, false},
	}
	for _, tt := range tests {
		lo, hi, ok := p.IntRange(tt.col)
		if ok != tt.ok || (ok && (lo != tt.lo || hi != tt.hi)) {
			t.Errorf("IntRange(%s) = %d, %d, %v, want %d, %d, %v", tt.col, lo, hi, ok, tt.lo, tt.hi, tt.ok)
		}
	}
	// The second file alone has bounds for sparse.
	second := plan(t, ctx, scan.Request{Table: tbl, Filter: iceberg.EqualTo(iceberg.Reference("s"), "c")})
	if second.NumTasks() != 1 {
		t.Fatalf("%d tasks for s = 'c', want 1", second.NumTasks())
	}
	if lo, hi, ok := second.IntRange("sparse"); !ok || lo != -4 || hi != 9 {
		t.Errorf("IntRange(sparse) of the second file = %d, %d, %v, want -4, 9, true", lo, hi, ok)
	}
}
