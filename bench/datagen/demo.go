package datagen

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"golang.org/x/sync/errgroup"
)

// tableProps returns the properties of a demo table (a fresh map: catalogs
// may keep or change the map they are given).
func tableProps() iceberg.Properties {
	return iceberg.Properties{table.PropertyFormatVersion: "2"}
}

// Snapshot summary property naming the day an append of mall.probe_events
// holds (YYYY-MM-DD).
const SnapshotDayProperty = "lakeflight.datagen.day"

// WriteDemo creates namespace "mall" (unless it exists) and the tables of
// DemoTables, and fills them. It writes mall.probe_events as one append
// snapshot per day, each of opts.FilesPerDay data files, and each dimension
// table as one append.
//
// If any demo table already exists WriteDemo returns an error wrapping
// catalog.ErrTableAlreadyExists and changes nothing. Invalid options give an
// error wrapping ErrInvalidOptions. If writing fails part way, WriteDemo drops
// (purging where the catalog supports it) the tables and the namespace it
// created, best effort, and returns the write error joined with any cleanup
// error.
func WriteDemo(ctx context.Context, cat catalog.Catalog, opts DemoOptions) (err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return err
	}
	ctx = compute.WithAllocator(ctx, opts.Alloc)

	for _, ident := range DemoTables() {
		exists, err := cat.CheckTableExists(ctx, ident)
		if err != nil {
			return fmt.Errorf("datagen: check table %s: %w", strings.Join(ident, "."), err)
		}
		if exists {
			return fmt.Errorf("datagen: %w: %s", catalog.ErrTableAlreadyExists, strings.Join(ident, "."))
		}
	}

	ns := table.Identifier{Namespace}
	nsExists, err := cat.CheckNamespaceExists(ctx, ns)
	if err != nil {
		return fmt.Errorf("datagen: check namespace %s: %w", Namespace, err)
	}
	var created []table.Identifier
	createdNS := false
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(context.WithoutCancel(ctx), cat, created, createdNS))
		}
	}()
	if !nsExists {
		if err := cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return fmt.Errorf("datagen: create namespace %s: %w", Namespace, err)
		} else if err == nil {
			createdNS = true
		}
	}

	w := newWorld(opts)

	peSchema := probeEventsSchema()
	spec, err := probeEventsSpec(peSchema)
	if err != nil {
		return fmt.Errorf("datagen: partition spec: %w", err)
	}
	defs := []struct {
		name   string
		schema *iceberg.Schema
		opts   []catalog.CreateTableOpt
	}{
		{ProbeEventsTable, peSchema, []catalog.CreateTableOpt{catalog.WithPartitionSpec(&spec)}},
		{ShopsTable, shopsSchema(), nil},
		{DevicePlacesTable, devicePlacesSchema(), nil},
		{DevicesTable, devicesSchema(), nil},
	}
	tables := make(map[string]*table.Table, len(defs))
	for _, d := range defs {
		ident := table.Identifier{Namespace, d.name}
		tbl, err := cat.CreateTable(ctx, ident, d.schema,
			append(d.opts, catalog.WithProperties(tableProps()))...)
		if err != nil {
			return fmt.Errorf("datagen: create table %s.%s: %w", Namespace, d.name, err)
		}
		created = append(created, ident)
		tables[d.name] = tbl
	}

	dims := []struct {
		name  string
		batch func(*world, memory.Allocator, *arrow.Schema) arrow.RecordBatch
	}{
		{ShopsTable, (*world).shopsBatch},
		{DevicePlacesTable, (*world).devicePlacesBatch},
		{DevicesTable, (*world).devicesBatch},
	}
	for _, d := range dims {
		tbl := tables[d.name]
		sc, err := arrowSchema(tbl)
		if err != nil {
			return err
		}
		files, err := writeFile(ctx, tbl, sc, d.batch(w, opts.Alloc, sc))
		if err != nil {
			return fmt.Errorf("datagen: write %s.%s: %w", Namespace, d.name, err)
		}
		if _, err := appendFiles(ctx, tbl, files, nil); err != nil {
			return fmt.Errorf("datagen: commit %s.%s: %w", Namespace, d.name, err)
		}
	}

	if err := writeProbeEvents(ctx, w, tables[ProbeEventsTable]); err != nil {
		return fmt.Errorf("datagen: write %s.%s: %w", Namespace, ProbeEventsTable, err)
	}
	return nil
}

// arrowSchema is the Arrow schema, with field ids, of the table's current
// schema: the schema the batches handed to iceberg-go must have.
func arrowSchema(tbl *table.Table) (*arrow.Schema, error) {
	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		return nil, fmt.Errorf("datagen: arrow schema of %s: %w", strings.Join(tbl.Identifier(), "."), err)
	}
	return sc, nil
}

