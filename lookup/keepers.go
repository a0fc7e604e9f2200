package lookup

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/iceberg-go/table"
	"github.com/maypok86/otter/v2"

	"github.com/lakeflight/lakeflight/changes"
)

// fullKeeper holds the current version of a FULL index. Readers take a
// reference to a version; a refresh builds the next version aside and
// swaps it in, so readers never wait for a refresh.
type fullKeeper struct {
	name      string
	mu        sync.RWMutex
	cur       *Index
	behind    int
	refreshes int64
	last      time.Time
}

func newFullKeeper(ctx context.Context, tbl *table.Table, limit int64) (*fullKeeper, error) {
	ix, err := loadWithin(ctx, tbl, limit)
	if err != nil {
		return nil, err
	}
	return &fullKeeper{name: strings.Join(tbl.Identifier(), "."), cur: ix, last: time.Now()}, nil
}

func (f *fullKeeper) reader() Reader {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cur.acquire()
}

func (f *fullKeeper) refresh(ctx context.Context, tbl *table.Table) error {
	f.mu.RLock()
	cur := f.cur.acquire()
	f.mu.RUnlock()
	defer cur.Release()
	next, err := cur.Refresh(ctx, tbl)
	if err != nil {
		return err
	}
	f.mu.Lock()
	old := f.cur
	changed := next != cur
	if changed {
		f.cur = next
		f.refreshes++
	}
	f.last = time.Now()
	f.behind = max(behind(tbl, f.cur.snapshot), 0)
	f.mu.Unlock()
	if changed {
		old.Release()
	}
	return nil
}

func (f *fullKeeper) stats() TableStats {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return TableStats{Table: f.name, Mode: Full, Snapshot: f.cur.snapshot, Behind: f.behind, Bytes: f.cur.Bytes(),
		Keys: int64(f.cur.Len()), Refreshes: f.refreshes, LastRefresh: f.last}
}

func (f *fullKeeper) bytes() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cur.Bytes()
}

func (f *fullKeeper) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur.Release()
}

// acquire is another reference to the same version.
func (ix *Index) acquire() *Index {
	v := *ix
	v.base.ref()
	v.overlay.ref()
	return &v
}

// partialKeeper caches rows by key for one snapshot at a time. A miss is a
// point read, and keys not in the table are cached too. When the table
// commits a snapshot, the keys its changes touch are dropped from the
// cache and the cache moves to that snapshot, so every lookup answers
// from one snapshot.
//
// Cached rows point into the batches point reads returned; a batch is
// released when none of its rows is cached and no lookup is under way
// (evicted batches wait in a list until the lock shows no readers).
type partialKeeper struct {
	name    string
	tbl     *table.Table
	schema  *arrow.Schema
	keyCols []int
	cfg     TableConfig

	mu       sync.RWMutex // readers: lookups; writer: moving to a snapshot, freeing batches
	snapshot int64
	point    *PointReader
	cache    *otter.Cache[string, cachedRow]

	freeMu sync.Mutex
	free   []*rows

	hits, misses atomic.Int64
	refreshes    int64
	behind       int
	last         time.Time
}

// cachedRow is a row of a batch, or a key not in the table (from nil),
// and when it was cached. (The TTL is checked on reading rather than by
// the cache library, whose expiry runs a goroutine per cache that only
// the garbage collector stops.)
type cachedRow struct {
	from       *rows
	batch, row int32
	size       uint32
	born       int64 // unix nanoseconds
}

func newPartialKeeper(tbl *table.Table, cfg TableConfig) (*partialKeeper, error) {
	pr, err := NewPointReader(tbl, 0)
	if err != nil {
		return nil, err
	}
	p := &partialKeeper{name: strings.Join(tbl.Identifier(), "."), tbl: tbl, schema: pr.schema, keyCols: pr.keyCols, cfg: cfg,
		snapshot: pr.snapshot, point: pr, last: time.Now()}
	p.cache = otter.Must(&otter.Options[string, cachedRow]{
		MaximumWeight: uint64(cfg.CacheBytes),
		Weigher:       func(k string, v cachedRow) uint32 { return uint32(len(k)) + v.size + 64 },
		OnAtomicDeletion: func(e otter.DeletionEvent[string, cachedRow]) {
			if e.Value.from != nil {
				p.drop(e.Value.from)
			}
		},
	})
	return p, nil
}

