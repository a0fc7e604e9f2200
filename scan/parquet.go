package scan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/compute/exprs"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/substrait"
	substraitexpr "github.com/substrait-io/substrait-go/v8/expr"
)

// errNotNative means a task is one the scan's own Parquet reader does not
// handle exactly: it is read through iceberg-go instead. It is only
// returned before any batch of the task was emitted.
var errNotNative = errors.New("not readable natively")

// defaultBatchSize is iceberg-go's default Arrow batch size for Parquet
// reads (read.parquet.batch-size).
const defaultBatchSize = 1 << 17

// nativePlan is what reading Parquet files without iceberg-go needs, fixed
// when the plan is made and shared read-only by the readers.
type nativePlan struct {
	// projected is the Iceberg schema of the batches (before normalization
	// to the plan's Arrow schema); projectedIDs its leaf field ids.
	projected    *iceberg.Schema
	projectedIDs map[int]struct{}
	// effective is the schema filters and residuals are bound to.
	effective *iceberg.Schema
	// tableSchema, props and mapping are the table's current schema,
	// properties and name mapping (nil when the table has none).
	tableSchema *iceberg.Schema
	props       iceberg.Properties
	mapping     iceberg.NameMapping
	// filter is the scan's row filter bound to effective; nil for none.
	filter    iceberg.BooleanExpression
	batchSize int64
	// pruneOnly: the filter skips row groups but rows are not tested.
	pruneOnly bool
	// noProbes: row groups are tested against their statistics only, not
	// their dictionaries and bloom filters.
	noProbes bool
	// noPages: row groups are not tested page by page through their page
	// indexes; noLate: the filter columns are not read first.
	noPages, noLate bool
	// fetch says how row groups' chunks are fetched.
	fetch FetchOptions

	// shapes are the file shapes resolved so far (see shapeFor), at most
	// maxShapes; the entries are immutable once added.
	shapesMu sync.Mutex
	shapes   []*fileShape
}

// maxShapes bounds the file shapes a plan keeps: a table's files are
// written with a few schemas at most.
const maxShapes = 16

// fileShape is what preparing a file to be read derives from its Parquet
// schema (and its Arrow schema metadata) and the field ids read, nothing
// else of the file: the files of a table mostly share it, so a plan
// resolves it once and reuses it for every file whose schema is the same.
type fileShape struct {
	// The key: the Parquet schema, the ARROW:schema metadata (nil for
	// none) and the sorted field ids read.
	descr       *schema.Schema
	arrowSchema *string
	needed      []int
	// manifest is pqarrow's manifest of a file of this schema; only its
	// fields and column indices are used (it is not bound to any file).
	manifest *pqarrow.SchemaManifest
	leafIDs  map[int]int
	mapping  iceberg.NameMapping
	leaves   []int
	// fields are the top-level fields of the leaves (GetFieldIndices).
	fields    []int
	schema    *arrow.Schema
	iceSchema *iceberg.Schema
}

// cachedShape returns the shape resolved for a file of md's schema reading
// the fields needed, or nil.
func (np *nativePlan) cachedShape(md *metadata.FileMetaData, needed []int) *fileShape {
	arrowSchema := arrowSchemaOf(md)
	np.shapesMu.Lock()
	shapes := np.shapes
	np.shapesMu.Unlock()
	for _, sh := range shapes {
		if slices.Equal(sh.needed, needed) && equalStrings(sh.arrowSchema, arrowSchema) && sameParquetSchema(sh.descr, md.Schema) {
			return sh
		}
	}
	return nil
}

// addShape keeps a resolved shape for the next files.
func (np *nativePlan) addShape(sh *fileShape) {
	np.shapesMu.Lock()
	defer np.shapesMu.Unlock()
	if len(np.shapes) < maxShapes {
		np.shapes = append(np.shapes, sh)
	}
}

func arrowSchemaOf(md *metadata.FileMetaData) *string {
	if kv := md.KeyValueMetadata(); kv != nil {
		return kv.FindValue("ARROW:schema")
	}
	return nil
}