// writeFile writes rec as data files of tbl (one file unless it exceeds the
// table's target file size) and returns them without committing. It takes
// ownership of rec.
func writeFile(ctx context.Context, tbl *table.Table, sc *arrow.Schema, rec arrow.RecordBatch) ([]iceberg.DataFile, error) {
	// WriteRecords releases every batch it takes from the iterator, but it
	// may fail before taking any; release rec here in that case. Its
	// iterator has finished (all its goroutines included) once the range
	// over the returned sequence ends.
	var taken atomic.Bool
	once := func(yield func(arrow.RecordBatch, error) bool) {
		if taken.CompareAndSwap(false, true) {
			yield(rec, nil)
		}
	}
	defer func() {
		if taken.CompareAndSwap(false, true) {
			rec.Release()
		}
	}()

	var files []iceberg.DataFile
	for df, err := range table.WriteRecords(ctx, tbl, sc, once, table.WithMaxWriteWorkers(1)) {
		if err != nil {
			return nil, err
		}
		files = append(files, df)
	}
	return files, nil
}

// appendFiles commits files to tbl as one fast-append snapshot.
func appendFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile, props iceberg.Properties) (*table.Table, error) {
	txn := tbl.NewTransaction()
	if err := txn.AddDataFiles(ctx, files, props, table.WithoutDuplicateCheck(), table.WithoutAutoNameMapping()); err != nil {
		return nil, err
	}
	return txn.Commit(ctx)
}

// generatedDay is one day of probe events, sorted by time.
type generatedDay struct {
	day     int
	firstID int64
	events  []event
}

// writeProbeEvents writes mall.probe_events: one append snapshot per day.
// The next day is generated while the current one is written; the files of a
// day are built and written in parallel.
func writeProbeEvents(ctx context.Context, w *world, tbl *table.Table) error {
	sc, err := arrowSchema(tbl)
	if err != nil {
		return err
	}
	counts := dayCounts(w.opts)

	g, gctx := errgroup.WithContext(ctx)
	days := make(chan generatedDay, 1)
	g.Go(func() error {
		defer close(days)
		firstID := int64(1)
		for d, n := range counts {
			gd := generatedDay{day: d, firstID: firstID, events: w.dayEvents(d, n)}
			firstID += n
			select {
			case days <- gd:
			case <-gctx.Done():
				return context.Cause(gctx)
			}
		}
		return nil
	})
	g.Go(func() error {
		for gd := range days {
			var err error
			tbl, err = writeProbeDay(gctx, w, tbl, sc, gd)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}

// writeProbeDay writes one day as w.opts.FilesPerDay files, contiguous in
// time, and commits them as one snapshot. It returns the table after the
// commit.
func writeProbeDay(ctx context.Context, w *world, tbl *table.Table, sc *arrow.Schema, gd generatedDay) (*table.Table, error) {
	dayStart := w.opts.Start.AddDate(0, 0, gd.day)
	dayStartMicros := dayStart.UnixMicro()
	pt := arrow.Date32(dayStart.Unix() / 86400)

	nfiles := w.opts.FilesPerDay
	perFile := make([][]iceberg.DataFile, nfiles)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	n := len(gd.events)
	for f := range nfiles {
		lo, hi := n*f/nfiles, n*(f+1)/nfiles
		g.Go(func() error {
			rec := w.probeBatch(w.opts.Alloc, sc, gd.events[lo:hi], gd.firstID+int64(lo), dayStartMicros, pt)
			files, err := writeFile(gctx, tbl, sc, rec)
			if err != nil {
				return fmt.Errorf("day %s file %d: %w", dayStart.Format("2006-01-02"), f, err)
			}
			perFile[f] = files
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var files []iceberg.DataFile
	for _, fs := range perFile {
		files = append(files, fs...)
	}
	props := iceberg.Properties{SnapshotDayProperty: dayStart.Format("2006-01-02")}
	next, err := appendFiles(ctx, tbl, files, props)
	if err != nil {
		return nil, fmt.Errorf("commit day %s (%s files): %w", dayStart.Format("2006-01-02"), strconv.Itoa(len(files)), err)
	}
	return next, nil
}

// rollback drops the tables and the namespace WriteDemo created, best effort.
func rollback(ctx context.Context, cat catalog.Catalog, created []table.Identifier, createdNS bool) error {
	var errs []error
	for _, ident := range created {
		var err error
		if p, ok := cat.(catalog.PurgeableTable); ok {
			err = p.PurgeTable(ctx, ident)
		} else {
			err = cat.DropTable(ctx, ident)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("datagen: drop %s after failed write: %w", strings.Join(ident, "."), err))
		}
	}
	if createdNS && len(errs) == 0 {
		if err := cat.DropNamespace(ctx, table.Identifier{Namespace}); err != nil {
			errs = append(errs, fmt.Errorf("datagen: drop namespace %s after failed write: %w", Namespace, err))
		}
	}
	return errors.Join(errs...)
}
