package lookup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/pruning"
	"github.com/lakeflight/lakeflight/scan"
)

// PointReader answers lookups with point reads of one snapshot: the keys
// of a batch become an IN filter on each key column, which prunes
// partitions, files (column bounds), row groups (statistics, dictionaries,
// bloom filters) and pages before the matching rows are read.
type PointReader struct {
	tbl      *table.Table
	snapshot int64
	schema   *arrow.Schema
	keyCols  []int
}

// NewPointReader reads tbl at snapshotID (0: its current snapshot).
func NewPointReader(tbl *table.Table, snapshotID int64) (*PointReader, error) {
	schema, err := catalog.ArrowSchema(tbl.Schema())
	if err != nil {
		return nil, err
	}
	if snapshotID == 0 {
		if cur := tbl.CurrentSnapshot(); cur != nil {
			snapshotID = cur.SnapshotID
		}
	} else if tbl.Metadata().SnapshotByID(snapshotID) == nil {
		return nil, fmt.Errorf("lookup in %s: no snapshot %d", strings.Join(tbl.Identifier(), "."), snapshotID)
	}
	keys, err := keyColumns(tbl, schema)
	if err != nil {
		return nil, err
	}
	return &PointReader{tbl: tbl, snapshot: snapshotID, schema: schema, keyCols: keys}, nil
}

func (p *PointReader) Schema() *arrow.Schema { return p.schema }
func (p *PointReader) Key() []int            { return p.keyCols }
func (p *PointReader) Snapshot() int64       { return p.snapshot }
func (p *PointReader) Mode() Mode            { return None }
func (p *PointReader) Release()              {}

// Lookup reads the rows of keys and returns their columns cols in the
// keys' order.
func (p *PointReader) Lookup(ctx context.Context, keys []arrow.Array, cols []int) (arrow.RecordBatch, error) {
	found, err := p.read(ctx, keys)
	if err != nil {
		return nil, err
	}
	defer found.Release()
	return found.Lookup(ctx, keys, cols)
}

// read builds a small index of the table's rows whose keys are among
// keys.
func (p *PointReader) read(ctx context.Context, keys []arrow.Array) (*Index, error) {
	if len(keys) != len(p.keyCols) {
		return nil, fmt.Errorf("lookup in %s: %d key columns given, the key has %d", strings.Join(p.tbl.Identifier(), "."), len(keys), len(p.keyCols))
	}
	ix := newIndex(p.tbl.Identifier(), p.snapshot, p.schema, p.keyCols)
	if p.snapshot == 0 || len(keys) == 0 || keys[0].Len() == 0 {
		return ix, nil
	}
	filter, any := keyFilter(p.schema, p.keyCols, keys)
	if !any {
		return ix, nil
	}
	plan, err := scan.NewPlan(ctx, scan.Request{Table: p.tbl, SnapshotID: p.snapshot, Filter: filter})
	if err != nil {
		ix.Release()
		return nil, err
	}
	r, err := plan.Open(ctx, plan.Part(0, 1))
	if err != nil {
		ix.Release()
		return nil, err
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return ix, nil
		}
		if err != nil {
			ix.Release()
			return nil, err
		}
		if rec.NumRows() > 0 {
			ix.base.add(conform(rec, p.schema))
		}
		rec.Release()
	}
}

// keyFilter is a filter that keeps the rows whose key columns take the
// values of keys: an IN list on each key column (for several columns a
// superset, which the index then narrows). It reports false when no key
// can match (all NULL). A key type without an Iceberg literal leaves its
// column unfiltered.
func keyFilter(schema *arrow.Schema, keyCols []int, keys []arrow.Array) (iceberg.BooleanExpression, bool) {
	var out iceberg.BooleanExpression = iceberg.AlwaysTrue{}
	n := keys[0].Len()
	live := 0
	for i := range n {
		null := false
		for _, k := range keys {
			if k.IsNull(i) {
				null = true
				break
			}
		}
		if !null {
			live++
		}
	}
	if live == 0 {
		return nil, false
	}
	for c, k := range keys {
		seen := map[string]bool{}
		var lits []iceberg.Literal
		ok := true
		for i := range n {
			if k.IsNull(i) {
				continue
			}
			s, err := scalar.GetScalar(k, i)
			if err != nil {
				ok = false
				break
			}
			if want := schema.Field(keyCols[c]).Type; !arrow.TypeEqual(s.DataType(), want) {
				cs, err := s.CastTo(want)
				if err != nil {
					ok = false
					break
				}
				s = cs
			}
			lit, good := pruning.Literal(s)
			if !good {
				ok = false
				break
			}
			if ks := lit.String(); !seen[ks] {
				seen[ks] = true
				lits = append(lits, lit)
			}
		}
		if !ok || len(lits) == 0 {
			continue
		}
		ref := iceberg.Reference(schema.Field(keyCols[c]).Name)
		var e iceberg.BooleanExpression
		if len(lits) == 1 {
			e = iceberg.LiteralPredicate(iceberg.OpEQ, ref, lits[0])
		} else {
			e = iceberg.SetPredicate(iceberg.OpIn, ref, lits)
		}
		out = iceberg.NewAnd(out, e)
	}
	return out, true
}
