// Package changes reads what a range of snapshots of an Iceberg table
// changed, row by row: inserts, deletes, and updates as before/after pairs
// when the table has identifier fields.
//
// For each snapshot S in the range, with parent P, it compares the data
// files live at P and at S, each with the delete files that apply to it
// there:
//   - a data file live at S only: its rows live at S are inserted;
//   - a data file live at P only: its rows live at P are deleted;
//   - a data file live at both whose delete files differ (position deletes,
//     equality deletes, deletion vectors added or removed): its rows live at
//     P and not at S are deleted.
//
// Rows deleted and inserted again unchanged by the same snapshot (a
// copy-on-write rewrite carries the untouched rows of a file over) cancel
// out. A replace snapshot (compaction) changes no row and yields nothing.
// Only the files a snapshot touched are read; the rest of the table is
// compared by its metadata.
package changes

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/lakeflight/lakeflight/catalog"
)

// Kinds of change, the values of the _change_type column.
const (
	Insert       = "insert"
	Delete       = "delete"
	UpdateBefore = "update_before"
	UpdateAfter  = "update_after"
)

// Columns added after the table's own.
const (
	ChangeTypeColumn       = "_change_type"
	CommitSnapshotIDColumn = "_commit_snapshot_id"
	CommitTimestampColumn  = "_commit_timestamp"
	ChangeOrdinalColumn    = "_change_ordinal"
)

var (
	// ErrNoSuchSnapshot means a snapshot id is not in the table's metadata
	// (never existed, or expired).
	ErrNoSuchSnapshot = errors.New("snapshot not found")
	// ErrInvalidRange means the range's start is not before its end, or not
	// one of its ancestors.
	ErrInvalidRange = errors.New("invalid snapshot range")
)

// Request names a table and a range of its snapshots.
type Request struct {
	Table *table.Table
	// From is the snapshot after which changes start (exclusive); 0 for
	// the table's first snapshot onwards (an error when it expired: the
	// changes of the oldest snapshot left need its parent).
	From int64
	// To is the last snapshot whose changes are read (inclusive); 0 for the
	// current snapshot.
	To int64
	// Net collapses the changes of the range to their net effect: per key
	// (identifier fields), the row before the range against the row after
	// it (a delete, an insert, an update pair, or nothing); without
	// identifier fields, rows inserted and deleted within the range cancel.
	// A net row carries the commit columns of the change that produced it.
	Net bool
	// Filter, when set, keeps only changed rows it may match: files are
	// pruned by it and rows tested against it (a hint: the caller filters
	// again). With identifier fields it must read only those, so that both
	// rows of an update agree.
	Filter iceberg.BooleanExpression
}

// Snapshots returns the snapshots of (From, To], oldest first. From must
// be an ancestor of To.
func Snapshots(req Request) ([]*table.Snapshot, error) {
	tbl := req.Table
	name := strings.Join(tbl.Identifier(), ".")
	var to *table.Snapshot
	if req.To == 0 {
		to = tbl.CurrentSnapshot()
		if to == nil {
			return nil, nil
		}
	} else if to = tbl.SnapshotByID(req.To); to == nil {
		return nil, fmt.Errorf("%w: snapshot %d of table %s (expired, or never existed)", ErrNoSuchSnapshot, req.To, name)
	}
	if req.From != 0 && tbl.SnapshotByID(req.From) == nil {
		return nil, fmt.Errorf("%w: snapshot %d of table %s (expired, or never existed)", ErrNoSuchSnapshot, req.From, name)
	}
	var out []*table.Snapshot
	for s := to; s != nil; {
		if s.SnapshotID == req.From {
			slices.Reverse(out)
			return out, nil
		}
		out = append(out, s)
		if s.ParentSnapshotID == nil {
			break
		}
		parent := tbl.SnapshotByID(*s.ParentSnapshotID)
		if parent == nil && req.From == 0 {
			// The changes of s are relative to a parent that is gone.
			return nil, fmt.Errorf("%w: snapshot %d, the parent of snapshot %d of table %s, expired: the changes up to snapshot %d cannot be read; start after it",
				ErrNoSuchSnapshot, *s.ParentSnapshotID, s.SnapshotID, name, s.SnapshotID)
		}
		s = parent
	}
	if req.From != 0 {
		if req.From == to.SnapshotID {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: snapshot %d is not an ancestor of snapshot %d in table %s (the start must come before the end)",
			ErrInvalidRange, req.From, to.SnapshotID, name)
	}
	slices.Reverse(out)
	return out, nil
}