func equalStrings(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// sameParquetSchema reports whether two Parquet schemas are the same for
// pqarrow: every node's name, repetition, field id, converted and logical
// type, and every leaf's physical type, length and decimal parameters.
func sameParquetSchema(a, b *schema.Schema) bool {
	if a == b {
		return true
	}
	if a.NumColumns() != b.NumColumns() || !a.Root().Equals(b.Root()) {
		return false
	}
	// Equals ignores whether a timestamp was written as a converted type,
	// which pqarrow reads.
	for i := range a.NumColumns() {
		if t, ok := a.Column(i).LogicalType().(schema.TimestampLogicalType); ok {
			if t.String() != b.Column(i).LogicalType().String() {
				return false
			}
		}
	}
	return true
}

// newNativePlan prepares native reading for a plan, or returns nil when the
// projection holds something only iceberg-go reads (row lineage, variant and
// geospatial types).
func newNativePlan(tbl *table.Table, effective, projected *iceberg.Schema, filter iceberg.BooleanExpression, batchSize int) (*nativePlan, error) {
	ids := map[int]struct{}{}
	for _, f := range projected.Fields() {
		if iceberg.IsMetadataColumn(f.ID) || !nativeType(f.Type) {
			return nil, nil
		}
		collectLeafIDs(f.Type, f.ID, ids)
	}
	np := &nativePlan{
		projected:    projected,
		projectedIDs: ids,
		effective:    effective,
		tableSchema:  tbl.Schema(),
		props:        tbl.Properties(),
		mapping:      tbl.NameMapping(),
		batchSize:    int64(batchSize),
	}
	if np.batchSize <= 0 {
		np.batchSize = int64(np.props.GetInt(table.ParquetBatchSizeKey, defaultBatchSize))
		if np.batchSize <= 0 {
			np.batchSize = defaultBatchSize
		}
	}
	if filter != nil && !filter.Equals(iceberg.AlwaysTrue{}) {
		bound, err := iceberg.BindExpr(effective, filter, true)
		if err != nil {
			return nil, err
		}
		np.filter = bound
	}
	return np, nil
}

// nativeType reports whether values of t are read natively.
func nativeType(t iceberg.Type) bool {
	switch t := t.(type) {
	case *iceberg.StructType:
		for _, f := range t.FieldList {
			if !nativeType(f.Type) {
				return false
			}
		}
		return true
	case *iceberg.ListType:
		return nativeType(t.Element)
	case *iceberg.MapType:
		return nativeType(t.KeyType) && nativeType(t.ValueType)
	case iceberg.BooleanType, iceberg.Int32Type, iceberg.Int64Type, iceberg.Float32Type, iceberg.Float64Type,
		iceberg.DecimalType, iceberg.DateType, iceberg.TimeType, iceberg.TimestampType, iceberg.TimestampTzType,
		iceberg.TimestampNsType, iceberg.TimestampTzNsType, iceberg.StringType, iceberg.UUIDType,
		iceberg.FixedType, iceberg.BinaryType:
		return true
	}
	return false
}

// collectLeafIDs adds the field ids of the primitive leaves of a field.
func collectLeafIDs(t iceberg.Type, id int, ids map[int]struct{}) {
	switch t := t.(type) {
	case *iceberg.StructType:
		for _, f := range t.FieldList {
			collectLeafIDs(f.Type, f.ID, ids)
		}
	case *iceberg.ListType:
		collectLeafIDs(t.Element, t.ElementID, ids)
	case *iceberg.MapType:
		collectLeafIDs(t.KeyType, t.KeyID, ids)
		collectLeafIDs(t.ValueType, t.ValueID, ids)
	default:
		ids[id] = struct{}{}
	}
}

// taskFilter is the row filter of a task, bound to the effective schema:
// the task's residual (the filter simplified with the file's partition)
// when planning computed one, else the scan's filter. Nil means none.
func (np *nativePlan) taskFilter(task table.FileScanTask) (iceberg.BooleanExpression, error) {
	f := np.filter
	if task.Residual != nil {
		bound, unbound, err := boundState(task.Residual)
		if err != nil {
			return nil, err
		}
		switch {
		case bound && unbound:
			return nil, fmt.Errorf("%w: residual mixes bound and unbound predicates", errNotNative)
		case unbound:
			if f, err = iceberg.BindExpr(np.effective, task.Residual, true); err != nil {
				return nil, err
			}
		default:
			f = task.Residual
		}
	}
	if f == nil || f.Equals(iceberg.AlwaysTrue{}) {
		return nil, nil
	}
	return f, nil
}

// boundState reports whether e holds bound and unbound predicates.
func boundState(e iceberg.BooleanExpression) (bound, unbound bool, err error) {
	st, err := iceberg.VisitExpr(e, bindingVisitor{})
	return st[0], st[1], err
}

type bindingVisitor struct{}

func (bindingVisitor) VisitTrue() [2]bool         { return [2]bool{} }
func (bindingVisitor) VisitFalse() [2]bool        { return [2]bool{} }
func (bindingVisitor) VisitNot(c [2]bool) [2]bool { return c }
func (bindingVisitor) VisitAnd(l, r [2]bool) [2]bool {
	return [2]bool{l[0] || r[0], l[1] || r[1]}
}
func (bindingVisitor) VisitOr(l, r [2]bool) [2]bool {
	return [2]bool{l[0] || r[0], l[1] || r[1]}
}
func (bindingVisitor) VisitUnbound(iceberg.UnboundPredicate) [2]bool { return [2]bool{false, true} }
func (bindingVisitor) VisitBound(iceberg.BoundPredicate) [2]bool     { return [2]bool{true, false} }

// nativeTask reports whether a task may be read natively at all: a
// Parquet data file without delete files or encryption.
func nativeTask(task table.FileScanTask) bool {
	return task.File.FileFormat() == iceberg.ParquetFile &&
		len(task.DeleteFiles) == 0 && len(task.EqualityDeleteFiles) == 0 && len(task.DeletionVectorFiles) == 0 &&
		len(task.File.KeyMetadata()) == 0
}

// parquetColumn is what the statistics test needs of a leaf column.
type parquetColumn struct {
	physical parquet.Type
	typeLen  int // FIXED_LEN_BYTE_ARRAY length
	repeated bool
}

// fileRead is one task being read natively.
type fileRead struct {
	np   *nativePlan
	task table.FileScanTask
	pr   *file.Reader
	// fr is pqarrow's reader of the file, made on first use (nested
	// columns); manifest describes the file's schema (it may be another
	// file's of the same schema).
	fr       *pqarrow.FileReader
	manifest *pqarrow.SchemaManifest
	leaves   []int
	fields   []int
	// schema is the Arrow schema of the leaves read, as pqarrow yields it;
	// iceSchema its Iceberg form, with the file's field ids.
	schema    *arrow.Schema
	iceSchema *iceberg.Schema
	// mapping resolves names to ids for a file without field ids.
	mapping iceberg.NameMapping
	// record filters rows (nil: no filter); drop means no row matches.
	record *recordFilter
	drop   bool
	groups *rowGroupFilter
	// probes test the dictionaries and bloom filters of the row groups
	// statistics leave undecided (nil: none can decide); lookupIn is the
	// file as they read it and lookups their Parquet reader, opened on
	// first use.
	probes   *probeFilter
	lookupIn *lookupInput
	lookups  *file.Reader
	// in is the file as the Parquet reader reads it (see pagedInput).
	in *pagedInput
	// pages finds the rows of a row group its page indexes leave (nil:
	// page statistics decide no predicate of the filter).
	pages *pageFilter
	// flat holds the leaf columns read by flat sources, which skip the
	// pages they need not read; made on first use.
	flat map[int]bool
	// late reads the filter columns of a row group first (nil: not for
	// this file); lateMisses counts the row groups in a row where it did
	// not pay, lateOff stops it for the rest of the file.
	late       *lateFilter
	lateMisses int
	lateOff    bool
	// lateRegions are the chunks the first pass over a row group keeps.
	lateRegions []byteSpan
}

// recordFilter is a row filter compiled for one file schema.
type recordFilter struct {
	ext  exprs.ExtensionIDSet
	expr substraitexpr.Expression
}

// openFile opens a task's file and prepares reading it. It returns an
// error wrapping errNotNative when the task is one iceberg-go must read.
// The caller must close the returned fileRead.
func (np *nativePlan) openFile(ctx context.Context, fs icebergio.IO, task table.FileScanTask) (_ *fileRead, err error) {
	filter, err := np.taskFilter(task)
	if err != nil {
		return nil, err
	}
	f, err := fs.Open(task.File.FilePath())
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", task.File.FilePath(), err)
	}
	footerKey := fmt.Sprintf("%s\x00%d", task.File.FilePath(), task.File.FileSizeBytes())
	var readOpts []file.ReadOption
	md, cached := Footers.Get(footerKey)
	if cached {
		readOpts = append(readOpts, file.WithMetadata(md))
	}
	in := &pagedInput{File: f}
	pr, err := file.NewParquetReader(in, readOpts...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open parquet file %s: %w", task.File.FilePath(), err)
	}
	if !cached {
		Footers.Add(footerKey, pr.MetaData(), footerWeight(pr.MetaData()))
	}
	fr := &fileRead{np: np, task: task, pr: pr, lookupIn: &lookupInput{src: f}, in: in}
	defer func() {
		if err != nil {
			fr.close()
		}
	}()
	needed, err := np.neededIDs(filter)
	if err != nil {
		return nil, err
	}
	leafIDs, err := fr.resolveShape(ctx, needed)
	if err != nil {
		return nil, err
	}
	if err := fr.compileFilter(filter, leafIDs); err != nil {
		return nil, err
	}
	return fr, nil
}

