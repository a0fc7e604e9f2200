package scan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/iceberg-go"
)

// A row group whose statistics leave the filter undecided is probed
// further, first through the dictionaries of its chunks, then through
// their bloom filters. A dictionary is used only when every data page of
// the chunk is dictionary-encoded: it then holds every non-null value of
// the chunk, and a row group none of whose dictionary values satisfies a
// comparison cannot match it. A bloom filter tells that a value is absent
// from its chunk, which decides = and IN. A probe only ever proves that no
// row matches: a dictionary or bloom filter that is missing, too large,
// unreadable or of a type not handled leaves the row group to be read.

const (
	// maxDictionaryBytes bounds the dictionary page a probe reads
	// (compressed, with its header). A row group the probe does not skip
	// reads its dictionary a second time; this bound and the row group's
	// limit (see rowGroupLookup) keep that cost small.
	maxDictionaryBytes = 1 << 20
	// maxDictionaryUncompressed bounds the decompressed dictionary page.
	maxDictionaryUncompressed = 4 << 20
	// maxBloomFilterBytes bounds the bloom filter a probe reads (with its
	// header); writers default to at most 1 MiB.
	maxBloomFilterBytes = 2 << 20
	// lookupBufferSize is the read buffer of dictionary page reads.
	lookupBufferSize = 4 << 10
)

// probeTest tests one row group through a lookup: rowsCannotMatch when
// what it read proves no row matches, else rowsMightMatch.
type probeTest func(lk *rowGroupLookup) verdict

// probeFilter holds the dictionary and bloom filter tests of a filter; a
// nil test means the filter has no predicate that source decides.
type probeFilter struct {
	dict, bloom probeTest
}

// newProbeFilter builds the probes of filter, bound to the file's Iceberg
// schema; columns are those of the statistics test. It returns nil when
// neither dictionaries nor bloom filters can decide anything.
func newProbeFilter(filter iceberg.BooleanExpression, columns map[int]statColumn) (*probeFilter, error) {
	if filter == nil {
		return nil, nil
	}
	rewritten, err := iceberg.RewriteNotExpr(filter)
	if err != nil {
		return nil, err
	}
	var pf probeFilter
	if pf.dict, err = iceberg.VisitExpr(rewritten, probeBuilder{columns: columns}); err != nil {
		return nil, err
	}
	if pf.bloom, err = iceberg.VisitExpr(rewritten, probeBuilder{columns: columns, bloom: true}); err != nil {
		return nil, err
	}
	if pf.dict == nil && pf.bloom == nil {
		return nil, nil
	}
	return &pf, nil
}

// probeBuilder builds the dictionary (or, with bloom, the bloom filter)
// test of a filter whose NOTs were rewritten. A nil test is one that
// always might match.
type probeBuilder struct {
	columns map[int]statColumn
	bloom   bool
}

// Constants are left to the statistics test, which decides them.
func (probeBuilder) VisitTrue() probeTest                            { return nil }
func (probeBuilder) VisitFalse() probeTest                           { return nil }
func (probeBuilder) VisitNot(probeTest) probeTest                    { return nil }
func (probeBuilder) VisitUnbound(iceberg.UnboundPredicate) probeTest { return nil }

func (probeBuilder) VisitAnd(l, r probeTest) probeTest {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	}
	return func(lk *rowGroupLookup) verdict {
		if l(lk) == rowsCannotMatch {
			return rowsCannotMatch
		}
		return r(lk)
	}
}

func (probeBuilder) VisitOr(l, r probeTest) probeTest {
	if l == nil || r == nil {
		return nil
	}
	return func(lk *rowGroupLookup) verdict {
		if l(lk) != rowsCannotMatch {
			return rowsMightMatch
		}
		return r(lk)
	}
}

func (b probeBuilder) VisitBound(pred iceberg.BoundPredicate) probeTest {
	ref, isRef := pred.Term().(iceberg.BoundReference)
	if !isRef {
		return nil
	}
	c, found := b.columns[ref.Field().ID]
	if !found || c.kind == kindNone {
		return nil
	}
	var lits []statValue
	switch p := pred.(type) {
	case iceberg.BoundSetPredicate:
		for _, l := range p.Literals().Members() {
			v, ok := literalValue(c, l)
			if !ok {
				return nil
			}
			lits = append(lits, v)
		}
	case iceberg.BoundLiteralPredicate:
		v, ok := literalValue(c, p.Literal())
		if !ok {
			return nil
		}
		lits = []statValue{v}
	}
	if b.bloom {
		return bloomTest(c, pred.Op(), lits)
	}
	return dictionaryTest(c, pred.Op(), lits)
}

