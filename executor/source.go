package executor

import (
	"context"
	"io"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
)

// Source streams the batches of a relation computed outside the operator
// tree (the row changes of a table). Read is called once, at Open, under
// the operator's context; batches of another schema are an error of the
// producer.
type Source struct {
	Output *arrow.Schema
	Label  string
	Read   func(ctx context.Context) (iter.Seq2[arrow.RecordBatch, error], error)

	opened bool
	done   bool
	next   func() (arrow.RecordBatch, error, bool)
	stop   func()
}

var _ Operator = (*Source)(nil)

func (s *Source) Schema() *arrow.Schema { return s.Output }
func (s *Source) Children() []Operator  { return nil }
func (s *Source) String() string        { return s.Label }

func (s *Source) Open(ctx context.Context) error {
	if s.opened {
		return nil
	}
	s.opened = true
	seq, err := s.Read(ctx)
	if err != nil {
		return err
	}
	s.next, s.stop = iter.Pull2(seq)
	return nil
}

func (s *Source) Next() (arrow.RecordBatch, error) {
	for !s.done && s.next != nil {
		rec, err, ok := s.next()
		switch {
		case !ok:
			s.done = true
		case err != nil:
			if rec != nil {
				rec.Release()
			}
			s.done = true
			return nil, err
		case rec.NumRows() == 0:
			rec.Release()
		default:
			return rec, nil
		}
	}
	return nil, io.EOF
}

func (s *Source) Close() error {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
	return nil
}
