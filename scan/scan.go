package scan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/lakeflight/lakeflight/catalog"
)

// Request describes one scan of one table at one snapshot.
type Request struct {
	// Table is the loaded table. Required.
	Table *table.Table
	// SnapshotID pins the snapshot to read; 0 reads the table's current
	// snapshot (and Plan records which one that was).
	SnapshotID int64
	// Fields are the column paths to read (top-level names, or dotted paths
	// into structs for nested pruning). Nil reads every column.
	Fields []string
	// Filter is pushed into Iceberg planning and reading; nil for none.
	Filter iceberg.BooleanExpression
	// PruneOnly uses Filter to skip what it proves holds no match: files,
	// row groups, pages, and the rows late materialization finds do not
	// match in runs long enough to skip. The other rows read are not
	// tested, because the caller filters them itself (tasks read through
	// iceberg-go are still filtered by it).
	PruneOnly bool
	// Limit stops reading after that many rows; 0 for no limit.
	Limit int64
	// BatchSize is the Arrow batch size in rows; 0 for iceberg-go's default.
	BatchSize int
	// Concurrency is the number of files decoded at once; 0 for 2.
	Concurrency int
	// Fetch says how column chunks are fetched from storage; zero fields
	// take DefaultFetchOptions' values.
	Fetch FetchOptions
}

// Plan is a planned scan: the files to read and the schema of the batches.
// A Plan is immutable once built and may be read by several goroutines, each
// reading its own part.
type Plan struct {
	req Request
	// scan reads the tasks iceberg-go reads (see Open).
	scan       *table.Scan
	tasks      []table.FileScanTask
	schema     *arrow.Schema
	snapshotID int64
	// native reads Parquet files without iceberg-go; nil when the
	// projection holds types only iceberg-go reads.
	native *nativePlan
	// Stats about planning.
	Stats Stats
}

// Stats are the figures of a planned scan, for EXPLAIN and metrics.
type Stats struct {
	// DataFiles is the number of file scan tasks planned, DeleteFiles the
	// delete files they apply, RecordCount and FileBytes the records and
	// bytes of their data files.
	DataFiles   int
	DeleteFiles int
	RecordCount int64
	FileBytes   int64
	// TotalDataFiles is the number of data files in the snapshot (from its
	// summary; 0 when the summary does not say): DataFiles of them were
	// kept by partition and file statistics.
	TotalDataFiles int64
	// TableBytes is the size of all data files of the snapshot (from its
	// summary; 0 when the summary does not say).
	TableBytes int64
}

// plans keeps recent plans. A table's metadata file never changes once
// written, so a plan keyed by it (and by the request) stays right; it is
// shared, as Plans are immutable. Planning reads the manifests, which a
// statement otherwise does for each of its Flight calls (prepare, flight
// info, each ticket).
var plans, _ = lru.New[string, *Plan](256)

// NewPlan plans req: it resolves the snapshot, prunes partitions and files
// with the filter and lists the file scan tasks. Plans of the same table
// metadata and request are reused.
func NewPlan(ctx context.Context, req Request) (*Plan, error) {
	if req.Table == nil {
		return nil, errors.New("scan: no table")
	}
	key := planKey(req)
	if key != "" {
		if p, ok := plans.Get(key); ok {
			return p, nil
		}
	}
	p, err := newPlan(ctx, req)
	if err == nil && key != "" {
		plans.Add(key, p)
	}
	return p, err
}

// planKey identifies a request by the table's metadata file; "" when the
// table has none (it cannot be cached).
func planKey(req Request) string {
	loc := req.Table.MetadataLocation()
	if loc == "" {
		return ""
	}
	filter := ""
	if req.Filter != nil {
		filter = req.Filter.String()
	}
	return fmt.Sprintf("%s\x00%d\x00%s\x00%q\x00%d\x00%d\x00%d\x00%t\x00%v", loc, req.SnapshotID, filter, req.Fields,
		req.Limit, req.BatchSize, req.Concurrency, req.PruneOnly, req.Fetch)
}

