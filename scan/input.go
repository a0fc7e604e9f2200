package scan

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/metadata"
	icebergio "github.com/apache/iceberg-go/io"
	"golang.org/x/sync/errgroup"
)

// pagedInput is what a file's Parquet reader reads from. Reads pass
// through to the file, except two kinds:
//
//   - a column chunk for which a page plan is registered (see planChunk):
//     the Parquet reader asks for the whole chunk in one read; only the
//     planned spans (the dictionary page and the pages holding rows to
//     read) are fetched, the rest of the buffer is left zero. The column
//     reader seeks over the pages not fetched through the offset index
//     and never looks at their bytes.
//   - a column chunk registered with fetchGroup: the first read of any
//     chunk of the row group fetches the bytes every registered chunk of
//     the row group needs (whole chunks, or their planned spans), merged
//     into as few requests as the fetch options allow; each chunk is then
//     served from memory, and the row group's buffers are dropped once
//     every chunk was served.
//   - a region registered with keepRegion (the page index regions of a
//     row group; the filter columns' chunks that late materialization
//     reads twice): the first read of it is kept, and later reads of the
//     same bytes are served from memory. Each column reader of a row group
//     reads the offset indexes again to seek.
//
// A pagedInput belongs to one fileRead; its methods lock anyway, since the
// Parquet reader's callers are not documented to be single-threaded.
type pagedInput struct {
	icebergio.File

	mu      sync.Mutex
	chunks  map[int64][]byteSpan // by the chunk's first byte
	regions map[byteSpan]*keptRegion
	// fetches are the registered chunks of coalesced row group fetches,
	// by the chunk's first byte.
	fetches map[int64]*chunkFetch
	// indexBytes counts the bytes of page index regions fetched since
	// takeIndexBytes.
	indexBytes int64
}

// keptRegion is a region registered with keepRegion: its bytes once read.
type keptRegion struct {
	data  []byte
	index bool // a page index region (counted in indexBytes)
}

// byteSpan is the bytes [off, end) of a file.
type byteSpan struct{ off, end int64 }

// pageGapBytes is the largest gap between two spans of a chunk that is
// read rather than skipped: one read costs more than a few KiB of bytes.
const pageGapBytes = 8 << 10

// chunkStart is where the Parquet reader starts reading a column chunk
// (as file.RowGroupReader computes it).
func chunkStart(cc *metadata.ColumnChunkMetaData) int64 {
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && start > cc.DictionaryPageOffset() {
		start = cc.DictionaryPageOffset()
	}
	return start
}

// planChunk registers that only the pages keep says of a column chunk are
// to be fetched, and returns the bytes that then are not. It registers
// nothing and returns 0 when the page locations do not lie inside the
// chunk.
func (in *pagedInput) planChunk(cc *metadata.ColumnChunkMetaData, locs []*metadata.PageLocation, keep []bool) int64 {
	start := chunkStart(cc)
	end := start + cc.TotalCompressedSize()
	if len(locs) == 0 || locs[0].Offset < start {
		return 0
	}
	// Everything before the first data page (the dictionary page) is
	// fetched.
	spans := []byteSpan{{start, locs[0].Offset}}
	for i, l := range locs {
		s := byteSpan{l.Offset, l.Offset + int64(l.CompressedPageSize)}
		if s.end > end {
			return 0
		}
		if !keep[i] {
			continue
		}
		if last := &spans[len(spans)-1]; s.off-last.end <= pageGapBytes {
			last.end = max(last.end, s.end)
		} else {
			spans = append(spans, s)
		}
	}
	var fetched int64
	for _, s := range spans {
		fetched += s.end - s.off
	}
	skipped := end - start - fetched
	if skipped <= 0 {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.chunks == nil {
		in.chunks = map[int64][]byteSpan{}
	}
	in.chunks[start] = spans
	return skipped
}

// keepRegion registers a region whose reads are kept; index says it is a
// page index region.
func (in *pagedInput) keepRegion(s byteSpan, index bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.regions == nil {
		in.regions = map[byteSpan]*keptRegion{}
	}
	if _, ok := in.regions[s]; !ok {
		in.regions[s] = &keptRegion{index: index}
	}
}

// forgetRegions drops kept regions.
func (in *pagedInput) forgetRegions(regions []byteSpan) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range regions {
		delete(in.regions, r)
	}
}

