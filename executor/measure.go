package executor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeflight/lakeflight/scan"
)

// Measured wraps an operator and counts what it yields, for EXPLAIN
// ANALYZE. Time includes the operator's children.
type Measured struct {
	Op      Operator
	Rows    int64
	Batches int64
	Elapsed time.Duration
	Bytes   int64
}

var _ Operator = (*Measured)(nil)

func (m *Measured) Schema() *arrow.Schema { return m.Op.Schema() }
func (m *Measured) Children() []Operator  { return m.Op.Children() }
func (m *Measured) String() string {
	s := fmt.Sprintf("%s  (rows=%d batches=%d bytes=%d time=%s)", m.Op.String(), m.Rows, m.Batches, m.Bytes, m.Elapsed.Round(time.Microsecond))
	if a, ok := m.Op.(analyzer); ok {
		s += " " + a.Analyze()
	}
	return s
}

// analyzer is implemented by operators with figures of their own for
// EXPLAIN ANALYZE (a Scan's files, row groups and bytes read and skipped),
// readable after Close.
type analyzer interface {
	Analyze() string
}

func (m *Measured) Open(ctx context.Context) error {
	start := time.Now()
	err := m.Op.Open(ctx)
	m.Elapsed += time.Since(start)
	return err
}

func (m *Measured) Next() (arrow.RecordBatch, error) {
	start := time.Now()
	rec, err := m.Op.Next()
	m.Elapsed += time.Since(start)
	if err == nil {
		m.Rows += rec.NumRows()
		m.Batches++
		m.Bytes += recordBytes(rec)
	}
	return rec, err
}

func (m *Measured) Close() error { return m.Op.Close() }

// ExplainAnalyze runs a plan to the end, discarding its rows, and yields
// the plan annotated with what each operator produced, one line per row.
type ExplainAnalyze struct {
	Plan   Operator // built with Measured operators
	Output *arrow.Schema

	ctx  context.Context
	done bool
}

var _ Operator = (*ExplainAnalyze)(nil)

func (e *ExplainAnalyze) Schema() *arrow.Schema { return e.Output }
func (e *ExplainAnalyze) Children() []Operator  { return nil }
func (e *ExplainAnalyze) String() string        { return "ExplainAnalyze" }

func (e *ExplainAnalyze) Open(ctx context.Context) error {
	if e.ctx == nil {
		e.ctx = ctx
	}
	return nil
}

func (e *ExplainAnalyze) Next() (arrow.RecordBatch, error) {
	if e.done {
		return nil, io.EOF
	}
	e.done = true
	start := time.Now()
	var rows int64
	if err := Drain(e.ctx, e.Plan, func(rec arrow.RecordBatch) error {
		rows += rec.NumRows()
		return nil
	}); err != nil {
		return nil, err
	}
	text := Explain(e.Plan)
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	total := fmt.Sprintf("total: rows=%d time=%s", rows, time.Since(start).Round(time.Microsecond))
	if b, _ := e.ctx.Value(budgetKey{}).(*Budget); b != nil {
		total += " peak_memory=" + formatBytes(b.Peak())
	}
	lines = append(lines, total)
	b := array.NewStringBuilder(allocator(e.ctx))
	defer b.Release()
	b.AppendValues(lines, nil)
	col := b.NewArray()
	defer col.Release()
	return array.NewRecordBatch(e.Output, []arrow.Array{col}, int64(len(lines))), nil
}

func (e *ExplainAnalyze) Close() error { return nil }

// recordBytes is the size of a batch's buffers.
func recordBytes(rec arrow.RecordBatch) int64 { return scan.BatchBytes(rec, false) }

// heldMemory tracks the most memory an operator held at once: the batches
// it kept plus what it reserved for hash tables and accumulators.
type heldMemory struct{ now, peak int64 }

func (h *heldMemory) add(n int64) {
	h.now += n
	h.peak = max(h.peak, h.now)
}

// Analyze reports the peak for EXPLAIN ANALYZE.
func (h *heldMemory) Analyze() string { return "memory=" + formatBytes(h.peak) }

// formatBytes renders a byte count for people.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
