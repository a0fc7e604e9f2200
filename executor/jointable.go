package executor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeflight/lakeflight/expr"
)

// joinTable indexes the rows of a join's build side by key. head maps a key
// to the last row that has it and next chains each row to the one before it
// with the same key (-1 ends the chain), so that a key costs one map entry
// however many rows share it. A single string or integer-like key is
// indexed by value; other keys by their encoded bytes. Rows with a NULL key
// are not indexed. A joinTable is read-only once built, so several
// goroutines may probe it at once.
type joinTable struct {
	strs map[string]int32
	ints *intTable
	enc  map[string]int32
	next []int32
	keys int // distinct keys
	// filter is a one-hash Bloom filter over the integer keys of a large
	// table (8 bits a key): a probe that misses it skips the map, whose
	// lookups miss the CPU caches once the table outgrows them.
	filter []uint64
	shift  uint
	// pair: the ints map holds two integer keys packed into one (both
	// within [0, 2^32) on the build side).
	pair bool
}

// intKey reads row r's integer key: one integer-like column as it is, or
// two packed as a<<32|b.
type intKey func(r int) (k int64, st keyState)

type keyState int8

const (
	keyOK   keyState = iota
	keyNull          // a NULL key, which matches nothing
	keyWide          // a pair value outside [0, 2^32), which cannot be packed
)

// intKeyOf returns the key reader for one or two integer-like columns, or
// nil for other keys.
func intKeyOf(cols []arrow.Array) intKey {
	get := make([]func(int) int64, len(cols))
	for i, c := range cols {
		if c.DataType().ID() == arrow.BOOL {
			return nil
		}
		v, err := orderedInts(c)
		if err != nil {
			return nil
		}
		get[i] = v
	}
	switch len(cols) {
	case 1:
		c, v := cols[0], get[0]
		if raw, ok := c.(*array.Int64); ok {
			vals := raw.Int64Values()
			return func(r int) (int64, keyState) {
				if c.IsNull(r) {
					return 0, keyNull
				}
				return vals[r], keyOK
			}
		}
		return func(r int) (int64, keyState) {
			if c.IsNull(r) {
				return 0, keyNull
			}
			return v(r), keyOK
		}
	case 2:
		a, b, va, vb := cols[0], cols[1], get[0], get[1]
		return func(r int) (int64, keyState) {
			if a.IsNull(r) || b.IsNull(r) {
				return 0, keyNull
			}
			x, y := va(r), vb(r)
			if uint64(x) >= 1<<32 || uint64(y) >= 1<<32 {
				return 0, keyWide
			}
			return x<<32 | y, keyOK
		}
	}
	return nil
}

// bloomMinKeys is the table size from which integer keys get a filter.
const bloomMinKeys = 4096

func bloomSlot(k int64, shift uint) uint64 { return (uint64(k) * 0x9e3779b97f4a7c15) >> shift }

func (t *joinTable) buildFilter() {
	if t.ints.n < bloomMinKeys {
		return
	}
	bits := uint(3) // 8 bits a key, rounded up to a power of two
	for 1<<bits < t.ints.n*8 {
		bits++
	}
	t.shift = 64 - bits
	t.filter = make([]uint64, (1<<bits)/64)
	t.ints.each(func(k int64) {
		h := bloomSlot(k, t.shift)
		t.filter[h>>6] |= 1 << (h & 63)
	})
}

// mayHave reports whether integer key k can be in the table.
func (t *joinTable) mayHave(k int64) bool {
	if t.filter == nil {
		return true
	}
	h := bloomSlot(k, t.shift)
	return t.filter[h>>6]&(1<<(h&63)) != 0
}

