package scan_test

import (
	"context"
	"slices"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/bench/datagen"
	"github.com/lakeflight/lakeflight/scan"
)

// TestPlanFromWholeSnapshot checks that plans pruned from a snapshot's
// cached whole plan keep every file iceberg-go's own planning keeps, and
// no more on these filters (partition column ranges, column ranges, IN,
// NULL tests), on the demo events table (identity-partitioned by pt).
func TestPlanFromWholeSnapshot(t *testing.T) {
	ctx := context.Background()
	tbl := loadTable(t, datagen.ProbeEventsTable)
	ref := func(name string) iceberg.UnboundTerm { return iceberg.Reference(name) }
	filters := []iceberg.BooleanExpression{
		iceberg.EqualTo(ref("pt"), iceberg.Date(20394)),
		iceberg.NewAnd(iceberg.GreaterThanEqual(ref("pt"), iceberg.Date(20394)), iceberg.LessThan(ref("pt"), iceberg.Date(20396))),
		iceberg.GreaterThan(ref("id"), int64(1_000_000_000)),
		iceberg.LessThanEqual(ref("id"), int64(10)),
		iceberg.IsIn(ref("shop_code"), "S0001", "S0002"),
		iceberg.NewOr(iceberg.EqualTo(ref("id"), int64(3)), iceberg.GreaterThan(ref("rssi"), int32(1000))),
		iceberg.IsNull(ref("id")),
		iceberg.NewNot(iceberg.EqualTo(ref("id"), int64(3))),
	}
	// The first filtered plan of a snapshot goes through iceberg-go (a
	// selective filter prunes whole manifests there); the next ones prune
	// the whole plan made then.
	scan.ForgetWholePlans()
	before := scan.PrunedPlans()
	if _, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: iceberg.EqualTo(ref("id"), int64(-7)), PruneOnly: true}); err != nil {
		t.Fatal(err)
	}
	if scan.PrunedPlans() != before {
		t.Errorf("the first filtered plan was pruned from a whole plan")
	}
	for _, f := range filters {
		before := scan.PrunedPlans()
		p, err := scan.NewPlan(ctx, scan.Request{Table: tbl, Filter: f, PruneOnly: true})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if scan.PrunedPlans() != before+1 {
			t.Errorf("%s: not planned from the whole snapshot", f)
		}
		got := paths(p.Part(0, 1))
		tasks, err := tbl.Scan(table.WithRowFilter(f), table.WithCaseSensitive(true)).PlanFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, task := range tasks {
			want = append(want, task.File.FilePath())
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: planned %d files %v, iceberg-go %d %v", f, len(got), got, len(want), want)
		}
	}
}

func paths(tasks []table.FileScanTask) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.File.FilePath())
	}
	slices.Sort(out)
	return slices.Compact(out)
}
