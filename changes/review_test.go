package changes_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/changes"
)

// TestParentExpired reads the whole history of a table whose first
// snapshots were expired: the oldest snapshot left has no parent to
// compare with, which is a not-found error, not an internal one.
func TestParentExpired(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	for i := range 3 {
		h.commit(t, "append", func(tx *table.Transaction) error {
			return tx.AppendTable(ctx, rowsTable(t, []int64{int64(i)}, []string{"x"}), 10, nil)
		})
	}
	h.commit(t, "merge-on-read", func(tx *table.Transaction) error {
		return tx.SetProperties(iceberg.Properties{table.WriteDeleteModeKey: table.WriteModeMergeOnRead})
	})
	h.commit(t, "expire", func(tx *table.Transaction) error {
		return tx.ExpireSnapshots(table.WithRetainLast(2), table.WithOlderThan(0), table.WithPostCommit(false))
	})
	tbl := h.load(t)
	if n := len(tbl.Metadata().Snapshots()); n != 2 {
		t.Fatalf("%d snapshots after expiry", n)
	}
	_, _, err := changes.Read(ctx, changes.Request{Table: tbl})
	if !errors.Is(err, changes.ErrNoSuchSnapshot) {
		t.Fatalf("whole history of a table whose first snapshots expired: %v, want ErrNoSuchSnapshot", err)
	}
	oldest := tbl.Metadata().Snapshots()[0].SnapshotID
	var got []string
	for _, c := range readChanges(t, ctx, tbl, oldest, 0) {
		got = append(got, c.kind+" "+c.row)
	}
	if !slices.Equal(got, []string{"insert 2|x"}) {
		t.Errorf("changes %v, want [insert 2|x]", got)
	}
}
