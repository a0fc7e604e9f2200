package planner

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/lakeflight/lakeflight/executor"
)

func TestZZProbe(t *testing.T) {
	_, ctx := newAlloc(t)
	p := demoPlanner(t)
	for _, sql := range []string{
		"EXPLAIN SELECT id FROM devices WHERE first_seen < '2026-10-15T08:00:00Z'",
		"SELECT id FROM devices WHERE first_seen < '2026-10-15T08:00:00Z'",
		"SELECT min(first_seen), max(first_seen) FROM devices",
		"SELECT id FROM devices WHERE first_seen IS NULL",
		"SELECT id FROM devices WHERE CAST(first_seen AS timestamp) < '2026-10-15T08:00:00Z'",
	} {
		q, err := p.Plan(ctx, Request{SQL: sql})
		if err != nil {
			fmt.Printf("%s\n  PLAN ERR %v\n", sql, err)
			continue
		}
		var rows []string
		err = executor.Drain(ctx, q.Operator(0, 1), func(rec arrow.RecordBatch) error {
			rows = append(rows, renderRecord(rec)...)
			return nil
		})
		if err != nil {
			fmt.Printf("%s\n  EXEC ERR %#v\n", sql, err)
		}
		if len(rows) > 4 {
			rows = rows[:4]
		}
		fmt.Printf("%s\n  %q\n", sql, rows)
	}
}
