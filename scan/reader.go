package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// ReadStats are the figures of what a Reader read, for EXPLAIN ANALYZE and
// metrics.
type ReadStats struct {
	// Files is the number of data file tasks read; a file split into byte
	// ranges counts once per range.
	Files int64
	// FallbackFiles is how many of them iceberg-go read (tasks with delete
	// files, or files the scan's own reader does not handle); their row
	// groups and bytes are not counted below.
	FallbackFiles int64
	// RowGroups is the number of row groups read; RowGroupsSkipped those
	// skipped because no row of theirs matches the filter.
	RowGroups, RowGroupsSkipped int64
	// SkippedByStats, SkippedByDictionary and SkippedByBloomFilter divide
	// RowGroupsSkipped by what proved it, tried in that order: the column
	// chunk statistics (or a filter the file's schema makes false), the
	// dictionaries of fully dictionary-encoded chunks, bloom filters.
	SkippedByStats, SkippedByDictionary, SkippedByBloomFilter int64
	// SkippedByPageIndex counts the row groups skipped (after those) because
	// the page indexes of the filter columns leave none of their rows.
	SkippedByPageIndex int64
	// BytesRead and BytesSkipped are the compressed sizes of the column
	// chunks of the read and skipped row groups, counting only the columns
	// the scan needs; of a row group read by row ranges, the bytes of its
	// chunks fetched and not fetched. BytesRead also counts the dictionary
	// pages, bloom filters and page indexes read to test row groups (a
	// dictionary page read for a row group that is skipped is not in
	// BytesSkipped), and the filter columns' pages fetched a second time
	// by late materialization.
	BytesRead, BytesSkipped int64
	// RowsRead is the number of rows decoded in every column read, before
	// the row filter.
	RowsRead int64
	// Pages is the number of data pages of the columns read in the row
	// groups whose pages were tested (the row groups read by row ranges,
	// and those the page indexes skipped), counting the columns that have
	// an offset index; PagesSkipped those of them neither fetched nor
	// decoded.
	Pages, PagesSkipped int64
	// RowsSkipped is the number of rows of the row groups read that their
	// page indexes prove cannot match, and so are not decoded.
	RowsSkipped int64
	// LateRowGroups is the number of row groups whose filter columns were
	// read first; LateRowsSkipped the rows of theirs that the filter
	// rejected and whose other columns were not decoded.
	LateRowGroups, LateRowsSkipped int64
}

// counters are a Reader's figures while its workers update them.
type counters struct {
	files, fallbackFiles          atomic.Int64
	rowGroups, rowGroupsSkipped   atomic.Int64
	skippedStats, skippedDict     atomic.Int64
	skippedBloom, skippedPages    atomic.Int64
	bytesRead, bytesSkipped, rows atomic.Int64
	pages, pagesSkipped           atomic.Int64
	rowsSkipped                   atomic.Int64
	lateRowGroups, lateRowsSkip   atomic.Int64
}

func (c *counters) snapshot() ReadStats {
	return ReadStats{
		Files:                c.files.Load(),
		FallbackFiles:        c.fallbackFiles.Load(),
		RowGroups:            c.rowGroups.Load(),
		RowGroupsSkipped:     c.rowGroupsSkipped.Load(),
		SkippedByStats:       c.skippedStats.Load(),
		SkippedByDictionary:  c.skippedDict.Load(),
		SkippedByBloomFilter: c.skippedBloom.Load(),
		SkippedByPageIndex:   c.skippedPages.Load(),
		BytesRead:            c.bytesRead.Load(),
		BytesSkipped:         c.bytesSkipped.Load(),
		RowsRead:             c.rows.Load(),
		Pages:                c.pages.Load(),
		PagesSkipped:         c.pagesSkipped.Load(),
		RowsSkipped:          c.rowsSkipped.Load(),
		LateRowGroups:        c.lateRowGroups.Load(),
		LateRowsSkipped:      c.lateRowsSkip.Load(),
	}
}

// unit is work for one worker: one task read natively, or a run of
// consecutive tasks read through iceberg-go. Its batches go out in order on
// out, which the worker closes when the unit ends (after setting err).
type unit struct {
	tasks  []table.FileScanTask
	native bool
	out    chan arrow.RecordBatch
	err    error
}

// unitBuffer is how many decoded batches a worker may have ready ahead of
// the consumer.
const unitBuffer = 2

// memoryLimitKey is the context key of WithMemoryLimit.
type memoryLimitKey struct{}