// forgetChunks drops the page plans of chunks not read.
func (in *pagedInput) forgetChunks() {
	in.mu.Lock()
	defer in.mu.Unlock()
	clear(in.chunks)
}

// takeIndexBytes returns the bytes of page index regions fetched since
// the last call.
func (in *pagedInput) takeIndexBytes() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := in.indexBytes
	in.indexBytes = 0
	return n
}

func (in *pagedInput) ReadAt(p []byte, off int64) (n int, err error) {
	in.mu.Lock()
	spans, planned := in.chunks[off]
	// A planned chunk is read once.
	delete(in.chunks, off)
	region := byteSpan{off, off + int64(len(p))}
	kept := in.regions[region]
	cf := in.fetches[off]
	if cf != nil {
		delete(in.fetches, off)
	}
	in.mu.Unlock()
	if kept != nil && kept.data != nil {
		cf.done()
		return copy(p, kept.data), nil
	}
	switch {
	case cf != nil && cf.chunk == region:
		n, err = cf.serve(p, in.File)
	case planned && spans[len(spans)-1].end <= region.end:
		cf.done()
		n, err = in.readSpans(p, off, spans)
	default:
		cf.done()
		n, err = in.File.ReadAt(p, off)
	}
	if kept != nil && err == nil && n == len(p) {
		in.mu.Lock()
		kept.data = slices.Clone(p)
		if kept.index {
			in.indexBytes += int64(n)
		}
		in.mu.Unlock()
	}
	return n, err
}

// readSpans fills the spans of p (which holds the bytes from off) from the
// file and zeroes the rest.
func (in *pagedInput) readSpans(p []byte, off int64, spans []byteSpan) (int, error) {
	pos := off
	for _, s := range spans {
		clear(p[pos-off : s.off-off])
		if s.end > s.off {
			n, err := in.File.ReadAt(p[s.off-off:s.end-off], s.off)
			if n != int(s.end-s.off) {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return int(s.off-off) + n, fmt.Errorf("read pages at %d: %d of %d bytes: %w", s.off, n, s.end-s.off, err)
			}
		}
		pos = s.end
	}
	clear(p[pos-off:])
	return len(p), nil
}

// FetchOptions say how the scan's Parquet reader fetches the column chunks
// of a row group: the byte ranges it needs (the chunks of the columns read,
// or of a chunk read by row ranges its dictionary page and the pages kept)
// are merged across gaps of at most the gap of the file's storage into
// requests of at most MaxRequestBytes, fetched at once up to Concurrency.
type FetchOptions struct {
	// ObjectGapBytes is the largest gap between two ranges fetched in one
	// request from object storage (s3://, gs://, ...): a request costs
	// tens of milliseconds, the time to transfer about a MiB. Default
	// 1 MiB. Negative: every chunk is fetched on its own, as it is read.
	ObjectGapBytes int64
	// LocalGapBytes is the same for local files, where a read costs little
	// more than its bytes. Default 0: local files are not coalesced, each
	// chunk is read on its own as it is needed (measured on a file of 20
	// columns, BenchmarkFetchLocal: coalescing saved no time and cost 5%
	// more CPU, to copy the bytes out of the merged buffers).
	LocalGapBytes int64
	// MaxRequestBytes bounds the bytes ranges are merged into (a single
	// range larger than it is still one request). Default 64 MiB.
	MaxRequestBytes int64
	// Concurrency is how many requests of one row group run at once.
	// Default 4.
	Concurrency int
}

// DefaultFetchOptions returns the defaults of FetchOptions.
func DefaultFetchOptions() FetchOptions {
	return FetchOptions{ObjectGapBytes: 1 << 20, MaxRequestBytes: 64 << 20, Concurrency: 4}
}