// neededIDs are the sorted field ids a task with filter reads.
func (np *nativePlan) neededIDs(filter iceberg.BooleanExpression) ([]int, error) {
	needed := make([]int, 0, len(np.projectedIDs))
	for id := range np.projectedIDs {
		needed = append(needed, id)
	}
	if filter != nil {
		ids, err := iceberg.ExtractFieldIDs(filter)
		if err != nil {
			return nil, err
		}
		needed = append(needed, ids...)
	}
	slices.Sort(needed)
	return slices.Compact(needed), nil
}

// resolveShape sets the leaves read, their schemas and the name mapping of
// the file, from the plan's shape of the file's schema when it has one,
// else resolving them (and keeping the shape). It returns the field id of
// each leaf column of the file.
func (fr *fileRead) resolveShape(ctx context.Context, needed []int) (map[int]int, error) {
	np := fr.np
	md := fr.pr.MetaData()
	if sh := np.cachedShape(md, needed); sh != nil {
		fr.manifest, fr.mapping = sh.manifest, sh.mapping
		fr.leaves, fr.fields = sh.leaves, sh.fields
		fr.schema, fr.iceSchema = sh.schema, sh.iceSchema
		return sh.leafIDs, nil
	}
	if _, err := fr.arrowReader(ctx); err != nil {
		return nil, err
	}
	fr.manifest = fr.fr.Manifest
	var leafIDs map[int]int
	leafIDs, fr.mapping = fr.leafFieldIDs()
	for col, id := range leafIDs {
		if _, ok := slices.BinarySearch(needed, id); ok {
			fr.leaves = append(fr.leaves, col)
		}
	}
	slices.Sort(fr.leaves)
	if len(fr.leaves) == 0 {
		// Nothing to decode tells no row count; leave it to iceberg-go.
		return nil, fmt.Errorf("%w: no column of %s is read", errNotNative, fr.task.File.FilePath())
	}
	if err := fr.resolveSchema(ctx); err != nil {
		return nil, err
	}
	np.addShape(&fileShape{
		descr:       md.Schema,
		arrowSchema: arrowSchemaOf(md),
		needed:      needed,
		manifest:    fr.manifest,
		leafIDs:     leafIDs,
		mapping:     fr.mapping,
		leaves:      fr.leaves,
		fields:      fr.fields,
		schema:      fr.schema,
		iceSchema:   fr.iceSchema,
	})
	return leafIDs, nil
}

