package planner

import (
	"context"
	"iter"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/executor"
)

// metaTables are the metadata tables of a table t, read as "t$name" (the
// way Trino names them).
var metaTables = map[string]func(table.InspectTable, context.Context) (array.RecordReader, error){
	"snapshots":     table.InspectTable.Snapshots,
	"history":       table.InspectTable.History,
	"refs":          table.InspectTable.Refs,
	"files":         table.InspectTable.Files,
	"data_files":    table.InspectTable.DataFiles,
	"delete_files":  table.InspectTable.DeleteFiles,
	"manifests":     table.InspectTable.Manifests,
	"all_manifests": table.InspectTable.AllManifests,
	"partitions":    table.InspectTable.Partitions,
	"entries":       table.InspectTable.Entries,
	"metadata_log":  table.InspectTable.MetadataLogEntries,
}

// splitMetaTable splits "t$snapshots" into the table name and the
// metadata table; ok is false for an ordinary name.
func splitMetaTable(name string) (base, meta string, ok bool) {
	i := strings.LastIndex(name, "$")
	if i <= 0 {
		return name, "", false
	}
	return name[:i], strings.ToLower(name[i+1:]), true
}

func metaTableNames() string {
	names := make([]string, 0, len(metaTables))
	for n := range metaTables {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// lMeta reads a metadata table.
type lMeta struct {
	tbl   *table.Table
	read  func(table.InspectTable, context.Context) (array.RecordReader, error)
	label string
	out   *arrow.Schema
}

func (n *lMeta) schema() *arrow.Schema    { return n.out }
func (n *lMeta) inputs() []lnode          { return nil }
func (n *lMeta) withInputs([]lnode) lnode { return n }
func (n *lMeta) describe() string         { return n.label }

func (n *lMeta) lower(st *stmt) *lowered {
	tbl, read, out, label := n.tbl, n.read, n.out, n.label
	return &lowered{parts: 1, build: func(int, int) executor.Operator {
		return st.m(&executor.Source{Output: out, Label: label, Read: func(ctx context.Context) (iter.Seq2[arrow.RecordBatch, error], error) {
			rdr, err := read(tbl.Inspect(table.WithInspectAllocator(compute.GetAllocator(ctx))), ctx)
			if err != nil {
				return nil, err
			}
			return func(yield func(arrow.RecordBatch, error) bool) {
				defer rdr.Release()
				for rdr.Next() {
					rec := rdr.RecordBatch()
					rec.Retain()
					cols := rec.Columns()
					// The schema as planned (the reader's, field for field).
					out := array.NewRecordBatch(out, cols, rec.NumRows())
					rec.Release()
					if !yield(out, nil) {
						return
					}
				}
				if err := rdr.Err(); err != nil {
					yield(nil, err)
				}
			}, nil
		}})
	}}
}

// metaTable plans "t$name" for a loaded table t.
func metaTable(ctx context.Context, tbl *table.Table, key, meta string) (*planned, error) {
	read, ok := metaTables[meta]
	if !ok {
		return nil, invalid("table %s has no metadata table %q (there are %s)", key, meta, metaTableNames())
	}
	rdr, err := read(tbl.Inspect(), ctx)
	if err != nil {
		return nil, err
	}
	// The fields' own metadata (Parquet field ids) is not part of the
	// result's schema.
	fields := make([]arrow.Field, rdr.Schema().NumFields())
	for i, f := range rdr.Schema().Fields() {
		fields[i] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable}
	}
	out := arrow.NewSchema(fields, nil)
	rdr.Release()
	label := "Metadata " + key + "$" + meta
	return &planned{schema: out, node: &lMeta{tbl: tbl, read: read, label: label, out: out}, parts: 1}, nil
}