// ErrInvalidFetchOptions means fetch options that cannot be used.
var ErrInvalidFetchOptions = errors.New("invalid fetch options")

// withDefaults fills the zero fields with the defaults and checks the rest.
func (o FetchOptions) withDefaults() (FetchOptions, error) {
	d := DefaultFetchOptions()
	if o.ObjectGapBytes == 0 {
		o.ObjectGapBytes = d.ObjectGapBytes
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = d.MaxRequestBytes
	}
	if o.Concurrency == 0 {
		o.Concurrency = d.Concurrency
	}
	switch {
	case o.LocalGapBytes < 0:
		return o, fmt.Errorf("%w: local gap %d", ErrInvalidFetchOptions, o.LocalGapBytes)
	case o.MaxRequestBytes < 0:
		return o, fmt.Errorf("%w: request bound %d", ErrInvalidFetchOptions, o.MaxRequestBytes)
	case o.Concurrency < 0:
		return o, fmt.Errorf("%w: concurrency %d", ErrInvalidFetchOptions, o.Concurrency)
	}
	return o, nil
}

// gapFor is the merge gap for a data file at path: -1 for none (every
// chunk its own read).
func (o FetchOptions) gapFor(path string) int64 {
	if objectStorage(path) {
		return o.ObjectGapBytes
	}
	if o.LocalGapBytes <= 0 {
		return -1
	}
	return o.LocalGapBytes
}

// objectStorage reports whether path names an object in object storage
// rather than a local file.
func objectStorage(path string) bool {
	i := strings.Index(path, "://")
	if i <= 0 {
		return false
	}
	return path[:i] != "file"
}

// groupFetch is the coalesced fetch of the chunks of one row group.
type groupFetch struct {
	opts FetchOptions
	// want are the byte spans the chunks need, sorted and merged.
	want []byteSpan

	once sync.Once
	mu   sync.Mutex
	reqs []byteSpan
	bufs [][]byte // bufs[i] holds the bytes of reqs[i]
	err  error
	left int // chunks registered and not yet served or dropped
}

// chunkFetch is one chunk of a groupFetch: the bytes the Parquet reader
// reads for it (chunk) and those of them it needs (need; the rest is
// left zero).
type chunkFetch struct {
	g     *groupFetch
	chunk byteSpan
	need  []byteSpan
}

// fetchChunk is a chunk to register with fetchGroup.
type fetchChunk struct {
	chunk byteSpan
	// need is nil for the whole chunk.
	need []byteSpan
}

