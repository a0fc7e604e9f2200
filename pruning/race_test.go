package pruning_test

import (
	"sync"
	"testing"

	"github.com/apache/iceberg-go"

	"github.com/lakeflight/lakeflight/expr"
	"github.com/lakeflight/lakeflight/pruning"
)

// row is a StructLike over the columns a, s of the test schema.
type row []any

func (r row) Size() int          { return len(r) }
func (r row) Get(pos int) any    { return r[pos] }
func (r row) Set(pos int, v any) { r[pos] = v }

// TestConcurrentTranslate shares one filter expression and one Iceberg
// evaluator built from its translation between 8 goroutines (run with
// -race): expressions are immutable and translation is pure.
func TestConcurrentTranslate(t *testing.T) {
	filter := and(
		cmp(a, expr.Gt, lit(1)),
		or(in(s, lit("x"), lit("y")), &expr.IsNull{X: s}),
		not(cmp(b, expr.Eq, lit(3))),
		like(s, "x%"),
		cmp(f, expr.Lt, lit(2.5)),
	)
	want := pruning.Translate(filter)
	wantFilter, wantResidual := canonical(want.Filter.String()), want.Residual.String()

	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "a", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 2, Name: "s", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "b", Type: iceberg.PrimitiveTypes.Int64},
	)
	// The pushed part of the filter, without the float conjunct.
	eval, err := iceberg.ExpressionEvaluator(sc, want.Filter, true)
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		r    row
		want bool
	}{
		{row{int64(2), "x", int64(4)}, true},
		{row{int64(2), "xa", int64(4)}, false}, // s not in (x, y) and not NULL
		{row{int64(1), "x", int64(4)}, false},  // a > 1 fails
		{row{int64(5), "y", int64(4)}, false},  // s LIKE 'x%' fails
		{row{int64(5), "x", int64(3)}, false},  // b <> 3 fails
	}
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan string, workers*100)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 50; k++ {
				got := pruning.Translate(filter)
				if g := canonical(got.Filter.String()); g != wantFilter {
					errs <- "filter " + g
				}
				if got.Residual.String() != wantResidual || got.Handled != want.Handled {
					errs <- "residual " + got.Residual.String()
				}
				for _, r := range rows {
					ok, err := eval(r.r)
					if err != nil {
						errs <- err.Error()
					} else if ok != r.want {
						errs <- "evaluator disagrees"
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