// dictionaryTest is the dictionary test of one predicate: the row group
// cannot match when no value of the chunk's dictionary satisfies it and
// no NULL does. A NULL satisfies no comparison, but satisfies NOT IN (the
// row filter negates is_in, which is false for NULL).
func dictionaryTest(c statColumn, op iceberg.Operation, lits []statValue) probeTest {
	match := valueTest(c.kind, op, lits)
	if match == nil {
		return nil
	}
	nullsMatch := op == iceberg.OpNotIn
	return func(lk *rowGroupLookup) verdict {
		if nullsMatch && !lk.noNulls(c) {
			return rowsMightMatch
		}
		d := lk.dictionary(c)
		if d == nil {
			return rowsMightMatch
		}
		found, ok := d.any(c, match)
		if !ok || found {
			return rowsMightMatch
		}
		return rowsCannotMatch
	}
}

// valueTest returns whether one non-null value satisfies a predicate, or
// nil for a predicate not tested on values. NaN compares false except
// with != and NOT IN, as the row filter evaluates it.
func valueTest(kind statKind, op iceberg.Operation, lits []statValue) func(statValue) bool {
	nan := func(v statValue) bool { return kind == kindFloat && math.IsNaN(v.f) }
	switch op {
	case iceberg.OpIsNan:
		if kind != kindFloat {
			return nil
		}
		return nan
	case iceberg.OpIn, iceberg.OpNotIn:
		set := slices.Clone(lits)
		slices.SortFunc(set, func(a, b statValue) int { return compareValues(kind, a, b) })
		in := func(v statValue) bool {
			_, found := slices.BinarySearchFunc(set, v, func(a, b statValue) int { return compareValues(kind, a, b) })
			return found
		}
		if op == iceberg.OpIn {
			return func(v statValue) bool { return !nan(v) && in(v) }
		}
		return func(v statValue) bool { return nan(v) || !in(v) }
	}
	if len(lits) != 1 {
		return nil
	}
	lit := lits[0]
	cmp := func(v statValue) int { return compareValues(kind, v, lit) }
	switch op {
	case iceberg.OpEQ:
		return func(v statValue) bool { return !nan(v) && cmp(v) == 0 }
	case iceberg.OpNEQ:
		return func(v statValue) bool { return nan(v) || cmp(v) != 0 }
	case iceberg.OpLT:
		return func(v statValue) bool { return !nan(v) && cmp(v) < 0 }
	case iceberg.OpLTEQ:
		return func(v statValue) bool { return !nan(v) && cmp(v) <= 0 }
	case iceberg.OpGT:
		return func(v statValue) bool { return !nan(v) && cmp(v) > 0 }
	case iceberg.OpGTEQ:
		return func(v statValue) bool { return !nan(v) && cmp(v) >= 0 }
	case iceberg.OpStartsWith:
		if kind != kindBytes {
			return nil
		}
		return func(v statValue) bool { return bytes.HasPrefix(v.b, lit.b) }
	case iceberg.OpNotStartsWith:
		if kind != kindBytes {
			return nil
		}
		return func(v statValue) bool { return !bytes.HasPrefix(v.b, lit.b) }
	}
	return nil
}

// bloomTest is the bloom filter test of = and IN: the row group cannot
// match when the filter holds none of the literals.
func bloomTest(c statColumn, op iceberg.Operation, lits []statValue) probeTest {
	if op != iceberg.OpEQ && op != iceberg.OpIn {
		return nil
	}
	var keys [][]byte
	for _, l := range lits {
		k, ok := bloomKeys(c, l)
		if !ok {
			return nil
		}
		keys = append(keys, k...)
	}
	return func(lk *rowGroupLookup) verdict {
		bf := lk.bloomFilter(c.col)
		if bf == nil {
			return rowsMightMatch
		}
		h := bf.Hasher()
		for _, k := range keys {
			if bf.CheckHash(h.Sum64(k)) {
				return rowsMightMatch
			}
		}
		return rowsCannotMatch
	}
}

