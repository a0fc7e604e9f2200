package scan

import (
	"context"
	"sync"
)

// Totals gathers the figures of every scan of one query: what planning
// kept of each table (once per plan, however many readers read its
// parts) and what the readers read and skipped (each reader adds its
// figures when it is closed). It is safe for concurrent use.
type Totals struct {
	mu    sync.Mutex
	plans map[*Plan]struct{}
	plan  PlanTotals
	read  ReadStats
}

// PlanTotals add up the figures of distinct plans.
type PlanTotals struct {
	// Scans is the number of distinct plans read.
	Scans int64
	// DataFiles is the number of file scan tasks planned; TableDataFiles
	// the data files of the snapshots read (0 for a snapshot whose summary
	// does not say), so that TableDataFiles-DataFiles were pruned by
	// partitions and file statistics.
	DataFiles, TableDataFiles int64
	// FileBytes is the size of the planned data files; TableBytes that of
	// all data files of the snapshots read (from their summaries).
	FileBytes, TableBytes int64
}

type totalsKey struct{}

// WithTotals returns a context on which the scans planned and read gather
// their figures into the returned Totals.
func WithTotals(ctx context.Context) (context.Context, *Totals) {
	t := &Totals{plans: map[*Plan]struct{}{}}
	return context.WithValue(ctx, totalsKey{}, t), t
}

func totalsFrom(ctx context.Context) *Totals {
	t, _ := ctx.Value(totalsKey{}).(*Totals)
	return t
}

// addPlan counts a plan's figures, once per plan.
func (t *Totals) addPlan(p *Plan) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, seen := t.plans[p]; seen {
		return
	}
	t.plans[p] = struct{}{}
	t.plan.Scans++
	t.plan.DataFiles += int64(p.Stats.DataFiles)
	t.plan.TableDataFiles += p.Stats.TotalDataFiles
	t.plan.FileBytes += p.Stats.FileBytes
	t.plan.TableBytes += p.Stats.TableBytes
}

// addRead adds a closed reader's figures.
func (t *Totals) addRead(st ReadStats) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.read.add(st)
}

// Plans returns the figures of the plans read so far.
func (t *Totals) Plans() PlanTotals {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.plan
}

// Read returns the figures of the readers closed so far.
func (t *Totals) Read() ReadStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.read
}

// add adds o's figures to st.
func (st *ReadStats) add(o ReadStats) {
	st.Files += o.Files
	st.FallbackFiles += o.FallbackFiles
	st.RowGroups += o.RowGroups
	st.RowGroupsSkipped += o.RowGroupsSkipped
	st.SkippedByStats += o.SkippedByStats
	st.SkippedByDictionary += o.SkippedByDictionary
	st.SkippedByBloomFilter += o.SkippedByBloomFilter
	st.SkippedByPageIndex += o.SkippedByPageIndex
	st.BytesRead += o.BytesRead
	st.BytesSkipped += o.BytesSkipped
	st.RowsRead += o.RowsRead
	st.Pages += o.Pages
	st.PagesSkipped += o.PagesSkipped
	st.RowsSkipped += o.RowsSkipped
	st.LateRowGroups += o.LateRowGroups
	st.LateRowsSkipped += o.LateRowsSkipped
}
