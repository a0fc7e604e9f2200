package lookup

import (
	"hash/maphash"
	"math/bits"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// keyTable maps keys to rows of a set of batches: open addressing with
// linear probing over 16-byte slots. A key of one integer column is kept
// in its slot; other keys keep their 64-bit hash, and a match is checked
// against the key columns of the row the slot points to, so that the
// table holds no copy of the keys.
type keyTable struct {
	slots []slot
	// mem is where slots came from when they are a mapping of their own
	// (large tables); nil for the Go heap.
	mem  []byte
	mask uint64
	n    int
	// ints is set when the key is one integer column.
	ints bool
}

// slot is a key (or its hash) and a row: (batch+1)<<32 | row, with the top
// bit set for a deleted key. Zero is an empty slot.
type slot struct {
	key uint64
	row uint64
}

const deletedBit = 1 << 63

func packRow(batch, row int32, deleted bool) uint64 {
	v := uint64(batch+1)<<32 | uint64(uint32(row))
	if deleted {
		v |= deletedBit
	}
	return v
}

func unpackRow(v uint64) (batch, row int32, deleted bool) {
	return int32((v&^deletedBit)>>32) - 1, int32(uint32(v)), v&deletedBit != 0
}

func newKeyTable(ints bool, n int) *keyTable {
	size := 16
	for size*3 < n*4 {
		size *= 2
	}
	t := &keyTable{mask: uint64(size - 1), ints: ints}
	t.slots, t.mem = allocSlots(size)
	return t
}

// allocSlots makes n empty slots: large tables in huge-page mappings (read
// at random, like the index's columns), small ones on the Go heap.
func allocSlots(n int) ([]slot, []byte) {
	if n*16 < hugeMin {
		return make([]slot, n), nil
	}
	b := huge.Allocate(n * 16) // zeroed: fresh anonymous memory
	if len(b) == 0 {
		return make([]slot, n), nil
	}
	return unsafe.Slice((*slot)(unsafe.Pointer(&b[0])), n), b
}

// free returns mapped slots; the table is empty afterwards.
func (t *keyTable) free() {
	if t.mem != nil {
		huge.Free(t.mem)
	}
	t.slots, t.mem, t.n = nil, nil, 0
}

func (t *keyTable) bytes() int64 { return int64(len(t.slots)) * 16 }

// mix spreads an integer key over the table.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	return k
}

// findInt finds an integer key's slot: its row, and whether it is there.
func (t *keyTable) findInt(k int64) (uint64, bool) {
	i := mix(uint64(k)) & t.mask
	for {
		s := &t.slots[i]
		if s.row == 0 {
			return 0, false
		}
		if s.key == uint64(k) {
			return s.row, true
		}
		i = (i + 1) & t.mask
	}
}

// touchSink keeps what touchInts read.
var touchSink uint64

// touchInts reads the first slot of each key, for the memory system to
// fetch them at once; it returns a value only so the reads are kept.
func (t *keyTable) touchInts(keys []int64) uint64 {
	var acc uint64
	for _, k := range keys {
		acc += t.slots[mix(uint64(k))&t.mask].row
	}
	return acc
}

// find finds a hashed key's slot, eq telling whether a row holds the key.
func (t *keyTable) find(h uint64, eq func(row uint64) bool) (uint64, bool) {
	i := mix(h) & t.mask
	for {
		s := &t.slots[i]
		if s.row == 0 {
			return 0, false
		}
		if s.key == h && eq(s.row) {
			return s.row, true
		}
		i = (i + 1) & t.mask
	}
}

// put sets the row of a key (an integer, or a hash whose rows eq checks),
// replacing the row of an equal key.
func (t *keyTable) put(key uint64, row uint64, eq func(row uint64) bool) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	i := mix(key) & t.mask
	for {
		s := &t.slots[i]
		if s.row == 0 {
			*s = slot{key: key, row: row}
			t.n++
			return
		}
		if s.key == key && (t.ints || eq(s.row)) {
			s.row = row
			return
		}
		i = (i + 1) & t.mask
	}
}

func (t *keyTable) grow() {
	old, oldMem := t.slots, t.mem
	t.slots, t.mem = allocSlots(len(old) * 2)
	t.mask = uint64(len(t.slots) - 1)
	defer func() {
		if oldMem != nil {
			huge.Free(oldMem)
		}
	}()
	for _, s := range old {
		if s.row == 0 {
			continue
		}
		i := mix(s.key) & t.mask
		for t.slots[i].row != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = s
	}
}

func (t *keyTable) clone() *keyTable {
	c := *t
	c.slots, c.mem = allocSlots(len(t.slots))
	copy(c.slots, t.slots)
	return &c
}

// all calls fn for each slot in use.
func (t *keyTable) all(fn func(key, row uint64)) {
	for _, s := range t.slots {
		if s.row != 0 {
			fn(s.key, s.row)
		}
	}
}

var hashSeed = maphash.MakeSeed()

// hashRow hashes the key columns of row i of rec. Integers of any width
// hash alike, as do strings and binaries with the same bytes.
func hashRow(rec arrow.RecordBatch, i int, cols []int) uint64 {
	if len(cols) == 1 {
		return hashValue(rec.Column(cols[0]), i)
	}
	var h uint64
	for _, c := range cols {
		h = bits.RotateLeft64(h, 23) ^ mix(hashValue(rec.Column(c), i))
	}
	return h
}

func hashValue(a arrow.Array, i int) uint64 {
	if v, ok := intValue(a, i); ok {
		return uint64(v)
	}
	switch x := a.(type) {
	case *array.String:
		return maphash.String(hashSeed, x.Value(i))
	case *array.LargeString:
		return maphash.String(hashSeed, x.Value(i))
	case *array.Binary:
		return maphash.Bytes(hashSeed, x.Value(i))
	}
	return maphash.String(hashSeed, a.ValueStr(i))
}

// sameKey tells whether row i of a and row j of b hold equal keys in
// columns ac and bc.
func sameKey(a arrow.RecordBatch, i int, ac []int, b arrow.RecordBatch, j int, bc []int) bool {
	for k := range ac {
		if !sameValue(a.Column(ac[k]), i, b.Column(bc[k]), j) {
			return false
		}
	}
	return true
}

func sameValue(a arrow.Array, i int, b arrow.Array, j int) bool {
	if x, ok := intValue(a, i); ok {
		y, ok := intValue(b, j)
		return ok && x == y
	}
	switch x := a.(type) {
	case *array.String:
		if y, ok := b.(*array.String); ok {
			return x.Value(i) == y.Value(j)
		}
	case *array.Binary:
		if y, ok := b.(*array.Binary); ok {
			return string(x.Value(i)) == string(y.Value(j))
		}
	}
	return a.ValueStr(i) == b.ValueStr(j)
}
