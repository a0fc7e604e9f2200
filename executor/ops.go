package executor

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/scan"
)

// Scan reads some tasks of a planned Iceberg scan.
type Scan struct {
	// Plan is the planned scan; Tasks the part of it this operator reads.
	Plan  *scan.Plan
	Tasks []table.FileScanTask
	// Label names the table for EXPLAIN.
	Label string

	reader *scan.Reader
	opened bool
}

var _ Operator = (*Scan)(nil)

func (s *Scan) Schema() *arrow.Schema { return s.Plan.Schema() }
func (s *Scan) Children() []Operator  { return nil }
func (s *Scan) String() string {
	return fmt.Sprintf("Scan %s [%s] tasks=%d", s.Label, s.Plan.Describe(), len(s.Tasks))
}

func (s *Scan) Open(ctx context.Context) error {
	if s.opened {
		return nil
	}
	s.opened = true
	r, err := s.Plan.Open(ctx, s.Tasks)
	if err != nil {
		return err
	}
	s.reader = r
	return nil
}

func (s *Scan) Next() (arrow.RecordBatch, error) {
	if s.reader == nil {
		return nil, io.EOF
	}
	return s.reader.Next()
}

func (s *Scan) Close() error {
	if s.reader != nil {
		s.reader.Close()
	}
	return nil
}

// Analyze renders what the scan read, for EXPLAIN ANALYZE: data files,
// row groups read of those in its byte ranges, the row groups skipped,
// rows decoded and compressed bytes read and skipped, and of the skipped
// row groups those dictionaries and bloom filters skipped (the rest the
// column statistics did); when page indexes were used, the row groups
// they skipped, the data pages read of those tested, the pages and rows
// skipped; when filter columns were read first, the row groups read so
// and the rows whose other columns were not decoded; then the files
// iceberg-go read (with delete files; no row group figures) and the data
// files in the snapshot and their bytes, when known.
func (s *Scan) Analyze() string {
	var st scan.ReadStats
	if s.reader != nil {
		st = s.reader.Stats()
	}
	out := fmt.Sprintf("files=%d rowgroups=%d/%d skipped=%d rows_read=%d bytes_read=%d bytes_skipped=%d skipped_dict=%d skipped_bloom=%d",
		st.Files, st.RowGroups, st.RowGroups+st.RowGroupsSkipped, st.RowGroupsSkipped, st.RowsRead, st.BytesRead, st.BytesSkipped,
		st.SkippedByDictionary, st.SkippedByBloomFilter)
	if st.Pages > 0 || st.SkippedByPageIndex > 0 {
		out += fmt.Sprintf(" skipped_pageindex=%d pages=%d/%d pages_skipped=%d rows_skipped=%d",
			st.SkippedByPageIndex, st.Pages-st.PagesSkipped, st.Pages, st.PagesSkipped, st.RowsSkipped)
	}
	if st.LateRowGroups > 0 {
		out += fmt.Sprintf(" late_rowgroups=%d late_rows_skipped=%d", st.LateRowGroups, st.LateRowsSkipped)
	}
	if st.FallbackFiles > 0 {
		out += fmt.Sprintf(" iceberg_files=%d", st.FallbackFiles)
	}
	if n := s.Plan.Stats.TotalDataFiles; n > 0 {
		out += fmt.Sprintf(" table_files=%d", n)
	}
	if n := s.Plan.Stats.TableBytes; n > 0 {
		out += fmt.Sprintf(" table_bytes=%d", n)
	}
	return out
}

// Filter keeps the rows of its input for which Predicate is true.
type Filter struct {
	Input     Operator
	Predicate expr.Expr

	ctx   context.Context
	order []expr.Expr // the conjuncts of an AND, in evaluation order
}

var _ Operator = (*Filter)(nil)

func (f *Filter) Schema() *arrow.Schema { return f.Input.Schema() }
func (f *Filter) Children() []Operator  { return []Operator{f.Input} }
func (f *Filter) String() string        { return "Filter " + f.Predicate.String() }

func (f *Filter) Open(ctx context.Context) error {
	if f.ctx == nil {
		f.ctx = ctx
	}
	return f.Input.Open(ctx)
}

func (f *Filter) Next() (arrow.RecordBatch, error) { return nextKept(f.Input, f.apply) }

// nextKept returns the next non-empty batch that apply makes of an input
// batch (apply does not take ownership of its argument).
func nextKept(input Operator, apply func(arrow.RecordBatch) (arrow.RecordBatch, error)) (arrow.RecordBatch, error) {
	for {
		in, err := input.Next()
		if err != nil {
			return nil, err
		}
		out, err := apply(in)
		in.Release()
		if err != nil {
			return nil, err
		}
		if out.NumRows() == 0 {
			out.Release()
			continue
		}
		return out, nil
	}
}