// bloomKeys are the plain encodings of the column's physical type of the
// values equal to v (what a writer hashes into the bloom filter): one, or
// for a floating-point zero both zeros. ok is false when the column's
// values are not hashed in one exact encoding.
func bloomKeys(c statColumn, v statValue) (keys [][]byte, ok bool) {
	// integer is the value of an int32 or int64 column (decimals stored
	// as integers hold their unscaled value).
	integer := func() (int64, bool) {
		switch c.kind {
		case kindInt:
			return v.i, true
		case kindDecimal:
			return decimalInt64(v.d)
		}
		return 0, false
	}
	switch c.phys {
	case parquet.Types.Int32:
		x, ok := integer()
		if !ok || x < math.MinInt32 || x > math.MaxInt32 {
			return nil, false
		}
		return [][]byte{binary.LittleEndian.AppendUint32(nil, uint32(int32(x)))}, true
	case parquet.Types.Int64:
		x, ok := integer()
		if !ok {
			return nil, false
		}
		return [][]byte{binary.LittleEndian.AppendUint64(nil, uint64(x))}, true
	case parquet.Types.Float:
		f := float32(v.f)
		if c.kind != kindFloat || float64(f) != v.f {
			return nil, false
		}
		keys = [][]byte{binary.LittleEndian.AppendUint32(nil, math.Float32bits(f))}
		if f == 0 {
			keys = append(keys, binary.LittleEndian.AppendUint32(nil, math.Float32bits(-f)))
		}
		return keys, true
	case parquet.Types.Double:
		if c.kind != kindFloat {
			return nil, false
		}
		keys = [][]byte{binary.LittleEndian.AppendUint64(nil, math.Float64bits(v.f))}
		if v.f == 0 {
			keys = append(keys, binary.LittleEndian.AppendUint64(nil, math.Float64bits(-v.f)))
		}
		return keys, true
	case parquet.Types.ByteArray:
		// A BYTE_ARRAY decimal may be written in more than one width.
		if c.kind != kindBytes {
			return nil, false
		}
		return [][]byte{v.b}, true
	case parquet.Types.FixedLenByteArray:
		switch c.kind {
		case kindBytes:
			return [][]byte{v.b}, true
		case kindDecimal:
			b, ok := bigEndianFixed(v.d, c.typeLen)
			return [][]byte{b}, ok
		}
	}
	return nil, false
}

// decimalInt64 is an unscaled decimal as an int64, if it fits.
func decimalInt64(d decimal128.Num) (int64, bool) {
	hi, lo := d.HighBits(), d.LowBits()
	if (hi == 0 && lo < 1<<63) || (hi == -1 && lo >= 1<<63) {
		return int64(lo), true
	}
	return 0, false
}

// bigEndianFixed is an unscaled decimal as n big-endian two's complement
// bytes, as FIXED_LEN_BYTE_ARRAY decimals are written; ok is false when it
// does not fit.
func bigEndianFixed(d decimal128.Num, n int) ([]byte, bool) {
	if n <= 0 {
		return nil, false
	}
	var be [16]byte
	binary.BigEndian.PutUint64(be[:8], uint64(d.HighBits()))
	binary.BigEndian.PutUint64(be[8:], d.LowBits())
	sign := byte(0)
	if d.HighBits() < 0 {
		sign = 0xff
	}
	out := make([]byte, n)
	if n >= 16 {
		for i := 0; i < n-16; i++ {
			out[i] = sign
		}
		copy(out[n-16:], be[:])
		return out, true
	}
	// The dropped bytes must be sign extension, and so the top bit of
	// what remains.
	for _, b := range be[:16-n] {
		if b != sign {
			return nil, false
		}
	}
	if be[16-n]&0x80 != sign&0x80 {
		return nil, false
	}
	copy(out, be[16-n:])
	return out, true
}

// rowGroupLookup is what the probes of one row group read: each chunk's
// dictionary and bloom filter at most once, and the bytes read.
type rowGroupLookup struct {
	fr    *fileRead
	index int
	rg    *metadata.RowGroupMetaData
	dicts map[int]*dictionary
	bloom map[int]metadata.BloomFilter
	// limit bounds the bytes the probes read: half the compressed size of
	// the chunks they may let the scan skip, so that a probe that proves
	// nothing costs at most half again the row group.
	limit int64
	// dictBytes and bloomBytes are the bytes read for dictionaries (part
	// of the row group's column chunks) and for bloom filters.
	dictBytes, bloomBytes int64
}

// left is how many more bytes the probes may read.
func (lk *rowGroupLookup) left() int64 { return lk.limit - lk.dictBytes - lk.bloomBytes }

// dictionary is the PLAIN-encoded values of a dictionary page.
type dictionary struct {
	data []byte
	n    int
}

// lookupInput reads a data file for probes, counting the bytes it reads
// and failing reads past its budget.
type lookupInput struct {
	src    parquet.ReaderAtSeeker
	read   int64
	budget int64
}

var errLookupBudget = errors.New("probe reads past its budget")

func (in *lookupInput) ReadAt(p []byte, off int64) (int, error) {
	if int64(len(p)) > in.budget {
		return 0, errLookupBudget
	}
	n, err := in.src.ReadAt(p, off)
	in.read += int64(n)
	in.budget -= int64(n)
	return n, err
}