func newPlan(ctx context.Context, req Request) (*Plan, error) {
	fetch, err := req.Fetch.withDefaults()
	if err != nil {
		return nil, err
	}
	opts := []table.ScanOption{table.WithCaseSensitive(true)}
	if req.Filter != nil {
		opts = append(opts, table.WithRowFilter(req.Filter))
	}
	if req.SnapshotID != 0 {
		opts = append(opts, table.WithSnapshotID(req.SnapshotID))
	}
	if req.Limit > 0 {
		opts = append(opts, table.WithLimit(req.Limit))
	}
	if req.BatchSize > 0 {
		opts = append(opts, table.WithArrowBatchSize(req.BatchSize))
	}
	conc := req.Concurrency
	if conc <= 0 {
		conc = 2
	}
	opts = append(opts, table.WithMaxConcurrency(conc))
	// The scan that reads. iceberg-go 0.7 evaluates a row filter against the
	// wrong column of a projection that leaves out nested columns (silently
	// wrong rows, or an "invalid" error): with a filter on a table that has
	// nested columns it reads every column, and the Reader keeps the
	// selected ones.
	read := req.Table.Scan(opts...)
	if req.Fields != nil {
		opts = append(opts, table.WithSelectedFields(req.Fields...))
	}
	sc := req.Table.Scan(opts...)
	if req.Fields == nil || req.Filter == nil || req.Filter.Equals(iceberg.AlwaysTrue{}) || !hasNestedColumn(req.Table.Schema()) {
		read = sc
	}
	p := &Plan{req: req, scan: read}
	if snap := sc.Snapshot(); snap != nil {
		p.snapshotID = snap.SnapshotID
		if snap.Summary != nil {
			p.Stats.TotalDataFiles, _ = strconv.ParseInt(snap.Summary.Properties["total-data-files"], 10, 64)
			p.Stats.TableBytes, _ = strconv.ParseInt(snap.Summary.Properties["total-files-size"], 10, 64)
		}
	} else if req.SnapshotID != 0 {
		return nil, fmt.Errorf("%w: snapshot %d of table %s", ErrNoSuchSnapshot, req.SnapshotID, strings.Join(req.Table.Identifier(), "."))
	}
	proj, err := sc.Projection()
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", strings.Join(req.Table.Identifier(), "."), err)
	}
	p.schema, err = catalog.ArrowSchema(proj)
	if err != nil {
		return nil, err
	}
	// The schema filters and residuals bind to: the snapshot's, or the
	// table's current one (a scan selecting every column projects it).
	snapOpts := []table.ScanOption{table.WithCaseSensitive(true)}
	if req.SnapshotID != 0 {
		snapOpts = append(snapOpts, table.WithSnapshotID(req.SnapshotID))
	}
	if effective, err := req.Table.Scan(snapOpts...).Projection(); err == nil {
		// A filter that does not bind is left to iceberg-go to report.
		p.native, _ = newNativePlan(req.Table, effective, proj, req.Filter, req.BatchSize)
		if p.native != nil {
			p.native.pruneOnly = req.PruneOnly
			p.native.fetch = fetch
		}
	}
	if p.snapshotID != 0 {
		tasks, ok, err := prunedFromWhole(ctx, req, p.snapshotID)
		if err == nil && !ok {
			tasks, err = sc.PlanFiles(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("plan files of %s: %w", strings.Join(req.Table.Identifier(), "."), err)
		}
		p.tasks = tasks
	}
	// A stable order makes partitioning across endpoints deterministic.
	slices.SortFunc(p.tasks, func(a, b table.FileScanTask) int {
		if c := strings.Compare(a.File.FilePath(), b.File.FilePath()); c != 0 {
			return c
		}
		return int(a.Start - b.Start)
	})
	for _, t := range p.tasks {
		p.Stats.DataFiles++
		p.Stats.DeleteFiles += len(t.DeleteFiles) + len(t.EqualityDeleteFiles) + len(t.DeletionVectorFiles)
		p.Stats.RecordCount += t.File.Count()
		p.Stats.FileBytes += t.File.FileSizeBytes()
	}
	return p, nil
}

// ErrNoSuchSnapshot means a pinned snapshot is not in the table's metadata.
var ErrNoSuchSnapshot = errors.New("snapshot not found")

// Schema is the Arrow schema of the batches the plan yields.
func (p *Plan) Schema() *arrow.Schema { return p.schema }

// SnapshotID is the snapshot the plan reads; 0 for a table without snapshots.
func (p *Plan) SnapshotID() int64 { return p.snapshotID }