// arrowReader returns pqarrow's reader of the file, making it on first use.
func (fr *fileRead) arrowReader(ctx context.Context) (*pqarrow.FileReader, error) {
	if fr.fr == nil {
		r, err := pqarrow.NewFileReader(fr.pr, pqarrow.ArrowReadProperties{BatchSize: fr.np.batchSize}, compute.GetAllocator(ctx))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotNative, err)
		}
		fr.fr = r
	}
	return fr.fr, nil
}

func (fr *fileRead) close() {
	if fr.pr != nil {
		fr.pr.Close()
	}
}

// leafFieldIDs maps each leaf column of the file to its Iceberg field id
// (absent when it has none). Field ids written in the file decide; fields
// without one are matched by name through the table's name mapping, and a
// file without any field id, in a table without a name mapping, by the
// names of the scan's schema. mapping is the name mapping used (nil for
// none).
func (fr *fileRead) leafFieldIDs() (ids map[int]int, mapping iceberg.NameMapping) {
	hasIDs := false
	for i := range fr.manifest.Fields {
		if anyFieldID(&fr.manifest.Fields[i]) {
			hasIDs = true
			break
		}
	}
	mapping = fr.np.mapping
	if mapping == nil && !hasIDs {
		mapping = fr.np.effective.NameMapping()
	}
	ids = map[int]int{}
	var root *iceberg.MappedField
	if mapping != nil {
		root = &iceberg.MappedField{Fields: mapping}
	}
	for i := range fr.manifest.Fields {
		sf := &fr.manifest.Fields[i]
		mapLeafIDs(sf, childMapping(root, sf.Field.Name), ids)
	}
	return ids, mapping
}

// fieldID is the Parquet field id pqarrow records on a field, or -1.
func fieldID(f *arrow.Field) int {
	if f == nil || !f.HasMetadata() {
		return -1
	}
	v, ok := f.Metadata.GetValue("PARQUET:field_id")
	if !ok {
		return -1
	}
	id, err := strconv.Atoi(v)
	if err != nil || id <= 0 {
		return -1
	}
	return id
}

