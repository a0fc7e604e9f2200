package executor

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
)

// Materialized is a relation computed once and read by several operators:
// a common table expression that a statement reads more than once. The
// first reader to ask for rows runs the plan to the end and keeps its
// batches; every reader then yields them all. The batches are released when
// the last reader that asked for rows closes; a reader that asks after that
// runs the plan again. Readers that are built but never read hold nothing.
type Materialized struct {
	Build  func() Operator
	Output *arrow.Schema
	Label  string

	mu      sync.Mutex
	op      Operator // the plan last built (shown under the first reader)
	ran     bool     // op has run: a new fill builds a new one
	built   int      // readers made, so the first one shows the plan
	readers int
	filled  bool
	batches []arrow.RecordBatch
	err     error
}

// Reader returns a new reader of m.
func (m *Materialized) Reader() *SharedRead {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.built++
	return &SharedRead{M: m, first: m.built == 1}
}

// plan is the operator tree the next fill runs.
func (m *Materialized) plan() Operator {
	if m.op == nil {
		m.op = m.Build()
	}
	return m.op
}

// fill registers a reader and runs the plan once, under the first
// caller's context.
func (m *Materialized) fill(ctx context.Context) ([]arrow.RecordBatch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readers++
	if !m.filled {
		m.filled = true
		if m.ran {
			m.op = nil
		}
		m.ran = true
		m.err = Drain(ctx, m.plan(), func(rec arrow.RecordBatch) error {
			rec.Retain()
			m.batches = append(m.batches, rec)
			return checkMemory(ctx, "a WITH query read more than once")
		})
	}
	return m.batches, m.err
}

// done is a reader's Close: the last one releases the batches.
func (m *Materialized) done() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readers--
	if m.readers > 0 {
		return
	}
	for _, b := range m.batches {
		b.Release()
	}
	m.batches, m.filled, m.err = nil, false, nil
}

// SharedRead yields the batches of a Materialized relation.
type SharedRead struct {
	M *Materialized

	ctx     context.Context
	batches []arrow.RecordBatch
	got     bool
	pos     int
	closed  bool
	first   bool
}

var _ Operator = (*SharedRead)(nil)

func (s *SharedRead) Schema() *arrow.Schema { return s.M.Output }
func (s *SharedRead) Children() []Operator {
	if !s.first {
		return nil
	}
	s.M.mu.Lock()
	defer s.M.mu.Unlock()
	return []Operator{s.M.plan()}
}
func (s *SharedRead) String() string {
	if s.first {
		return fmt.Sprintf("Shared %s (computed once, read by every reference)", s.M.Label)
	}
	return fmt.Sprintf("Shared %s (see above)", s.M.Label)
}

func (s *SharedRead) Open(ctx context.Context) error {
	if s.ctx == nil {
		s.ctx = ctx
	}
	return nil
}

func (s *SharedRead) Next() (arrow.RecordBatch, error) {
	if s.closed {
		return nil, io.EOF
	}
	if !s.got {
		s.got = true
		var err error
		if s.batches, err = s.M.fill(s.ctx); err != nil {
			return nil, err
		}
	}
	if s.pos >= len(s.batches) {
		return nil, io.EOF
	}
	b := s.batches[s.pos]
	s.pos++
	b.Retain()
	return b, nil
}

func (s *SharedRead) Close() error {
	if !s.closed {
		s.closed = true
		if s.got {
			s.M.done()
		}
	}
	return nil
}