// NumTasks is the number of file scan tasks.
func (p *Plan) NumTasks() int { return len(p.tasks) }

// Part returns the tasks of part i of n (round robin over the sorted tasks).
func (p *Plan) Part(i, n int) []table.FileScanTask {
	if n <= 1 {
		return p.tasks
	}
	var out []table.FileScanTask
	for j := i; j < len(p.tasks); j += n {
		out = append(out, p.tasks[j])
	}
	return out
}

func hasNestedColumn(sc *iceberg.Schema) bool {
	for _, f := range sc.Fields() {
		if _, ok := f.Type.(iceberg.NestedType); ok {
			return true
		}
	}
	return false
}

// normalize rebuilds rec on schema: the columns of schema, found by name
// (rec may hold more), struct children narrowed to schema's and extension
// types unwrapped. It takes ownership of rec.
func normalize(rec arrow.RecordBatch, schema *arrow.Schema) arrow.RecordBatch {
	if rec.Schema().Equal(schema) {
		return rec
	}
	cols := make([]arrow.Array, schema.NumFields())
	for i, f := range schema.Fields() {
		j := i
		if int(rec.NumCols()) != len(cols) || rec.Schema().Field(i).Name != f.Name {
			if idx := rec.Schema().FieldIndices(f.Name); len(idx) > 0 {
				j = idx[0]
			}
		}
		cols[i] = unwrap(rec.Column(j), f.Type)
	}
	out := array.NewRecordBatch(schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	rec.Release()
	return out
}

// unwrap returns a new reference to a, viewed as type t (same layout with
// extension types stripped).
func unwrap(a arrow.Array, t arrow.DataType) arrow.Array {
	if arrow.TypeEqual(a.DataType(), t) {
		a.Retain()
		return a
	}
	data := rebuildData(a.Data(), t)
	defer data.Release()
	return array.MakeFromData(data)
}

func rebuildData(d arrow.ArrayData, t arrow.DataType) arrow.ArrayData {
	children := d.Children()
	if dt, ok := t.(*arrow.StructType); ok {
		// Children by name: the data may hold more fields than t.
		src, _ := d.DataType().(*arrow.StructType)
		picked := make([]arrow.ArrayData, dt.NumFields())
		for i, f := range dt.Fields() {
			j := i
			if src != nil {
				if k, ok := src.FieldIdx(f.Name); ok {
					j = k
				}
			}
			picked[i] = children[j]
		}
		children = picked
	}
	var childTypes []arrow.DataType
	switch dt := t.(type) {
	case *arrow.StructType:
		for _, f := range dt.Fields() {
			childTypes = append(childTypes, f.Type)
		}
	case *arrow.ListType:
		childTypes = []arrow.DataType{dt.Elem()}
	case *arrow.MapType:
		childTypes = []arrow.DataType{dt.Elem()}
	}
	newChildren := make([]arrow.ArrayData, len(children))
	for i, c := range children {
		if i < len(childTypes) {
			newChildren[i] = rebuildData(c, childTypes[i])
		} else {
			c.Retain()
			newChildren[i] = c
		}
	}
	out := array.NewData(t, d.Len(), d.Buffers(), newChildren, d.NullN(), d.Offset())
	for _, c := range newChildren {
		c.Release()
	}
	return out
}

// Describe renders the pushed filter and the files of a plan for EXPLAIN.
func (p *Plan) Describe() string {
	f := "none"
	if p.req.Filter != nil {
		f = p.req.Filter.String()
	}
	return fmt.Sprintf("snapshot=%d files=%d records=%d filter=%s", p.snapshotID, p.Stats.DataFiles, p.Stats.RecordCount, f)
}

// ProjectedSchema is the Arrow schema a scan of fields (nil for all) at a
// snapshot (0 for the current one) yields, without reading any manifest.
func ProjectedSchema(tbl *table.Table, snapshotID int64, fields []string) (*arrow.Schema, error) {
	opts := []table.ScanOption{table.WithCaseSensitive(true)}
	if fields != nil {
		opts = append(opts, table.WithSelectedFields(fields...))
	}
	if snapshotID != 0 {
		opts = append(opts, table.WithSnapshotID(snapshotID))
	}
	proj, err := tbl.Scan(opts...).Projection()
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	return catalog.ArrowSchema(proj)
}