func (in *lookupInput) Seek(off int64, whence int) (int64, error) { return in.src.Seek(off, whence) }

// lookupReader is a Parquet reader of the file for probes: it reads only
// the pages asked for, through the counting input.
func (fr *fileRead) lookupReader() (*file.Reader, error) {
	if fr.lookups != nil {
		return fr.lookups, nil
	}
	if fr.lookupIn == nil {
		return nil, errors.New("no input for probes")
	}
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = lookupBufferSize
	props.MaxCompressedPageSize = maxDictionaryBytes
	props.MaxUncompressedPageSize = maxDictionaryUncompressed
	r, err := file.NewParquetReader(fr.lookupIn, file.WithReadProps(props), file.WithMetadata(fr.pr.MetaData()))
	if err != nil {
		return nil, err
	}
	fr.lookups = r
	return r, nil
}

// newLookup starts probing row group i, whose chunks the scan reads are
// chunkBytes long.
func (fr *fileRead) newLookup(i int, rg *metadata.RowGroupMetaData, chunkBytes int64) *rowGroupLookup {
	return &rowGroupLookup{fr: fr, index: i, rg: rg, limit: chunkBytes / 2}
}

// read runs fn reading at most budget bytes of the file and returns the
// bytes it read. A panic in fn (a corrupt page the Parquet library does
// not reject) is an error: the probe then proves nothing.
func (lk *rowGroupLookup) read(budget int64, fn func() error) (n int64, err error) {
	in := lk.fr.lookupIn
	if in == nil {
		return 0, errors.New("no input for probes")
	}
	before := in.read
	in.budget = budget
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("probe: %v", r)
		}
		in.budget = 0
		n = in.read - before
	}()
	return 0, fn()
}

// noNulls reports whether a chunk is known to hold no NULL: its column
// cannot be NULL, or its statistics count none.
func (lk *rowGroupLookup) noNulls(c statColumn) bool {
	if lk.fr.pr.MetaData().Schema.Column(c.col).MaxDefinitionLevel() == 0 {
		return true
	}
	s, ok := readChunkStats(lk.rg, c)
	return ok && s.noNull()
}

// dictionary returns the dictionary of a column chunk whose data pages
// are all dictionary-encoded, or nil.
func (lk *rowGroupLookup) dictionary(c statColumn) *dictionary {
	if d, done := lk.dicts[c.col]; done {
		return d
	}
	if lk.dicts == nil {
		lk.dicts = map[int]*dictionary{}
	}
	d := lk.readDictionary(c)
	lk.dicts[c.col] = d
	return d
}

func (lk *rowGroupLookup) readDictionary(c statColumn) *dictionary {
	cc, err := lk.rg.ColumnChunk(c.col)
	if err != nil || !dictionaryEncoded(cc) {
		return nil
	}
	start, end := cc.DictionaryPageOffset(), cc.DataPageOffset()
	if start <= 0 || end <= start || end-start > min(maxDictionaryBytes, lk.left()) {
		return nil
	}
	var d *dictionary
	n, err := lk.read(end-start, func() error {
		r, err := lk.fr.lookupReader()
		if err != nil {
			return err
		}
		pages, err := r.RowGroup(lk.index).GetColumnPageReader(c.col)
		if err != nil {
			return err
		}
		defer pages.Close()
		page, err := pages.GetDictionaryPage()
		if err != nil {
			return err
		}
		if page == nil {
			return errors.New("no dictionary page")
		}
		switch parquet.Encoding(page.Encoding()) {
		case parquet.Encodings.Plain, parquet.Encodings.PlainDict:
		default:
			return fmt.Errorf("dictionary page encoding %s", parquet.Encoding(page.Encoding()))
		}
		if page.NumValues() < 0 {
			return errors.New("negative dictionary size")
		}
		d = &dictionary{data: bytes.Clone(page.Data()), n: int(page.NumValues())}
		return nil
	})
	lk.dictBytes += n
	if err != nil {
		return nil
	}
	return d
}

