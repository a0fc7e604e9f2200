package scan

import (
	"context"

	"github.com/apache/iceberg-go/table"
)

// OpenWithIceberg reads tasks through iceberg-go's ReadTasks only: the
// reference the tests compare the scan's own Parquet reader with.
func OpenWithIceberg(p *Plan, ctx context.Context, tasks []table.FileScanTask) (*Reader, error) {
	return p.open(ctx, tasks, false)
}

// ReadsNatively reports whether a plan reads Parquet files itself.
func ReadsNatively(p *Plan) bool { return p.native != nil }

// SetProbes turns the dictionary and bloom filter tests of row groups on
// or off for the files a native plan opens from now on.
func SetProbes(p *Plan, on bool) { p.native.noProbes = !on }

// ForgetWholePlans empties the cache of whole-snapshot plans, so that the
// next plan reads the manifests.
func ForgetWholePlans() {
	wholePlans.Purge()
	seen.Purge()
}

// PrunedPlans counts the plans pruned from a cached whole-snapshot plan.
func PrunedPlans() int64 { return prunedPlans.Load() }

// SetPageIndex turns the page-index tests of row groups on or off, and
// SetLate reading the filter columns first, for the files a native plan
// opens from now on.
func SetPageIndex(p *Plan, on bool) { p.native.noPages = !on }
func SetLate(p *Plan, on bool)      { p.native.noLate = !on }