// WithMemoryLimit returns a context on which the scans' readers keep what
// they decode within a query memory limit of limit bytes: the Arrow
// batches they hold ahead of their consumer stay within a quarter of it,
// and a batch within a sixteenth of it (estimated from the uncompressed
// sizes of the row groups' chunks; at least minBoundedBatch rows), so a
// query that streams a scan holds well under the limit. 0 or less: no
// bound beyond unitBuffer batches per worker.
func WithMemoryLimit(ctx context.Context, limit int64) context.Context {
	return context.WithValue(ctx, memoryLimitKey{}, limit)
}

func memoryLimit(ctx context.Context) int64 {
	n, _ := ctx.Value(memoryLimitKey{}).(int64)
	return max(n, 0)
}

// minBoundedBatch is the fewest rows a batch is cut to by a memory limit.
const minBoundedBatch = 1024

// errReaderClosed is the cause of a Reader's context once it is closed.
var errReaderClosed = errors.New("scan reader closed")

// Reader yields the batches of some tasks of a plan, in task order. Up to
// the plan's Concurrency files are decoded at once by worker goroutines that
// Open starts and Close (or the end of the stream) stops. A Reader is not
// safe for concurrent use, except Stats.
type Reader struct {
	schema *arrow.Schema
	plan   *Plan
	fs     icebergio.IO
	limit  int64

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	units  []*unit
	next   atomic.Int64 // the next unit a worker takes
	cur    int          // the unit Next reads from
	st     counters

	err    error
	done   bool
	closed bool
	// totals gathers the query's figures (nil: none); the reader adds its
	// own when it is closed.
	totals *Totals

	// queue bounds the bytes of the batches workers have handed over and
	// Next has not yet taken (see WithMemoryLimit).
	queue queueBound

	// Rows and Batches count what the reader returned.
	Rows, Batches int64
}

// Open starts reading tasks. The caller must Close the reader.
func (p *Plan) Open(ctx context.Context, tasks []table.FileScanTask) (*Reader, error) {
	return p.open(ctx, tasks, p.native != nil)
}

// open starts reading tasks, natively where possible when native is set.
func (p *Plan) open(ctx context.Context, tasks []table.FileScanTask, native bool) (*Reader, error) {
	r := &Reader{schema: p.schema, plan: p, limit: p.req.Limit, totals: totalsFrom(ctx)}
	r.queue.limit = memoryLimit(ctx) / 4
	r.queue.wake = make(chan struct{})
	r.totals.addPlan(p)
	if len(tasks) == 0 {
		r.done = true
		return r, nil
	}
	if native {
		fs, err := p.req.Table.FS(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", strings.Join(p.req.Table.Identifier(), "."), err)
		}
		r.fs = fs
	}
	for _, t := range tasks {
		if native && nativeTask(t) {
			r.units = append(r.units, &unit{tasks: []table.FileScanTask{t}, native: true})
			continue
		}
		if n := len(r.units); n > 0 && !r.units[n-1].native {
			r.units[n-1].tasks = append(r.units[n-1].tasks, t)
			continue
		}
		r.units = append(r.units, &unit{tasks: []table.FileScanTask{t}})
	}
	for _, u := range r.units {
		u.out = make(chan arrow.RecordBatch, unitBuffer)
	}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	workers := p.req.Concurrency
	if workers <= 0 {
		workers = 2
	}
	workers = min(workers, len(r.units))
	r.wg.Add(workers)
	for range workers {
		go r.work()
	}
	return r, nil
}

// work runs units in order until none is left or the reader is closed.
func (r *Reader) work() {
	defer r.wg.Done()
	for r.ctx.Err() == nil {
		i := int(r.next.Add(1) - 1)
		if i >= len(r.units) {
			return
		}
		u := r.units[i]
		u.err = r.run(u, i)
		close(u.out)
	}
}

// run reads one unit's tasks (the i-th) into its channel.
func (r *Reader) run(u *unit, i int) error {
	emit := func(rec arrow.RecordBatch) bool {
		if !r.queue.take(r.ctx, i, BatchBytes(rec, false)) {
			rec.Release()
			return false
		}
		select {
		case u.out <- rec:
			return true
		case <-r.ctx.Done():
			r.queue.give(BatchBytes(rec, false))
			rec.Release()
			return false
		}
	}
	if u.native {
		err := r.readNative(u.tasks[0], emit)
		if !errors.Is(err, errNotNative) {
			return err
		}
	}
	return r.readFallback(u.tasks, emit)
}

func (r *Reader) readNative(task table.FileScanTask, emit func(arrow.RecordBatch) bool) error {
	fr, err := r.plan.native.openFile(r.ctx, r.fs, task)
	if err != nil {
		return err
	}
	defer fr.close()
	r.st.files.Add(1)
	groups, err := fr.planRowGroups(&r.st)
	if err != nil {
		return err
	}
	return fr.read(r.ctx, groups, r.schema, &r.st, emit)
}