// dictionaryEncoded reports whether every data page of a chunk is
// dictionary-encoded, so that its dictionary holds all its values. The
// page encoding statistics tell; without them, a chunk written with the
// v1 PLAIN_DICTIONARY encoding and no other value encoding is (a v2
// chunk's PLAIN dictionary page cannot be told from PLAIN data pages).
func dictionaryEncoded(cc *metadata.ColumnChunkMetaData) bool {
	if !cc.HasDictionaryPage() {
		return false
	}
	if stats := cc.EncodingStats(); len(stats) > 0 {
		data := false
		for _, s := range stats {
			switch s.PageType {
			case file.PageTypeDictionaryPage:
				continue
			case file.PageTypeDataPage, file.PageTypeDataPageV2:
			default:
				return false
			}
			if s.Encoding != parquet.Encodings.PlainDict && s.Encoding != parquet.Encodings.RLEDict {
				return false
			}
			data = true
		}
		return data
	}
	dict := false
	for _, e := range cc.Encodings() {
		switch e {
		case parquet.Encodings.PlainDict:
			dict = true
		case parquet.Encodings.RLE, parquet.Encodings.BitPacked:
			// levels
		default:
			return false
		}
	}
	return dict
}

// any reports whether some value of the dictionary satisfies match; ok is
// false when the page does not decode as c's values.
func (d *dictionary) any(c statColumn, match func(statValue) bool) (found, ok bool) {
	data := d.data
	width := 0
	switch c.phys {
	case parquet.Types.Int32, parquet.Types.Float:
		width = 4
	case parquet.Types.Int64, parquet.Types.Double:
		width = 8
	case parquet.Types.FixedLenByteArray:
		width = c.typeLen
	case parquet.Types.ByteArray:
	default:
		return false, false
	}
	if width > 0 && len(data)/width < d.n {
		return false, false
	}
	for i := 0; i < d.n; i++ {
		var raw []byte
		if width > 0 {
			raw, data = data[:width], data[width:]
		} else {
			if len(data) < 4 {
				return false, false
			}
			l := binary.LittleEndian.Uint32(data)
			if uint64(l) > uint64(len(data)-4) {
				return false, false
			}
			raw, data = data[4:4+l], data[4+l:]
		}
		v, ok := plainValue(c, raw)
		if !ok {
			return false, false
		}
		if match(v) {
			return true, true
		}
	}
	return false, true
}

// plainValue decodes one PLAIN-encoded value of c's physical type into
// c's statistics domain.
func plainValue(c statColumn, raw []byte) (v statValue, ok bool) {
	switch c.phys {
	case parquet.Types.Int32:
		x := int64(int32(binary.LittleEndian.Uint32(raw)))
		switch c.kind {
		case kindInt:
			v.i = x
		case kindDecimal:
			v.d = decimal128.FromI64(x)
		default:
			return v, false
		}
	case parquet.Types.Int64:
		x := int64(binary.LittleEndian.Uint64(raw))
		switch c.kind {
		case kindInt:
			v.i = x
		case kindDecimal:
			v.d = decimal128.FromI64(x)
		default:
			return v, false
		}
	case parquet.Types.Float:
		if c.kind != kindFloat {
			return v, false
		}
		v.f = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw)))
	case parquet.Types.Double:
		if c.kind != kindFloat {
			return v, false
		}
		v.f = math.Float64frombits(binary.LittleEndian.Uint64(raw))
	case parquet.Types.ByteArray, parquet.Types.FixedLenByteArray:
		switch c.kind {
		case kindBytes:
			v.b = raw
		case kindDecimal:
			if v.d, ok = bigEndianDecimal(raw); !ok {
				return v, false
			}
		default:
			return v, false
		}
	default:
		return v, false
	}
	return v, true
}

// bloomFilter returns the bloom filter of a column chunk, or nil.
func (lk *rowGroupLookup) bloomFilter(col int) metadata.BloomFilter {
	if bf, done := lk.bloom[col]; done {
		return bf
	}
	if lk.bloom == nil {
		lk.bloom = map[int]metadata.BloomFilter{}
	}
	bf := lk.readBloomFilter(col)
	lk.bloom[col] = bf
	return bf
}

func (lk *rowGroupLookup) readBloomFilter(col int) metadata.BloomFilter {
	cc, err := lk.rg.ColumnChunk(col)
	if err != nil || cc.BloomFilterOffset() <= 0 {
		return nil
	}
	// Without a recorded length, the read stops at the budget.
	budget := min(maxBloomFilterBytes, lk.left())
	if l := int64(cc.BloomFilterLength()); l > 0 {
		if l > budget {
			return nil
		}
		budget = l
	}
	if budget <= 0 {
		return nil
	}
	var bf metadata.BloomFilter
	n, err := lk.read(budget, func() error {
		r, err := lk.fr.lookupReader()
		if err != nil {
			return err
		}
		rgr, err := r.GetBloomFilterReader().RowGroup(lk.index)
		if err != nil {
			return err
		}
		bf, err = rgr.GetColumnBloomFilter(col)
		return err
	})
	lk.bloomBytes += n
	if err != nil {
		return nil
	}
	return bf
}