func anyFieldID(sf *pqarrow.SchemaField) bool {
	if fieldID(sf.Field) > 0 {
		return true
	}
	for i := range sf.Children {
		if anyFieldID(&sf.Children[i]) {
			return true
		}
	}
	return false
}

func childMapping(m *iceberg.MappedField, name string) *iceberg.MappedField {
	if m == nil {
		return nil
	}
	return m.GetField(name)
}

// mapLeafIDs records the field id of every leaf under sf. m is the name
// mapping of sf (nil for none).
func mapLeafIDs(sf *pqarrow.SchemaField, m *iceberg.MappedField, ids map[int]int) {
	if sf.IsLeaf() {
		id := fieldID(sf.Field)
		if id < 0 && m != nil && m.FieldID != nil {
			id = *m.FieldID
		}
		if id > 0 {
			ids[sf.ColIndex] = id
		}
		return
	}
	switch sf.Field.Type.ID() {
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
		// The element, whatever the writer named it.
		var em *iceberg.MappedField
		if m != nil && len(m.Fields) == 1 {
			em = &m.Fields[0]
		} else {
			em = childMapping(m, "element")
		}
		for i := range sf.Children {
			mapLeafIDs(&sf.Children[i], em, ids)
		}
	case arrow.MAP:
		// One key_value struct of key and value.
		for i := range sf.Children {
			kv := &sf.Children[i]
			for j := range kv.Children {
				name := "key"
				if j == 1 {
					name = "value"
				}
				mapLeafIDs(&kv.Children[j], childMapping(m, name), ids)
			}
		}
	default:
		for i := range sf.Children {
			c := &sf.Children[i]
			mapLeafIDs(c, childMapping(m, c.Field.Name), ids)
		}
	}
}

// resolveSchema finds the Arrow schema pqarrow yields for the selected
// leaves (without reading any row group) and its Iceberg form, and checks
// that batches of it project onto the plan's schema.
func (fr *fileRead) resolveSchema(ctx context.Context) error {
	readers, sc, err := fr.fr.GetFieldReaders(ctx, fr.leaves, []int{})
	for _, r := range readers {
		if r != nil {
			r.Release()
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errNotNative, err)
	}
	// Flat string and binary columns are decoded by the package itself
	// (see flatBinarySource), as the 32-bit types.
	fields, err := fr.manifest.GetFieldIndices(fr.leaves)
	if err != nil || len(fields) != sc.NumFields() {
		return fmt.Errorf("%w: fields of %s", errNotNative, fr.task.File.FilePath())
	}
	fr.fields = fields
	var changed []arrow.Field
	for i, fi := range fields {
		if t := flatBinaryType(fr.pr, &fr.manifest.Fields[fi]); t != nil && !arrow.TypeEqual(t, sc.Field(i).Type) {
			if changed == nil {
				changed = slices.Clone(sc.Fields())
			}
			changed[i].Type = t
		}
	}
	if changed != nil {
		md := sc.Metadata()
		sc = arrow.NewSchema(changed, &md)
	}
	fr.schema = sc
	fr.iceSchema, err = table.ArrowSchemaToIcebergWithOptions(sc, table.ArrowToIcebergOptions{
		NameMapping:     fr.mapping,
		TableSchema:     fr.np.tableSchema,
		TableProperties: fr.np.props,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", errNotNative, err)
	}
	// An empty batch goes through the same projection as the data will, so
	// a file whose schema does not map fails here, before any row is read.
	cols := emptyColumns(compute.GetAllocator(ctx), sc)
	empty := array.NewRecordBatch(sc, cols, 0)
	for _, c := range cols {
		c.Release()
	}
	defer empty.Release()
	out, err := fr.project(ctx, empty)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotNative, err)
	}
	out.Release()
	return nil
}

func emptyColumns(mem memory.Allocator, sc *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, sc.NumFields())
	for i, f := range sc.Fields() {
		cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
	}
	return cols
}