// Schema is the schema of the changes of a table whose rows have schema s.
func Schema(s *arrow.Schema) *arrow.Schema {
	fields := append([]arrow.Field{}, s.Fields()...)
	fields = append(fields,
		arrow.Field{Name: ChangeTypeColumn, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: CommitSnapshotIDColumn, Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: CommitTimestampColumn, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		arrow.Field{Name: ChangeOrdinalColumn, Type: arrow.PrimitiveTypes.Int64},
	)
	return arrow.NewSchema(fields, nil)
}

// Read returns the schema of the changes (the table's schema at the end
// of the range, then the change columns) and the changes, one batch per
// snapshot with changes, in commit order; within a snapshot deletes and
// update_before rows come before inserts and update_after rows. Rows
// written under earlier schemas are read into the final one.
func Read(ctx context.Context, req Request) (*arrow.Schema, iter.Seq2[arrow.RecordBatch, error], error) {
	snaps, err := Snapshots(req)
	if err != nil {
		return nil, nil, err
	}
	tbl := req.Table
	var readOpts []table.ScanOption
	if req.To != 0 {
		readOpts = append(readOpts, table.WithSnapshotID(req.To))
	}
	if req.Filter != nil {
		readOpts = append(readOpts, table.WithRowFilter(req.Filter))
	}
	reader := tbl.Scan(readOpts...)
	proj, err := reader.Projection()
	if err != nil {
		return nil, nil, err
	}
	rowSchema, err := catalog.ArrowSchema(proj)
	if err != nil {
		return nil, nil, err
	}
	out := Schema(rowSchema)
	keys := identifierColumns(proj, rowSchema)
	if req.Net {
		return out, netSeq(ctx, tbl, reader, req.Filter, snaps, rowSchema, out, keys), nil
	}
	seq := func(yield func(arrow.RecordBatch, error) bool) {
		for ordinal, s := range snaps {
			rec, err := snapshotChanges(ctx, tbl, reader, req.Filter, s, int64(ordinal), rowSchema, out, keys)
			if err != nil {
				yield(nil, err)
				return
			}
			if rec == nil {
				continue
			}
			if !yield(rec, nil) {
				return
			}
		}
	}
	return out, seq, nil
}

// identifierColumns are the positions of the identifier fields among the
// row columns (nil when the table has none).
func identifierColumns(s *iceberg.Schema, rows *arrow.Schema) []int {
	var out []int
	for _, id := range s.IdentifierFieldIDs {
		f, ok := s.FindFieldByID(id)
		if !ok {
			return nil
		}
		idx := rows.FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil
		}
		out = append(out, idx[0])
	}
	return out
}

// planned keeps the live files of recent snapshots: a snapshot's files
// never change, so they are planned once (each snapshot of a range is the
// parent of the next, and followers read the same snapshots again).
var planned, _ = lru.New[string, map[string]table.FileScanTask](256)

// liveFiles plans the data files live at a snapshot, by path. The map is
// shared: callers must not change it.
func liveFiles(ctx context.Context, tbl *table.Table, snap *int64, filter iceberg.BooleanExpression) (map[string]table.FileScanTask, error) {
	if snap == nil {
		return map[string]table.FileScanTask{}, nil
	}
	opts := []table.ScanOption{table.WithSnapshotID(*snap)}
	key := fmt.Sprintf("%s/%d", tbl.Metadata().TableUUID(), *snap)
	if filter != nil {
		opts = append(opts, table.WithRowFilter(filter))
		key += "/" + filter.String()
	}
	if m, ok := planned.Get(key); ok {
		return m, nil
	}
	tasks, err := tbl.Scan(opts...).PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan files of %s at snapshot %d: %w", strings.Join(tbl.Identifier(), "."), *snap, err)
	}
	out := make(map[string]table.FileScanTask, len(tasks))
	for _, t := range tasks {
		path := t.File.FilePath()
		if prev, ok := out[path]; ok {
			// A file split into ranges is read whole.
			prev.Start, prev.Length = 0, 0
			out[path] = prev
			continue
		}
		t.Start, t.Length = 0, 0
		out[path] = t
	}
	planned.Add(key, out)
	return out, nil
}

// deleteSet identifies the delete files applied to a data file.
func deleteSet(t table.FileScanTask) string {
	var paths []string
	for _, group := range [][]iceberg.DataFile{t.DeleteFiles, t.EqualityDeleteFiles, t.DeletionVectorFiles} {
		for _, f := range group {
			paths = append(paths, fmt.Sprintf("%s@%d", f.FilePath(), f.ContentOffset()))
		}
	}
	slices.Sort(paths)
	return strings.Join(paths, "\n")
}

