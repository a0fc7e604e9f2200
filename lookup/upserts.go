package lookup

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// upsert is what one snapshot did to a keyed table when all it did was add
// data files and equality deletes on the key (how streaming writers commit
// upserts): the deleted keys, then the inserted rows. Equality deletes of
// a snapshot do not apply to its own data files, so the deletes go first.
type upsert struct {
	snapshot int64
	deletes  []table.FileScanTask // equality delete files, read for their keys
	inserts  []table.FileScanTask // data files
}

// upsertsSince lists the upserts from snapshot from (exclusive) to to, in
// commit order; ok is false when a snapshot between did anything else
// (removed files, position deletes, deletes on other columns), or when
// from is not an ancestor of to.
func upsertsSince(ctx context.Context, tbl *table.Table, from, to int64) (_ []upsert, ok bool, _ error) {
	keyIDs := slices.Clone(tbl.Schema().IdentifierFieldIDs)
	slices.Sort(keyIDs)
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, false, err
	}
	var out []upsert
	for id := to; id != from; {
		s := tbl.Metadata().SnapshotByID(id)
		if s == nil {
			return nil, false, nil
		}
		u := upsert{snapshot: id}
		manifests, err := s.Manifests(fs)
		if err != nil {
			return nil, false, fmt.Errorf("manifests of snapshot %d: %w", id, err)
		}
		for _, m := range manifests {
			if m.SnapshotID() != id {
				continue
			}
			entries, err := m.FetchEntries(fs, false)
			if err != nil {
				return nil, false, fmt.Errorf("manifest %s: %w", m.FilePath(), err)
			}
			for _, e := range entries {
				if e.SnapshotID() != id {
					continue
				}
				if e.Status() != iceberg.EntryStatusADDED {
					return nil, false, nil
				}
				df := e.DataFile()
				switch df.ContentType() {
				case iceberg.EntryContentData:
					u.inserts = append(u.inserts, table.FileScanTask{File: df, Start: 0, Length: df.FileSizeBytes()})
				case iceberg.EntryContentEqDeletes:
					eq := slices.Clone(df.EqualityFieldIDs())
					slices.Sort(eq)
					if !slices.Equal(eq, keyIDs) {
						return nil, false, nil
					}
					u.deletes = append(u.deletes, table.FileScanTask{File: df, Start: 0, Length: df.FileSizeBytes()})
				default:
					return nil, false, nil
				}
			}
		}
		out = append(out, u)
		if s.ParentSnapshotID == nil {
			if from != 0 {
				return nil, false, nil
			}
			break
		}
		id = *s.ParentSnapshotID
	}
	slices.Reverse(out)
	return out, true, nil
}

// applyUpserts applies upserts to the overlay of next: the keys of each
// equality delete file become deleted, the rows of each data file live.
func (ix *Index) applyUpserts(ctx context.Context, tbl *table.Table, next *Index, ups []upsert) error {
	var keyNames []string
	for _, c := range ix.keyCols {
		keyNames = append(keyNames, ix.schema.Field(c).Name)
	}
	keysOnly := tbl.Scan(table.WithSnapshotID(next.snapshot), table.WithSelectedFields(keyNames...))
	whole := tbl.Scan(table.WithSnapshotID(next.snapshot))
	mem := compute.GetAllocator(ctx)
	for _, u := range ups {
		if len(u.deletes) > 0 {
			_, seq, err := keysOnly.ReadTasks(ctx, u.deletes)
			if err != nil {
				return err
			}
			for rec, err := range seq {
				if err != nil {
					return err
				}
				// A row of the table's layout holding just the key, so the
				// overlay can find the deleted key again.
				cols := make([]arrow.Array, ix.schema.NumFields())
				for i, f := range ix.schema.Fields() {
					if at := slices.Index(ix.keyCols, i); at >= 0 {
						cols[i] = rec.Column(at)
						cols[i].Retain()
					} else {
						cols[i] = array.MakeArrayOfNull(mem, f.Type, int(rec.NumRows()))
					}
				}
				row := array.NewRecordBatch(ix.schema, cols, rec.NumRows())
				for _, c := range cols {
					c.Release()
				}
				rec.Release()
				b := next.overlay.keep(row)
				for i := range int(row.NumRows()) {
					next.overlay.set(b, i, true)
				}
			}
		}
		if len(u.inserts) > 0 {
			_, seq, err := whole.ReadTasks(ctx, u.inserts)
			if err != nil {
				return err
			}
			for rec, err := range seq {
				if err != nil {
					return err
				}
				row := conform(rec, ix.schema)
				rec.Release()
				b := next.overlay.keep(row)
				for i := range int(row.NumRows()) {
					next.overlay.set(b, i, false)
				}
			}
		}
	}
	return nil
}

// upsertKeys calls fn with batches of the keys the upserts touched (the
// key columns, in key order, at positions 0..k-1).
func upsertKeys(ctx context.Context, tbl *table.Table, to int64, keyNames []string, ups []upsert, fn func(arrow.RecordBatch)) error {
	keysOnly := tbl.Scan(table.WithSnapshotID(to), table.WithSelectedFields(keyNames...))
	for _, u := range ups {
		tasks := append(slices.Clone(u.deletes), u.inserts...)
		if len(tasks) == 0 {
			continue
		}
		_, seq, err := keysOnly.ReadTasks(ctx, tasks)
		if err != nil {
			return err
		}
		for rec, err := range seq {
			if err != nil {
				return err
			}
			fn(keyOrder(rec, keyNames))
			rec.Release()
		}
	}
	return nil
}

// keyOrder views rec's key columns in key order.
func keyOrder(rec arrow.RecordBatch, keyNames []string) arrow.RecordBatch {
	cols := make([]arrow.Array, len(keyNames))
	fields := make([]arrow.Field, len(keyNames))
	for i, n := range keyNames {
		at := rec.Schema().FieldIndices(n)[0]
		cols[i] = rec.Column(at)
		fields[i] = rec.Schema().Field(at)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}