// compileFilter prepares the row filter and the row-group statistics test
// of a task for this file, as iceberg-go does: the filter is translated to
// the file's field names (a predicate on a column the file lacks becomes
// true or false), bound to the file's schema and compiled to Substrait.
func (fr *fileRead) compileFilter(filter iceberg.BooleanExpression, leafIDs map[int]int) error {
	if filter == nil {
		return nil
	}
	translated, extracts, err := iceberg.TranslateColumnNamesForScan(filter, fr.iceSchema)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotNative, err)
	}
	if len(extracts) > 0 {
		return fmt.Errorf("%w: variant extracts in the filter", errNotNative)
	}
	switch {
	case translated.Equals(iceberg.AlwaysFalse{}):
		fr.drop = true
		return nil
	case translated.Equals(iceberg.AlwaysTrue{}):
		return nil
	}
	bound, err := iceberg.BindExpr(fr.iceSchema, translated, true)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotNative, err)
	}
	reg, ex, err := substrait.ConvertExpr(fr.iceSchema, bound, true)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotNative, err)
	}
	fr.record = &recordFilter{ext: exprs.NewExtensionSetDefault(*reg), expr: ex}

	// Statistics describe the file's values; a column the file lacks but
	// whose field has an initial default reads as that default, so such a
	// filter is not tested against statistics (iceberg-go does the same).
	ids, err := iceberg.ExtractFieldIDs(filter)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, inFile := fr.iceSchema.FindFieldByID(id); inFile {
			continue
		}
		if f, ok := fr.np.effective.FindFieldByID(id); ok && f.InitialDefault != nil {
			return nil
		}
	}
	columns := map[int]statColumn{}
	descr := fr.pr.MetaData().Schema
	for col, id := range leafIDs {
		f, ok := fr.iceSchema.FindFieldByID(id)
		if !ok {
			continue
		}
		sf, err := fr.manifest.GetColumnField(col)
		if err != nil {
			continue
		}
		c := descr.Column(col)
		columns[id] = statColumnFor(col, parquetColumn{physical: c.PhysicalType(), typeLen: c.TypeLength(), repeated: c.MaxRepetitionLevel() > 0}, sf.Field.Type, f.Type)
	}
	if fr.groups, err = newRowGroupFilter(bound, columns); err != nil {
		return err
	}
	if !fr.np.noProbes {
		if fr.probes, err = newProbeFilter(bound, columns); err != nil {
			return err
		}
	}
	if !fr.np.noPages {
		if fr.pages, err = newPageFilter(bound, columns); err != nil {
			return err
		}
	}
	if !fr.np.noLate {
		fr.late, err = fr.compileLate(translated, bound, leafIDs)
	}
	return err
}

// rowGroupPlan is the decision for one row group of a task.
type rowGroupPlan struct {
	index  int
	filter bool // rows must be filtered (statistics do not prove they all match)
	// ix is the row group's page index when it is read by row ranges
	// (nil: every row, every page); ranges are the rows its pages leave
	// (nil: every row).
	ix     *pageIndex
	ranges []rowRange
	// late: the filter columns are read first (see readLate).
	late bool
}

// planRowGroups picks the row groups of the task's byte range and tests
// them against the statistics, then those the statistics leave undecided
// against their dictionaries and bloom filters, counting what is read and
// skipped, and why. Bytes read by dictionary and bloom filter lookups
// count as read; a dictionary page read for a row group then skipped does
// not count as skipped.
func (fr *fileRead) planRowGroups(st *counters) ([]rowGroupPlan, error) {
	md := fr.pr.MetaData()
	n := fr.pr.NumRowGroups()
	inRange := func(int) bool { return true }
	task := fr.task
	if task.Start != 0 || (task.Length != 0 && task.Length != task.File.FileSizeBytes()) {
		size := md.GetSourceFileSize()
		start, length := task.Start, task.Length
		if size > 0 && start >= 0 && start <= size && length > size-start {
			length = size - start
		}
		if start < 0 || length <= 0 || (size > 0 && start > size) {
			return nil, fmt.Errorf("invalid byte range %d+%d of %s (%d bytes)", task.Start, task.Length, task.File.FilePath(), size)
		}
		offsets := task.File.SplitOffsets()
		if !validOffsets(offsets, n, size) {
			offsets = make([]int64, n)
			for i := range offsets {
				offsets[i] = rowGroupOffset(md.RowGroup(i))
			}
		}
		inRange = func(i int) bool { return offsets[i] >= start && offsets[i] < start+length }
	}
	var out []rowGroupPlan
	for i := 0; i < n; i++ {
		if !inRange(i) {
			continue
		}
		rg := md.RowGroup(i)
		v := rowsMightMatch
		switch {
		case fr.drop:
			v = rowsCannotMatch
		case fr.record == nil:
			v = rowsMustMatch
		default:
			v = fr.groups.eval(rg)
		}
		bytes := fr.chunkBytes(rg)
		skippedBy := &st.skippedStats
		if v == rowsMightMatch && fr.probes != nil {
			lk := fr.newLookup(i, rg, bytes)
			switch {
			case fr.probes.dict != nil && fr.probes.dict(lk) == rowsCannotMatch:
				v, skippedBy = rowsCannotMatch, &st.skippedDict
			case fr.probes.bloom != nil && fr.probes.bloom(lk) == rowsCannotMatch:
				v, skippedBy = rowsCannotMatch, &st.skippedBloom
			}
			st.bytesRead.Add(lk.dictBytes + lk.bloomBytes)
			if v == rowsCannotMatch {
				bytes = max(bytes-lk.dictBytes, 0)
			}
		}
		plan := rowGroupPlan{index: i, filter: v == rowsMightMatch && !fr.np.pruneOnly}
		if v == rowsMightMatch {
			fr.planPages(&plan, rg, bytes, st)
			st.bytesRead.Add(fr.in.takeIndexBytes())
			if plan.ix != nil && len(plan.ranges) == 0 && plan.ranges != nil {
				v, skippedBy = rowsCannotMatch, &st.skippedPages
				st.pages.Add(plan.ix.pageCount(fr.leaves))
				st.pagesSkipped.Add(plan.ix.pageCount(fr.leaves))
			}
		}
		if v == rowsCannotMatch {
			st.rowGroupsSkipped.Add(1)
			skippedBy.Add(1)
			st.bytesSkipped.Add(bytes)
			continue
		}
		st.rowGroups.Add(1)
		if plan.ranges != nil {
			st.rowsSkipped.Add(rg.NumRows() - rangesRows(plan.ranges))
		}
		if plan.ix == nil {
			// Row groups read by ranges count their bytes as they are read.
			st.bytesRead.Add(bytes)
		}
		out = append(out, plan)
	}
	return out, nil
}