func (f *Filter) apply(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	and, ok := f.Predicate.(*expr.And)
	if !ok || len(and.Args) < 2 {
		return f.applyOne(f.Predicate, in)
	}
	// Conjuncts one at a time, cheapest and likeliest to drop rows first,
	// each over the rows the ones before it kept.
	if f.order == nil {
		f.order = slices.Clone(and.Args)
		slices.SortStableFunc(f.order, func(a, b expr.Expr) int { return conjunctRank(a) - conjunctRank(b) })
	}
	cur := in
	cur.Retain()
	for _, c := range f.order {
		next, err := f.applyOne(c, cur)
		cur.Release()
		if err != nil {
			return nil, err
		}
		cur = next
		if cur.NumRows() == 0 {
			break
		}
	}
	return cur, nil
}

// conjunctRank orders a filter's conjuncts: comparisons of a column with a
// constant first (equalities before ranges), then IN lists, NULL tests,
// inequalities and other comparisons, LIKE, and everything else.
func conjunctRank(e expr.Expr) int {
	switch x := e.(type) {
	case *expr.Compare:
		_, lc := x.L.(*expr.Column)
		_, rc := x.R.(*expr.Column)
		_, ll := x.L.(*expr.Literal)
		_, rl := x.R.(*expr.Literal)
		switch {
		case !(lc && rl) && !(rc && ll):
			return 4
		case x.Op == expr.Eq:
			return 0
		case x.Op == expr.NotEq: // keeps most rows
			return 4
		}
		return 1
	case *expr.In:
		return 2
	case *expr.IsNull:
		return 3
	case *expr.Like:
		return 5
	}
	return 6
}

func (f *Filter) applyOne(pred expr.Expr, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	mask, err := Eval(f.ctx, pred, in)
	if err != nil {
		return nil, err
	}
	defer mask.Release()
	if mask.NullN() == 0 {
		if b := mask.(*array.Boolean); countTrue(b) == b.Len() {
			in.Retain()
			return in, nil
		}
	}
	return compute.FilterRecordBatch(f.ctx, in, mask, compute.DefaultFilterOptions())
}

func countTrue(b *array.Boolean) int {
	n := 0
	for i := 0; i < b.Len(); i++ {
		if b.Value(i) {
			n++
		}
	}
	return n
}

func (f *Filter) Close() error { return f.Input.Close() }

// Project computes one output column per expression.
type Project struct {
	Input  Operator
	Exprs  []expr.Expr
	Output *arrow.Schema

	ctx context.Context
}

var _ Operator = (*Project)(nil)

func (p *Project) Schema() *arrow.Schema { return p.Output }
func (p *Project) Children() []Operator  { return []Operator{p.Input} }
func (p *Project) String() string {
	parts := make([]string, len(p.Exprs))
	for i, e := range p.Exprs {
		parts[i] = e.String()
		if n := p.Output.Field(i).Name; n != e.String() {
			parts[i] += " AS " + n
		}
	}
	return "Project " + strings.Join(parts, ", ")
}

func (p *Project) Open(ctx context.Context) error {
	if p.ctx == nil {
		p.ctx = ctx
	}
	return p.Input.Open(ctx)
}

func (p *Project) Next() (arrow.RecordBatch, error) {
	in, err := p.Input.Next()
	if err != nil {
		return nil, err
	}
	defer in.Release()
	cols := make([]arrow.Array, len(p.Exprs))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, e := range p.Exprs {
		if cols[i], err = Eval(p.ctx, e, in); err != nil {
			return nil, err
		}
	}
	return array.NewRecordBatch(p.Output, cols, in.NumRows()), nil
}

func (p *Project) Close() error { return p.Input.Close() }

// Limit passes on at most N rows after skipping Offset rows.
type Limit struct {
	Input     Operator
	N, Offset int64

	seen int64
	done bool
}

var _ Operator = (*Limit)(nil)

func (l *Limit) Schema() *arrow.Schema { return l.Input.Schema() }
func (l *Limit) Children() []Operator  { return []Operator{l.Input} }
func (l *Limit) String() string {
	if l.Offset > 0 {
		return fmt.Sprintf("Limit %d offset %d", l.N, l.Offset)
	}
	return fmt.Sprintf("Limit %d", l.N)
}

func (l *Limit) Open(ctx context.Context) error { return l.Input.Open(ctx) }

func (l *Limit) Next() (arrow.RecordBatch, error) {
	// The planner passes N = MaxInt64 for OFFSET without LIMIT: saturate
	// instead of overflowing Offset+N.
	stop := l.Offset + l.N
	if stop < l.Offset {
		stop = math.MaxInt64
	}
	for {
		if l.done || l.seen >= stop {
			l.done = true
			return nil, io.EOF
		}
		in, err := l.Input.Next()
		if err != nil {
			return nil, err
		}
		start, end := l.seen, l.seen+in.NumRows()
		l.seen = end
		lo := max(l.Offset-start, 0)
		hi := min(stop-start, in.NumRows())
		if lo >= hi {
			in.Release()
			continue
		}
		if lo == 0 && hi == in.NumRows() {
			return in, nil
		}
		out := in.NewSlice(lo, hi)
		in.Release()
		return out, nil
	}
}

func (l *Limit) Close() error { return l.Input.Close() }
