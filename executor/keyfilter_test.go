package executor_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// countingOp counts the rows that pass through it.
type countingOp struct {
	executor.Operator
	rows int64
}

func (c *countingOp) Next() (arrow.RecordBatch, error) {
	b, err := c.Operator.Next()
	if err == nil {
		c.rows += b.NumRows()
	}
	return b, err
}

// A join that publishes its left keys gives the same rows as one that does
// not, while a KeyFilter in its right input passes only rows whose keys
// some left row has.
func TestPublishedKeysFilterTheRightSide(t *testing.T) {
	for _, jt := range []executor.JoinType{executor.InnerJoin, executor.LeftJoin, executor.SemiJoin, executor.AntiJoin} {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", jt, workers), func(t *testing.T) {
				mem, ctx := newAlloc(t)
				// Few left rows, many right ones: keys a and s.
				left := buildRecord(mem, genRows(12, 31, true))
				defer left.Release()
				right := buildRecord(mem, genRows(3000, 32, true))
				defer right.Release()
				keys := []expr.Expr{colA, colS}
				out := arrow.NewSchema(append(append([]arrow.Field{}, testSchema.Fields()...), testSchema.Fields()...), nil)
				if jt == executor.SemiJoin || jt == executor.AntiJoin {
					out = testSchema
				}
				run := func(publish bool) ([]string, int64) {
					var r executor.Operator = newSource(testSchema, cut(right, 100)...)
					var set *executor.KeySet
					if publish {
						set = executor.NewKeySet()
						r = &executor.KeyFilter{Input: r, Keys: keys, Set: set}
					}
					counted := &countingOp{Operator: r}
					j := &executor.HashJoin{Left: newSource(testSchema, cut(left, 5)...), Right: counted, Type: jt,
						LeftKeys: keys, RightKeys: keys, Output: out, Workers: workers, Publish: set}
					return drainCanonical(t, ctx, j), counted.rows
				}
				plain, all := run(false)
				filtered, kept := run(true)
				if !slices.Equal(plain, filtered) {
					t.Errorf("with published keys the join gives %d rows, without %d (or they differ)", len(filtered), len(plain))
				}
				if all != right.NumRows() || kept == 0 || kept >= all/4 {
					t.Errorf("right side passed %d of %d rows with the key filter; want some, and far fewer", kept, all)
				}
			})
		}
	}
}