// planPages decides how a row group that might match is read: by the row
// ranges its page indexes leave, and whether its filter columns are read
// first. bytes is the compressed size of its chunks read.
func (fr *fileRead) planPages(plan *rowGroupPlan, rg *metadata.RowGroupMetaData, bytes int64, st *counters) {
	late := fr.late != nil && !fr.lateOff && 2*fr.late.chunkBytes(rg) <= bytes
	if fr.pages == nil && !late {
		return
	}
	ix := fr.openPageIndex(plan.index, rg)
	if ix == nil {
		if late {
			plan.late = true
			plan.ix = &pageIndex{rows: rg.NumRows(), cols: map[int]*columnPages{}}
		}
		return
	}
	plan.ix, plan.late = ix, late
	if fr.pages == nil {
		return
	}
	ranges := fr.pages.eval(ix)
	if len(ranges) == 1 && ranges[0] == (rowRange{0, ix.rows}) {
		return
	}
	plan.ranges = ranges
	if ranges == nil {
		plan.ranges = []rowRange{}
	}
}

// chunkBytes is the compressed size of the chunks of the leaves read.
func (fr *fileRead) chunkBytes(rg *metadata.RowGroupMetaData) int64 {
	var n int64
	for _, col := range fr.leaves {
		if cc, err := rg.ColumnChunk(col); err == nil {
			n += cc.TotalCompressedSize()
		}
	}
	return n
}

func validOffsets(offsets []int64, n int, size int64) bool {
	if len(offsets) != n {
		return false
	}
	for i, o := range offsets {
		if o < 0 || (size > 0 && o >= size) || (i > 0 && o <= offsets[i-1]) {
			return false
		}
	}
	return true
}

// rowGroupOffset is where a row group starts: the first page of its first
// column chunk (what Iceberg writers record as split offsets).
func rowGroupOffset(rg *metadata.RowGroupMetaData) int64 {
	if rg.NumColumns() > 0 {
		if cc, err := rg.ColumnChunk(0); err == nil {
			off := cc.DataPageOffset()
			if cc.HasDictionaryPage() {
				if d := cc.DictionaryPageOffset(); d >= 0 && (off < 0 || d < off) {
					off = d
				}
			}
			if off >= 0 {
				return off
			}
		}
	}
	return rg.FileOffset()
}

