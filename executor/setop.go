package executor

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Concat yields the batches of each input in turn (UNION ALL). Every input
// must have Output's column types.
type Concat struct {
	Inputs []Operator
	Output *arrow.Schema

	cur int
}

var _ Operator = (*Concat)(nil)

func (c *Concat) Schema() *arrow.Schema { return c.Output }
func (c *Concat) Children() []Operator  { return c.Inputs }
func (c *Concat) String() string        { return fmt.Sprintf("Concat %d inputs", len(c.Inputs)) }

func (c *Concat) Open(ctx context.Context) error {
	for _, in := range c.Inputs {
		if err := in.Open(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (c *Concat) Next() (arrow.RecordBatch, error) {
	for c.cur < len(c.Inputs) {
		rec, err := c.Inputs[c.cur].Next()
		if err == io.EOF {
			c.cur++
			continue
		}
		if err != nil {
			return nil, err
		}
		out := array.NewRecordBatch(c.Output, rec.Columns(), rec.NumRows())
		rec.Release()
		return out, nil
	}
	return nil, io.EOF
}

func (c *Concat) Close() error {
	var errs []error
	for _, in := range c.Inputs {
		errs = append(errs, in.Close())
	}
	return errorsJoin(errs...)
}

// SetOpKind is INTERSECT or EXCEPT.
type SetOpKind int

// Set operations other than UNION.
const (
	Intersect SetOpKind = iota
	Except
)

// SetOp computes Left INTERSECT/EXCEPT [ALL] Right, comparing whole rows
// with NULLs equal, as SQL set operations do.
type SetOp struct {
	Left, Right Operator
	Kind        SetOpKind
	All         bool

	ctx     context.Context
	counts  map[string]int // right rows by key; for DISTINCT, emitted marks
	emitted map[string]bool
	built   bool
}

var _ Operator = (*SetOp)(nil)

func (s *SetOp) Schema() *arrow.Schema { return s.Left.Schema() }
func (s *SetOp) Children() []Operator  { return []Operator{s.Left, s.Right} }
func (s *SetOp) String() string {
	k := "Intersect"
	if s.Kind == Except {
		k = "Except"
	}
	if s.All {
		k += " All"
	}
	return k
}

func (s *SetOp) Open(ctx context.Context) error {
	if s.ctx != nil {
		return nil
	}
	s.ctx = ctx
	if err := s.Left.Open(ctx); err != nil {
		return err
	}
	return s.Right.Open(ctx)
}

func rowKeys(rec arrow.RecordBatch) (func(buf []byte, r int) []byte, error) {
	ws := make([]keyWriter, rec.NumCols())
	for i := range ws {
		w, err := newKeyWriter(rec.Column(i))
		if err != nil {
			return nil, err
		}
		ws[i] = w
	}
	return func(buf []byte, r int) []byte {
		for _, w := range ws {
			buf = w(buf, r)
		}
		return buf
	}, nil
}

func (s *SetOp) build() error {
	s.counts, s.emitted = map[string]int{}, map[string]bool{}
	var buf []byte
	for {
		rec, err := s.Right.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		key, err := rowKeys(rec)
		if err != nil {
			rec.Release()
			return err
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			buf = key(buf[:0], r)
			s.counts[string(buf)]++
		}
		rec.Release()
	}
}

func (s *SetOp) Next() (arrow.RecordBatch, error) {
	if !s.built {
		s.built = true
		if err := s.build(); err != nil {
			return nil, err
		}
	}
	var buf []byte
	for {
		rec, err := s.Left.Next()
		if err != nil {
			return nil, err
		}
		key, err := rowKeys(rec)
		if err != nil {
			rec.Release()
			return nil, err
		}
		var keep []int32
		for r := 0; r < int(rec.NumRows()); r++ {
			buf = key(buf[:0], r)
			k := string(buf)
			n := s.counts[k]
			var take bool
			switch {
			case s.Kind == Intersect && s.All:
				take = n > 0
				if take {
					s.counts[k] = n - 1
				}
			case s.Kind == Intersect:
				take = n > 0 && !s.emitted[k]
			case s.All: // EXCEPT ALL
				take = n == 0
				if !take {
					s.counts[k] = n - 1
				}
			default: // EXCEPT
				take = n == 0 && !s.emitted[k]
			}
			if take {
				if !s.All {
					s.emitted[k] = true
				}
				keep = append(keep, int32(r))
			}
		}
		if len(keep) == 0 {
			rec.Release()
			continue
		}
		j := &HashJoin{ctx: s.ctx, Output: rec.Schema()}
		out, err := j.takeLeft(rec, keep)
		rec.Release()
		return out, err
	}
}

func (s *SetOp) Close() error { return errorsJoin(s.Left.Close(), s.Right.Close()) }