func (p *partialKeeper) reader() Reader { return &partialReader{p: p} }

// partialReader is a reader of a PARTIAL table; Snapshot is the cache's at
// the time asked.
type partialReader struct{ p *partialKeeper }

func (r *partialReader) Schema() *arrow.Schema { return r.p.schema }
func (r *partialReader) Key() []int            { return r.p.keyCols }
func (r *partialReader) Mode() Mode            { return Partial }
func (r *partialReader) Release()              {}
func (r *partialReader) Snapshot() int64 {
	r.p.mu.RLock()
	defer r.p.mu.RUnlock()
	return r.p.snapshot
}

func (r *partialReader) Lookup(ctx context.Context, keys []arrow.Array, cols []int) (arrow.RecordBatch, error) {
	rec, err := r.p.lookup(ctx, keys, cols)
	r.p.sweep()
	return rec, err
}

func (p *partialKeeper) lookup(ctx context.Context, keys []arrow.Array, cols []int) (arrow.RecordBatch, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	ix := &Index{table: p.tbl.Identifier(), snapshot: p.snapshot, schema: p.schema, keyCols: p.keyCols}
	n := 0
	if len(keys) > 0 {
		n = keys[0].Len()
	}
	probeCols := make([]int, len(keys))
	for i := range probeCols {
		probeCols[i] = i
	}
	probe := array.NewRecordBatch(arrow.NewSchema(keyFields(keys), nil), keys, int64(n))
	defer probe.Release()
	picks := make([]pick, n)
	encoded := make([]string, n)
	now := time.Now().UnixNano()
	var missing []int
	for i := range n {
		if anyNull(probe, i) {
			continue
		}
		k := encodeKey(probe, i, probeCols)
		encoded[i] = k
		if c, ok := p.cache.GetIfPresent(k); ok && now-c.born < int64(p.cfg.TTL) {
			p.hits.Add(1)
			if c.from != nil {
				picks[i] = pick{from: c.from, batch: c.batch, row: c.row}
			}
			continue
		}
		p.misses.Add(1)
		missing = append(missing, i)
	}
	if len(missing) > 0 {
		if err := p.fill(ctx, keys, missing, encoded, picks); err != nil {
			return nil, err
		}
	}
	return ix.gather(ctx, picks, cols)
}

// fill reads the rows of the missing keys at the cache's snapshot, puts
// them (and the keys not found) in the cache and in picks.
func (p *partialKeeper) fill(ctx context.Context, keys []arrow.Array, missing []int, encoded []string, picks []pick) error {
	mem := compute.GetAllocator(ctx)
	sub := make([]arrow.Array, len(keys))
	for c, k := range keys {
		idx := array.NewInt64Builder(mem)
		for _, i := range missing {
			idx.Append(int64(i))
		}
		ia := idx.NewArray()
		idx.Release()
		t, err := compute.TakeArray(ctx, k, ia)
		ia.Release()
		if err != nil {
			for _, s := range sub[:c] {
				s.Release()
			}
			return err
		}
		sub[c] = t
	}
	defer func() {
		for _, s := range sub {
			s.Release()
		}
	}()
	found, err := p.point.read(ctx, sub)
	if err != nil {
		return err
	}
	found.overlay.unref()
	// The read's own reference to its rows goes like a cached row's: the
	// rows are freed once no lookup can be reading them.
	defer p.drop(found.base)
	// The found rows stay in their batches; each cached row holds a
	// reference to its batch's rows.
	now := time.Now().UnixNano()
	var per uint32
	if n := found.base.size(); n > 0 {
		per = uint32(found.base.bytes() / int64(n))
	}
	subRec := array.NewRecordBatch(arrow.NewSchema(keyFields(sub), nil), sub, int64(len(missing)))
	defer subRec.Release()
	subCols := make([]int, len(sub))
	for i := range subCols {
		subCols[i] = i
	}
	for j, i := range missing {
		k := encoded[i]
		at, ok := found.base.get(subRec, j, subCols)
		if !ok {
			p.cache.Set(k, cachedRow{born: now})
			continue
		}
		found.base.ref()
		// A value this replaces (another lookup cached the key meanwhile)
		// drops its reference through the deletion callback.
		pk := pickOf(found.base, at)
		p.cache.Set(k, cachedRow{from: found.base, batch: pk.batch, row: pk.row, size: per, born: now})
		picks[i] = pk
	}
	return nil
}