// read decodes the planned row groups and emits the task's batches, on
// the plan's schema. emit takes ownership of a batch and reports false to
// stop.
func (fr *fileRead) read(ctx context.Context, groups []rowGroupPlan, schema *arrow.Schema, st *counters, emit func(arrow.RecordBatch) bool) error {
	// Consecutive row groups that need the same treatment are read by one
	// record reader; a row group read by ranges is read alone.
	for len(groups) > 0 {
		if g := groups[0]; g.ix != nil {
			groups = groups[1:]
			stop, err := fr.readRanges(ctx, g, schema, st, emit)
			if err != nil || stop {
				return err
			}
			continue
		}
		n := 1
		for n < len(groups) && groups[n].filter == groups[0].filter && groups[n].ix == nil {
			n++
		}
		idx := make([]int, n)
		for i := range idx {
			idx[i] = groups[i].index
		}
		filter := groups[0].filter
		groups = groups[n:]
		stop, err := fr.readGroups(ctx, idx, filter, nil, schema, st, emit)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// readGroups reads row groups, or with sel, the selected rows of one.
func (fr *fileRead) readGroups(ctx context.Context, groups []int, filter bool, sel *rowSelection, schema *arrow.Schema, st *counters, emit func(arrow.RecordBatch) bool) (stop bool, err error) {
	mem := compute.GetAllocator(ctx)
	fr.prefetch(groups, fr.leaves)
	defer fr.in.forgetFetches()
	sources, err := fr.openColumns(ctx, mem, groups, sel, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		for _, s := range sources {
			s.release()
		}
	}()
	var rows int64
	md := fr.pr.MetaData()
	for _, g := range groups {
		rows += md.RowGroup(g).NumRows()
	}
	if sel != nil {
		rows = sel.rows
	}
	// As pqarrow sizes batches: no larger than the row groups need, and
	// within a memory limit's share.
	batch := min(fr.np.batchSize, int64(bitutil.NextPowerOf2(int(rows))))
	if limit := memoryLimit(ctx); limit > 0 {
		batch = min(batch, max(limit/16/fr.rowBytes(groups), minBoundedBatch))
	}
	for {
		if err := ctx.Err(); err != nil {
			return false, context.Cause(ctx)
		}
		rec, err := readBatch(sources, fr.schema, batch)
		if err != nil {
			return false, fmt.Errorf("read %s: %w", fr.task.File.FilePath(), err)
		}
		if rec == nil {
			return false, nil
		}
		st.rows.Add(rec.NumRows())
		if filter {
			if rec, err = fr.filterRows(ctx, rec); err != nil {
				return false, err
			}
		}
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		out, err := fr.project(ctx, rec)
		rec.Release()
		if err != nil {
			return false, err
		}
		if !emit(normalize(out, schema)) {
			return true, nil
		}
	}
}

// rowBytes estimates the decoded bytes of a row of the leaves read in
// groups: the uncompressed size of their chunks per row (at least 1).
func (fr *fileRead) rowBytes(groups []int) int64 {
	md := fr.pr.MetaData()
	var size, rows int64
	for _, g := range groups {
		rg := md.RowGroup(g)
		rows += rg.NumRows()
		for _, col := range fr.leaves {
			if cc, err := rg.ColumnChunk(col); err == nil {
				size += cc.TotalUncompressedSize()
			}
		}
	}
	if rows == 0 {
		return 1
	}
	return max(size/rows, 1)
}

// readBatch reads the next batch of up to n rows from every source, or nil
// at the end.
func readBatch(sources []columnSource, schema *arrow.Schema, n int64) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, len(sources))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, s := range sources {
		a, err := s.next(n)
		if err != nil {
			return nil, err
		}
		cols[i] = a
		if a.Len() != cols[0].Len() {
			return nil, fmt.Errorf("columns %s and %s yield %d and %d rows", schema.Field(0).Name, schema.Field(i).Name, cols[0].Len(), a.Len())
		}
	}
	if len(cols) == 0 || cols[0].Len() == 0 {
		return nil, nil
	}
	return array.NewRecordBatch(schema, cols, int64(cols[0].Len())), nil
}

// filterRows keeps the rows of rec that satisfy the record filter. It takes
// ownership of rec.
func (fr *fileRead) filterRows(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	defer rec.Release()
	ctx = exprs.WithExtensionIDSet(ctx, fr.record.ext)
	in := compute.NewDatumWithoutOwning(rec)
	mask, err := exprs.ExecuteScalarExpression(ctx, rec.Schema(), fr.record.expr, in)
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", fr.task.File.FilePath(), err)
	}
	defer mask.Release()
	out, err := compute.Filter(ctx, in, mask, *compute.DefaultFilterOptions())
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", fr.task.File.FilePath(), err)
	}
	return out.(*compute.RecordDatum).Value, nil
}

// project turns a batch of the file's columns into one of the projected
// Iceberg schema: columns the file lacks become NULL (or their initial
// default) and promoted types are cast, as iceberg-go does.
func (fr *fileRead) project(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	return table.ToRequestedSchema(ctx, fr.np.projected, fr.iceSchema, rec, table.SchemaOptions{TableProperties: fr.np.props})
}