// buildJoinTable indexes rec's rows by the values of keys.
func buildJoinTable(ctx context.Context, keys []expr.Expr, rec arrow.RecordBatch) (*joinTable, error) {
	writers, release, err := keyWriters(ctx, keys, rec)
	if err != nil {
		return nil, err
	}
	defer release()
	n := int(rec.NumRows())
	t := &joinTable{next: make([]int32, n)}
	if len(writers) == 1 {
		col := writers[0].col
		if arr, ok := col.(*array.String); ok {
			t.strs = make(map[string]int32, n)
			for r := 0; r < n; r++ {
				if arr.IsNull(r) {
					continue
				}
				k := arr.Value(r)
				if prev, ok := t.strs[k]; ok {
					t.next[r] = prev
					t.strs[k] = int32(r)
				} else {
					t.next[r] = -1
					t.strs[strings.Clone(k)] = int32(r)
				}
			}
			t.keys = len(t.strs)
			return t, nil
		}
	}
	cols := make([]arrow.Array, len(writers))
	for i, w := range writers {
		cols[i] = w.col
	}
	if key := intKeyOf(cols); key != nil && t.buildInts(key, n, len(cols) == 2) {
		return t, nil
	}
	t.enc = make(map[string]int32, n)
	var buf []byte
	for r := 0; r < n; r++ {
		var ok bool
		if buf, ok = encodeKey(buf[:0], writers, r); !ok {
			continue
		}
		if prev, ok := t.enc[string(buf)]; ok {
			t.next[r] = prev
		} else {
			t.next[r] = -1
		}
		t.enc[string(buf)] = int32(r)
	}
	t.keys = len(t.enc)
	return t, nil
}

// buildInts indexes n rows by integer key. For a pair it gives up (false)
// when a value does not fit the packing.
func (t *joinTable) buildInts(key intKey, n int, pair bool) bool {
	ints := newIntTable(n)
	for r := 0; r < n; r++ {
		k, st := key(r)
		if st == keyWide {
			return false
		}
		if st == keyNull {
			continue
		}
		if prev, found := ints.put(k, int32(r)); found {
			t.next[r] = prev
		} else {
			t.next[r] = -1
		}
	}
	t.ints, t.pair, t.keys = ints, pair, ints.n
	t.buildFilter()
	return true
}

// size is an estimate of the bytes the table holds outside Arrow buffers.
func (t *joinTable) size(keyLen int) int64 {
	n := int64(t.keys)*int64(40+keyLen) + int64(len(t.next))*4 + int64(len(t.filter))*8
	if t.ints != nil {
		n = int64(len(t.ints.slots))*16 + int64(len(t.next))*4 + int64(len(t.filter))*8
	}
	return n
}

// probe appends to li and ri the pairs (probe row, build row) whose keys
// are equal, for the rows of rec evaluated with keys (which have the build
// keys' types).
func (t *joinTable) probe(ctx context.Context, keys []expr.Expr, rec arrow.RecordBatch, li, ri []int32) ([]int32, []int32, error) {
	err := t.lookup(ctx, keys, rec, func(l int, r int32) {
		for ; r >= 0; r = t.next[r] {
			li, ri = append(li, int32(l)), append(ri, r)
		}
	})
	return li, ri, err
}

// contains reports, per row of rec, whether its keys are in the table.
func (t *joinTable) contains(ctx context.Context, keys []expr.Expr, rec arrow.RecordBatch) ([]bool, error) {
	found := make([]bool, rec.NumRows())
	err := t.lookup(ctx, keys, rec, func(l int, _ int32) { found[l] = true })
	return found, err
}

// lookup calls hit with each row of rec whose keys are in the table and the
// last build row with those keys.
func (t *joinTable) lookup(ctx context.Context, keys []expr.Expr, rec arrow.RecordBatch, hit func(l int, r int32)) error {
	writers, release, err := keyWriters(ctx, keys, rec)
	if err != nil {
		return err
	}
	defer release()
	n := int(rec.NumRows())
	switch {
	case t.strs != nil:
		arr := writers[0].col.(*array.String)
		for l := 0; l < n; l++ {
			if arr.IsNull(l) {
				continue
			}
			if r, ok := t.strs[arr.Value(l)]; ok {
				hit(l, r)
			}
		}
	case t.ints != nil:
		cols := make([]arrow.Array, len(writers))
		for i, w := range writers {
			cols[i] = w.col
		}
		key := intKeyOf(cols)
		if key == nil {
			return fmt.Errorf("join keys %v do not match the table's integer keys", keys)
		}
		for l := 0; l < n; l++ {
			k, st := key(l)
			if st != keyOK || !t.mayHave(k) {
				continue
			}
			if r, ok := t.ints.get(k); ok {
				hit(l, r)
			}
		}
	default:
		var buf []byte
		for l := 0; l < n; l++ {
			var ok bool
			if buf, ok = encodeKey(buf[:0], writers, l); !ok {
				continue
			}
			if r, ok := t.enc[string(buf)]; ok {
				hit(l, r)
			}
		}
	}
	return nil
}