// drop lets go of a reference to r; the last one queues r to be freed.
func (p *partialKeeper) drop(r *rows) {
	if r.refs.Add(-1) == 0 {
		p.freeMu.Lock()
		p.free = append(p.free, r)
		p.freeMu.Unlock()
	}
}

// sweep frees the batches no cached row points into, when no lookup is
// under way.
func (p *partialKeeper) sweep() {
	p.freeMu.Lock()
	n := len(p.free)
	p.freeMu.Unlock()
	if n == 0 || !p.mu.TryLock() {
		return
	}
	defer p.mu.Unlock()
	p.freeMu.Lock()
	free := p.free
	p.free = nil
	p.freeMu.Unlock()
	for _, r := range free {
		r.release()
	}
}

// refresh moves the cache to tbl's current snapshot, dropping the keys its
// changes touch.
func (p *partialKeeper) refresh(ctx context.Context, tbl *table.Table) error {
	cur := tbl.CurrentSnapshot()
	p.mu.RLock()
	from := p.snapshot
	p.mu.RUnlock()
	if cur == nil || cur.SnapshotID == from {
		return nil
	}
	var touched []string
	var keyNames []string
	keyPos := make([]int, len(p.keyCols))
	for i, c := range p.keyCols {
		keyNames = append(keyNames, p.schema.Field(c).Name)
		keyPos[i] = i
	}
	var ups []upsert
	ok := false
	if from != 0 {
		var err error
		if ups, ok, err = upsertsSince(ctx, tbl, from, cur.SnapshotID); err != nil {
			return err
		}
	}
	if ok {
		err := upsertKeys(ctx, tbl, cur.SnapshotID, keyNames, ups, func(rec arrow.RecordBatch) {
			for i := range int(rec.NumRows()) {
				touched = append(touched, encodeKey(rec, i, keyPos))
			}
			rec.Release()
		})
		if err != nil {
			return err
		}
	} else if from != 0 {
		_, seq, err := changes.Read(ctx, changes.Request{Table: tbl, From: from, To: cur.SnapshotID})
		if err != nil {
			return err
		}
		for rec, err := range seq {
			if err != nil {
				return err
			}
			for i := range int(rec.NumRows()) {
				touched = append(touched, encodeKey(rec, i, p.keyCols))
			}
			rec.Release()
		}
	}
	pr, err := NewPointReader(tbl, cur.SnapshotID)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if from == 0 {
		p.cache.InvalidateAll()
	}
	for _, k := range touched {
		p.cache.Invalidate(k)
	}
	p.snapshot = cur.SnapshotID
	p.point = pr
	p.tbl = tbl
	p.refreshes++
	p.last = time.Now()
	p.behind = 0
	p.freeMu.Lock()
	free := p.free
	p.free = nil
	p.freeMu.Unlock()
	p.mu.Unlock()
	for _, r := range free {
		r.release()
	}
	return nil
}

func (p *partialKeeper) stats() TableStats {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return TableStats{Table: p.name, Mode: Partial, Snapshot: p.snapshot, Behind: p.behind, Bytes: int64(p.cache.WeightedSize()),
		Keys: int64(p.cache.EstimatedSize()), Hits: p.hits.Load(), Misses: p.misses.Load(), Refreshes: p.refreshes, LastRefresh: p.last}
}

// bytes is the cache's bound: it is reserved whole.
func (p *partialKeeper) bytes() int64 { return p.cfg.CacheBytes }

func (p *partialKeeper) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cache.InvalidateAll()
	p.cache.CleanUp()
	p.freeMu.Lock()
	free := p.free
	p.free = nil
	p.freeMu.Unlock()
	for _, r := range free {
		r.release()
	}
}