// fetchGroup registers the chunks of a row group as one coalesced fetch
// with a merge gap of gap bytes (negative: not registered). Chunks whose
// page plan (planChunk) is registered need only its spans; chunks kept in
// memory already are left out. It returns the number of requests the
// fetch will make.
func (in *pagedInput) fetchGroup(chunks []fetchChunk, gap int64, opts FetchOptions) int {
	if gap < 0 || len(chunks) == 0 {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	g := &groupFetch{opts: opts}
	var regs []*chunkFetch
	for _, c := range chunks {
		if k := in.regions[c.chunk]; k != nil && k.data != nil {
			continue
		}
		if _, dup := in.fetches[c.chunk.off]; dup {
			continue
		}
		need := c.need
		if spans, ok := in.chunks[c.chunk.off]; ok {
			if spans[len(spans)-1].end > c.chunk.end {
				continue
			}
			need = spans
		}
		if need == nil {
			need = []byteSpan{c.chunk}
		}
		need = slices.DeleteFunc(slices.Clone(need), func(s byteSpan) bool { return s.end <= s.off })
		regs = append(regs, &chunkFetch{g: g, chunk: c.chunk, need: need})
		g.want = append(g.want, need...)
	}
	if len(regs) == 0 {
		return 0
	}
	g.want = mergeSpans(g.want, 0, math.MaxInt64)
	g.reqs = mergeSpans(g.want, gap, opts.MaxRequestBytes)
	g.left = len(regs)
	if in.fetches == nil {
		in.fetches = map[int64]*chunkFetch{}
	}
	for _, r := range regs {
		in.fetches[r.chunk.off] = r
	}
	return len(g.reqs)
}

// forgetFetches drops the registered chunks not read, and the buffers
// of their fetches.
func (in *pagedInput) forgetFetches() {
	in.mu.Lock()
	fetches := in.fetches
	in.fetches = nil
	in.mu.Unlock()
	for _, cf := range fetches {
		cf.done()
	}
}

// mergeSpans sorts spans and merges those at most gap bytes apart, as long
// as the merged span stays within limit bytes.
func mergeSpans(spans []byteSpan, gap, limit int64) []byteSpan {
	spans = slices.Clone(spans)
	slices.SortFunc(spans, func(a, b byteSpan) int { return cmp.Compare(a.off, b.off) })
	out := spans[:0]
	for _, s := range spans {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if s.off-last.end <= gap && max(last.end, s.end)-last.off <= limit {
				last.end = max(last.end, s.end)
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// fetch reads the group's requests from f, at most opts.Concurrency at
// once, the first time it is called.
func (g *groupFetch) fetch(f io.ReaderAt) error {
	g.once.Do(func() {
		bufs := make([][]byte, len(g.reqs))
		var eg errgroup.Group
		eg.SetLimit(max(g.opts.Concurrency, 1))
		for i, r := range g.reqs {
			eg.Go(func() error {
				b := make([]byte, r.end-r.off)
				n, err := f.ReadAt(b, r.off)
				if n != len(b) {
					if err == nil || errors.Is(err, io.EOF) {
						err = io.ErrUnexpectedEOF
					}
					return fmt.Errorf("read %d bytes at %d: %w", len(b), r.off, err)
				}
				bufs[i] = b
				return nil
			})
		}
		err := eg.Wait()
		g.mu.Lock()
		defer g.mu.Unlock()
		g.err = err
		if err == nil && g.left > 0 {
			g.bufs = bufs
		}
	})
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// serve fills p (the bytes of the chunk) from the group's fetch, zeroing
// what the chunk does not need, and marks the chunk served.
func (cf *chunkFetch) serve(p []byte, f io.ReaderAt) (int, error) {
	defer cf.done()
	g := cf.g
	if err := g.fetch(f); err != nil {
		return 0, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(p)
	for _, s := range cf.need {
		i, _ := slices.BinarySearchFunc(g.reqs, s.off, func(r byteSpan, off int64) int {
			if r.end <= off {
				return -1
			}
			if r.off > off {
				return 1
			}
			return 0
		})
		if i >= len(g.reqs) || g.bufs == nil || g.reqs[i].off > s.off || g.reqs[i].end < s.end {
			return 0, fmt.Errorf("read pages at %d: bytes not fetched", s.off)
		}
		r := g.reqs[i]
		copy(p[s.off-cf.chunk.off:s.end-cf.chunk.off], g.bufs[i][s.off-r.off:s.end-r.off])
	}
	return len(p), nil
}

// done marks the chunk served (or dropped); the group's buffers go with
// its last chunk. It is safe on a nil chunkFetch.
func (cf *chunkFetch) done() {
	if cf == nil {
		return
	}
	g := cf.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.left--; g.left <= 0 {
		g.bufs = nil
	}
}

// prefetch registers the chunks of leaves in each row group of groups as
// one coalesced fetch per row group (see pagedInput). The caller drops
// what was not read with fr.in.forgetFetches.
func (fr *fileRead) prefetch(groups, leaves []int) {
	gap := fr.np.fetch.gapFor(fr.task.File.FilePath())
	if gap < 0 {
		return
	}
	md := fr.pr.MetaData()
	for _, g := range groups {
		rg := md.RowGroup(g)
		chunks := make([]fetchChunk, 0, len(leaves))
		for _, col := range leaves {
			cc, err := rg.ColumnChunk(col)
			if err != nil {
				continue
			}
			start := chunkStart(cc)
			chunks = append(chunks, fetchChunk{chunk: byteSpan{start, start + cc.TotalCompressedSize()}})
		}
		fr.in.fetchGroup(chunks, gap, fr.np.fetch)
	}
}