// parallelProbe runs a join's probe in several goroutines: each takes the
// next input batch (one at a time, under mu), transforms it with probe and
// sends the result on. Each result is non-empty and owned by the reader.
type parallelProbe struct {
	nextIn  func() (arrow.RecordBatch, error)
	probe   func(arrow.RecordBatch) (arrow.RecordBatch, error)
	out     chan exchangeItem
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex // guards nextIn and eof
	eof     bool
	done    bool
	stopped bool
}

func startParallelProbe(j *HashJoin) *parallelProbe {
	return startParallel(j.ctx, j.Workers, j.nextLeft, j.probe)
}

// startParallel starts workers goroutines that read batches with next (one
// at a time) and transform each with probe; the worker releases the input
// batch after probe returns.
func startParallel(ctx context.Context, workers int, next func() (arrow.RecordBatch, error), probe func(arrow.RecordBatch) (arrow.RecordBatch, error)) *parallelProbe {
	ctx, cancel := context.WithCancel(ctx)
	p := &parallelProbe{nextIn: next, probe: probe, out: make(chan exchangeItem, workers), cancel: cancel}
	for w := 0; w < workers; w++ {
		p.wg.Add(1)
		go p.work(ctx)
	}
	go func() { p.wg.Wait(); close(p.out) }()
	return p
}

func (p *parallelProbe) work(ctx context.Context) {
	defer p.wg.Done()
	send := func(it exchangeItem) bool { return sendItem(ctx, p.out, it) }
	for ctx.Err() == nil {
		p.mu.Lock()
		if p.eof {
			p.mu.Unlock()
			return
		}
		in, err := p.nextIn()
		if err != nil {
			// The end, or an error: either way no one reads on.
			p.eof = true
		}
		p.mu.Unlock()
		if err == io.EOF {
			return
		}
		if err != nil {
			send(exchangeItem{err: err})
			return
		}
		rec, err := p.probe(in)
		in.Release()
		if err != nil {
			send(exchangeItem{err: err})
			return
		}
		if rec == nil || rec.NumRows() == 0 {
			if rec != nil {
				rec.Release()
			}
			continue
		}
		if !send(exchangeItem{rec: rec}) {
			return
		}
	}
}

func (p *parallelProbe) next() (arrow.RecordBatch, error) {
	if p.done {
		return nil, io.EOF
	}
	it, ok := <-p.out
	switch {
	case !ok:
		p.done = true
		return nil, io.EOF
	case it.err != nil:
		p.done = true
		return nil, it.err
	}
	return it.rec, nil
}

// stop cancels the workers, releases what they sent and waits for them.
func (p *parallelProbe) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	p.cancel()
	for it := range p.out {
		if it.rec != nil {
			it.rec.Release()
		}
	}
}

// intTable maps integer keys to row numbers by open addressing: a slot
// holds a key and its row (plus one, so that zero marks an empty slot),
// side by side so that a lookup usually reads one cache line. It is kept
// at most half full.
type intTable struct {
	slots []intSlot
	shift uint
	n     int
}

type intSlot struct {
	key int64
	row int32 // row + 1; 0 for an empty slot
}

func newIntTable(capacity int) *intTable {
	bits := uint(4)
	for 1<<bits < 2*capacity {
		bits++
	}
	return &intTable{slots: make([]intSlot, 1<<bits), shift: 64 - bits}
}

func (t *intTable) home(k int64) uint64 { return (uint64(k) * 0xff51afd7ed558ccd) >> t.shift }

// put sets k's row and returns the row it replaces, if any.
func (t *intTable) put(k int64, row int32) (prev int32, found bool) {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.row == 0 {
			s.key, s.row = k, row+1
			t.n++
			return 0, false
		}
		if s.key == k {
			prev = s.row - 1
			s.row = row + 1
			return prev, true
		}
	}
}

func (t *intTable) get(k int64) (int32, bool) {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.row == 0 {
			return 0, false
		}
		if s.key == k {
			return s.row - 1, true
		}
	}
}

// add inserts a key known to be absent, doubling the table first when it
// would be more than half full.
func (t *intTable) add(k int64, row int32) {
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		t.slots = make([]intSlot, 2*len(old))
		t.shift--
		t.n = 0
		for _, s := range old {
			if s.row != 0 {
				t.put(s.key, s.row-1)
			}
		}
	}
	t.put(k, row)
}

// each calls fn with every key.
func (t *intTable) each(fn func(k int64)) {
	for _, s := range t.slots {
		if s.row != 0 {
			fn(s.key)
		}
	}
}
