//go:build unix

package scan_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/scan"
)

// BenchmarkLineitem reads TPC-H lineitem's Q1 columns through the scan's
// own Parquet reader and through iceberg-go's ReadTasks, one file at a
// time, and reports the CPU time they take (cpu-ms/op). It needs a TPC-H warehouse (bench/tpch): LAKEFLIGHT_TPCH names the
// directory holding its catalog.db and warehouse/.
//
//	LAKEFLIGHT_TPCH=/tmp/me/tpch-sf1 go test -run XXX -bench Lineitem -benchtime 5x ./scan/
func BenchmarkLineitem(b *testing.B) {
	dir := os.Getenv("LAKEFLIGHT_TPCH")
	if dir == "" {
		b.Skip("LAKEFLIGHT_TPCH is not set")
	}
	ctx := context.Background()
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	tbl, err := cat.LoadTable(ctx, table.Identifier{"tpch", "lineitem"})
	if err != nil {
		b.Fatal(err)
	}
	date := func(s string) iceberg.Date {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			b.Fatal(err)
		}
		return iceberg.Date(arrow.Date32FromTime(t))
	}
	shipdate := iceberg.Reference("l_shipdate")
	q1 := []string{"l_returnflag", "l_linestatus", "l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_shipdate"}
	queries := []struct {
		name   string
		fields []string
		filter iceberg.BooleanExpression
	}{
		{"q1-columns", q1, nil},
		// Q1's filter: the statistics prove it true for all but the files
		// of 1998.
		{"q1-filter", q1, iceberg.LessThanEqual(shipdate, date("1998-09-02"))},
		// A year of ship dates: files of other years are pruned at
		// planning, the filter runs on the rows of the others.
		{"shipdate-1994", []string{"l_extendedprice", "l_discount"}, iceberg.NewAnd(
			iceberg.GreaterThanEqual(shipdate, date("1994-01-01")), iceberg.LessThan(shipdate, date("1995-01-01")))},
	}
	for _, q := range queries {
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Fields: q.fields, Filter: q.filter, Concurrency: 1})
		if err != nil {
			b.Fatal(err)
		}
		for _, path := range []string{"iceberg", "native"} {
			b.Run(q.name+"/"+path, func(b *testing.B) {
				b.ReportAllocs()
				var st scan.ReadStats
				var rows int64
				cpu0 := cpuTime()
				for b.Loop() {
					var r *scan.Reader
					if path == "native" {
						r, err = p.Open(ctx, p.Part(0, 1))
					} else {
						r, err = scan.OpenWithIceberg(p, ctx, p.Part(0, 1))
					}
					if err != nil {
						b.Fatal(err)
					}
					rows = 0
					for {
						rec, err := r.Next()
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						rows += rec.NumRows()
						rec.Release()
					}
					r.Close()
					st = r.Stats()
				}
				// CPU time (all threads, GC included) tells more than
				// wall time on a shared machine.
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
				b.SetBytes(st.BytesRead)
				b.ReportMetric(float64(rows), "rows/op")
				b.ReportMetric(float64(st.Files), "files/op")
				b.ReportMetric(float64(st.RowGroupsSkipped), "rowgroups_skipped/op")
			})
		}
	}
}

// cpuTime is the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