// readFallback reads tasks through iceberg-go.
func (r *Reader) readFallback(tasks []table.FileScanTask, emit func(arrow.RecordBatch) bool) error {
	r.st.files.Add(int64(len(tasks)))
	r.st.fallbackFiles.Add(int64(len(tasks)))
	_, seq, err := r.plan.scan.ReadTasks(r.ctx, tasks)
	if err != nil {
		return fmt.Errorf("read %s: %w", strings.Join(r.plan.req.Table.Identifier(), "."), err)
	}
	for rec, err := range seq {
		if err != nil {
			if rec != nil {
				rec.Release()
			}
			return err
		}
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		if !emit(normalize(rec, r.schema)) {
			return nil
		}
	}
	return nil
}

// Next returns the next batch, owned by the caller (who must Release it),
// or io.EOF at the end of the stream. Batches are never empty.
func (r *Reader) Next() (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	for !r.done && !r.closed && r.cur < len(r.units) {
		u := r.units[r.cur]
		var (
			rec arrow.RecordBatch
			ok  bool
		)
		select {
		case rec, ok = <-u.out:
		case <-r.ctx.Done():
			r.err = context.Cause(r.ctx)
			r.Close()
			return nil, r.err
		}
		if !ok {
			if u.err != nil {
				r.err = u.err
				r.Close()
				return nil, r.err
			}
			r.cur++
			r.queue.advance(r.cur)
			continue
		}
		r.queue.give(BatchBytes(rec, false))
		if r.limit > 0 && r.Rows+rec.NumRows() >= r.limit {
			if n := r.limit - r.Rows; n < rec.NumRows() {
				sliced := rec.NewSlice(0, n)
				rec.Release()
				rec = sliced
			}
			r.done = true
		}
		r.Rows += rec.NumRows()
		r.Batches++
		if r.done {
			r.Close()
		}
		return rec, nil
	}
	r.Close()
	return nil, io.EOF
}

// Close stops reading and releases what the reader holds. It is safe to call
// more than once; Stats stays readable.
func (r *Reader) Close() {
	if r.closed {
		return
	}
	r.closed = true
	defer func() { r.totals.addRead(r.Stats()) }()
	if r.cancel == nil {
		return
	}
	r.cancel(errReaderClosed)
	r.wg.Wait()
	for _, u := range r.units {
	drain:
		for {
			select {
			case rec, ok := <-u.out:
				if !ok {
					break drain
				}
				rec.Release()
			default:
				break drain
			}
		}
	}
}

// Stats returns the reader's figures so far: final once the stream ended or
// the reader is closed. It may be called from any goroutine.
func (r *Reader) Stats() ReadStats { return r.st.snapshot() }

// queueBound bounds the bytes of the batches a Reader's workers have
// handed over and its consumer has not taken. The worker of the unit the
// consumer reads always goes ahead (its channel bounds it), so that a
// worker ahead that waits for room never stalls the stream.
type queueBound struct {
	limit int64 // 0: no bound

	mu     sync.Mutex
	queued int64
	cur    int           // the unit the consumer reads
	wake   chan struct{} // closed and replaced when room is made
}

// take waits until size bytes fit (or unit is the one being read) and
// counts them; false when ctx ends first.
func (q *queueBound) take(ctx context.Context, unit int, size int64) bool {
	if q.limit <= 0 {
		return true
	}
	for {
		q.mu.Lock()
		if unit <= q.cur || q.queued+size <= q.limit || q.queued == 0 {
			q.queued += size
			q.mu.Unlock()
			return true
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		}
	}
}

// give returns size bytes taken and wakes the waiting workers.
func (q *queueBound) give(size int64) {
	if q.limit <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued -= size
	close(q.wake)
	q.wake = make(chan struct{})
}

// advance records that the consumer moved to unit cur.
func (q *queueBound) advance(cur int) {
	if q.limit <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cur = cur
	close(q.wake)
	q.wake = make(chan struct{})
}

// BatchBytes is the size of the buffers of a batch: their lengths, or
// with capacity their capacities (what the allocator handed out).
func BatchBytes(rec arrow.RecordBatch, capacity bool) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += arrayBytes(c.Data(), capacity)
	}
	return n
}

func arrayBytes(d arrow.ArrayData, capacity bool) int64 {
	var n int64
	for _, b := range d.Buffers() {
		switch {
		case b == nil:
		case capacity:
			n += int64(b.Cap())
		default:
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += arrayBytes(c, capacity)
	}
	return n
}