// snapshotChanges computes the changes snapshot s made to its parent.
func snapshotChanges(ctx context.Context, tbl *table.Table, reader *table.Scan, filter iceberg.BooleanExpression, s *table.Snapshot, ordinal int64,
	rowSchema, out *arrow.Schema, keys []int) (arrow.RecordBatch, error) {
	if s.Summary != nil && s.Summary.Operation == table.OpReplace {
		return nil, nil
	}
	mem := compute.GetAllocator(ctx)
	var deleted, inserted rowBag
	defer deleted.release()
	defer inserted.release()
	added, removed, ok, err := touchedFiles(ctx, tbl, s)
	if err != nil {
		return nil, err
	}
	if ok {
		// Neither snapshot has delete files: the files s added and removed
		// are the change, read from the manifests s wrote alone.
		for _, t := range removed {
			if err := readRows(ctx, reader, t, rowSchema, &deleted); err != nil {
				return nil, err
			}
		}
		for _, t := range added {
			if err := readRows(ctx, reader, t, rowSchema, &inserted); err != nil {
				return nil, err
			}
		}
	} else if err := diffPlans(ctx, tbl, reader, filter, s, rowSchema, &deleted, &inserted); err != nil {
		return nil, err
	}
	// Rows a rewrite carried over unchanged are not changes.
	deleted.cancel(&inserted)
	if deleted.len() == 0 && inserted.len() == 0 {
		return nil, nil
	}
	return assemble(mem, s, ordinal, rowSchema, out, keys, &deleted, &inserted)
}

// diffPlans compares the live files of s and its parent, each with the
// delete files that apply to it, and reads the rows of the files that
// differ.
func diffPlans(ctx context.Context, tbl *table.Table, reader *table.Scan, filter iceberg.BooleanExpression, s *table.Snapshot, rowSchema *arrow.Schema, deleted, inserted *rowBag) error {
	before, err := liveFiles(ctx, tbl, s.ParentSnapshotID, filter)
	if err != nil {
		return err
	}
	after, err := liveFiles(ctx, tbl, &s.SnapshotID, filter)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(before)+len(after))
	for p := range before {
		paths = append(paths, p)
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		b, inBefore := before[p]
		a, inAfter := after[p]
		switch {
		case inBefore && !inAfter:
			if err := readRows(ctx, reader, b, rowSchema, deleted); err != nil {
				return err
			}
		case inAfter && !inBefore:
			if err := readRows(ctx, reader, a, rowSchema, inserted); err != nil {
				return err
			}
		case deleteSet(a) != deleteSet(b):
			var was, is rowBag
			defer was.release()
			defer is.release()
			if err := readRows(ctx, reader, b, rowSchema, &was); err != nil {
				return err
			}
			if err := readRows(ctx, reader, a, rowSchema, &is); err != nil {
				return err
			}
			// Rows live before and not after were deleted; rows live after
			// and not before (delete files removed) came back.
			was.cancel(&is)
			deleted.addAll(&was)
			inserted.addAll(&is)
		}
	}
	return nil
}

// noDeleteFiles reports whether a snapshot's summary says the table had no
// delete files.
func noDeleteFiles(s *table.Snapshot) bool {
	if s == nil || s.Summary == nil {
		return false
	}
	v, ok := s.Summary.Properties["total-delete-files"]
	return ok && v == "0"
}

// touchedFiles lists the data files snapshot s added and removed, from the
// entries of the manifests s wrote, when neither s nor its parent has
// delete files; ok is false otherwise (deletes make the live rows of a file
// depend on more than the file).
func touchedFiles(ctx context.Context, tbl *table.Table, s *table.Snapshot) (added, removed []table.FileScanTask, ok bool, err error) {
	if !noDeleteFiles(s) {
		return nil, nil, false, nil
	}
	if s.ParentSnapshotID != nil && !noDeleteFiles(tbl.SnapshotByID(*s.ParentSnapshotID)) {
		return nil, nil, false, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	manifests, err := s.Manifests(fs)
	if err != nil {
		return nil, nil, false, fmt.Errorf("manifests of snapshot %d: %w", s.SnapshotID, err)
	}
	for _, m := range manifests {
		if m.SnapshotID() != s.SnapshotID {
			continue // written by an earlier snapshot: nothing of s's in it
		}
		if m.ManifestContent() != iceberg.ManifestContentData {
			return nil, nil, false, nil
		}
		entries, err := m.FetchEntries(fs, false)
		if err != nil {
			return nil, nil, false, fmt.Errorf("manifest %s: %w", m.FilePath(), err)
		}
		for _, e := range entries {
			if e.SnapshotID() != s.SnapshotID {
				continue
			}
			switch e.Status() {
			case iceberg.EntryStatusADDED:
				added = append(added, table.FileScanTask{File: e.DataFile()})
			case iceberg.EntryStatusDELETED:
				removed = append(removed, table.FileScanTask{File: e.DataFile()})
			}
		}
	}
	return added, removed, true, nil
}

// readRows reads the rows of one data file live under its delete files.
func readRows(ctx context.Context, reader *table.Scan, task table.FileScanTask, rowSchema *arrow.Schema, bag *rowBag) error {
	_, seq, err := reader.ReadTasks(ctx, []table.FileScanTask{task})
	if err != nil {
		return fmt.Errorf("read %s: %w", task.File.FilePath(), err)
	}
	for rec, err := range seq {
		if err != nil {
			if rec != nil {
				rec.Release()
			}
			return fmt.Errorf("read %s: %w", task.File.FilePath(), err)
		}
		bag.add(rec, rowSchema)
		rec.Release()
	}
	return nil
}
