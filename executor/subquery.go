package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// ErrScalarSubquery means a scalar subquery returned more than one row.
var ErrScalarSubquery = errors.New("more than one row returned by a subquery used as an expression")

// ScalarSubquery is an uncorrelated subquery used as a value. It runs its
// plan the first time it is evaluated and keeps the value (NULL for no
// rows); plans read pinned snapshots, so the value cannot change.
type ScalarSubquery struct {
	Build func() Operator
	Type  arrow.DataType
	Text  string

	once sync.Once
	val  scalar.Scalar
	err  error
}

func (s *ScalarSubquery) DataType() arrow.DataType { return s.Type }
func (s *ScalarSubquery) String() string           { return "(" + s.Text + ")" }

func (s *ScalarSubquery) value(ctx context.Context) (scalar.Scalar, error) {
	s.once.Do(func() {
		s.val = scalar.MakeNullScalar(s.Type)
		rows := 0
		s.err = Drain(ctx, s.Build(), func(rec arrow.RecordBatch) error {
			rows += int(rec.NumRows())
			if rows > 1 {
				return fmt.Errorf("%w: %s", ErrScalarSubquery, s.Text)
			}
			v, err := scalar.GetScalar(rec.Column(0), 0)
			if err != nil {
				return err
			}
			// Keep no reference to the batch's buffers.
			switch x := v.(type) {
			case *scalar.String:
				v = scalar.NewStringScalar(x.String())
				x.Release()
			case *scalar.Binary:
				v = scalar.NewBinaryScalar(memory.NewBufferBytes(append([]byte(nil), x.Data()...)), x.Type)
				x.Release()
			}
			s.val = v
			return nil
		})
	})
	return s.val, s.err
}

func evalScalarSubquery(ctx context.Context, s *ScalarSubquery) (compute.Datum, error) {
	v, err := s.value(ctx)
	if err != nil {
		return nil, err
	}
	return compute.NewDatum(v), nil
}
