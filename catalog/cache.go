package catalog

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
)

// ByteCache is a least-recently-used cache of immutable values, bounded by
// the bytes its values hold. It is safe for concurrent use.
type ByteCache[V any] struct {
	mu       sync.Mutex
	capacity int64
	size     int64
	order    *list.List // front = most recent; elements hold *cacheEntry[V]
	entries  map[string]*list.Element
	hits     int64
	misses   int64
}

type cacheEntry[V any] struct {
	key   string
	value V
	size  int64
}

// NewByteCache returns a cache holding at most capacity bytes (0 or less
// caches nothing).
func NewByteCache[V any](capacity int64) *ByteCache[V] {
	return &ByteCache[V]{capacity: capacity, order: list.New(), entries: map[string]*list.Element{}}
}

// Get returns the value under key and counts a hit or a miss.
func (c *ByteCache[V]) Get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		c.hits++
		return el.Value.(*cacheEntry[V]).value, true
	}
	c.misses++
	var zero V
	return zero, false
}

// Add stores value under key, weighing size bytes, and evicts the least
// recently used values beyond the capacity. A value larger than the whole
// capacity is not stored.
func (c *ByteCache[V]) Add(key string, value V, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.capacity {
		return
	}
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry[V])
		c.size += size - e.size
		e.value, e.size = value, size
		c.order.MoveToFront(el)
	} else {
		c.entries[key] = c.order.PushFront(&cacheEntry[V]{key: key, value: value, size: size})
		c.size += size
	}
	c.trim()
}

// trim evicts least recently used values until the cache fits its bound.
func (c *ByteCache[V]) trim() {
	for c.size > c.capacity && c.order.Len() > 0 {
		el := c.order.Back()
		e := el.Value.(*cacheEntry[V])
		c.order.Remove(el)
		delete(c.entries, e.key)
		c.size -= e.size
	}
}

// CacheStats are a cache's figures.
type CacheStats struct {
	Hits, Misses    int64
	Bytes, Capacity int64
	Entries         int
}

// Stats returns the cache's figures.
func (c *ByteCache[V]) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Bytes: c.size, Capacity: c.capacity, Entries: len(c.entries)}
}

// SetCapacity changes the bound, evicting what no longer fits.
func (c *ByteCache[V]) SetCapacity(capacity int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.capacity = capacity
	c.trim()
}

// DefaultManifestCacheBytes bounds the cache of manifest lists and
// manifests.
const DefaultManifestCacheBytes = 128 << 20

// Manifests caches the bytes of manifest lists and manifests by path: an
// Iceberg writer never rewrites one, so a path always holds the same bytes.
// Every table the catalog loads reads them through it.
var Manifests = NewByteCache[[]byte](DefaultManifestCacheBytes)

// isManifest reports whether path names a manifest list or a manifest
// (Avro files in a table's metadata folder).
func isManifest(path string) bool {
	return strings.HasSuffix(path, ".avro") && strings.Contains(path, "/metadata/")
}

// cachingIO reads manifest lists and manifests through Manifests and
// everything else from the wrapped IO.
type cachingIO struct {
	icebergio.IO
}

func (c cachingIO) Open(name string) (icebergio.File, error) {
	if !isManifest(name) {
		f, err := c.IO.Open(name)
		storage.requests.Add(1)
		if err != nil {
			return nil, err
		}
		return &countedFile{File: f}, nil
	}
	if b, ok := Manifests.Get(name); ok {
		return &memFile{Reader: bytes.NewReader(b), name: name, size: int64(len(b))}, nil
	}
	b, err := c.readAll(name)
	if err != nil {
		return nil, err
	}
	Manifests.Add(name, b, int64(len(b)))
	return &memFile{Reader: bytes.NewReader(b), name: name, size: int64(len(b))}, nil
}

func (c cachingIO) readAll(name string) ([]byte, error) {
	if rf, ok := c.IO.(icebergio.ReadFileIO); ok {
		b, err := rf.ReadFile(name)
		storage.reads.Add(1)
		storage.requests.Add(1)
		storage.bytes.Add(int64(len(b)))
		return b, err
	}
	f, err := c.IO.Open(name)
	storage.requests.Add(1)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(&countedFile{File: f})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// ReadFile serves whole-file reads the same way.
func (c cachingIO) ReadFile(name string) ([]byte, error) {
	if !isManifest(name) {
		return c.readAll(name)
	}
	f, err := c.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// WriteFile and Create pass writes through (lakeflight itself does not
// write tables; the methods keep the wrapped IO's abilities visible).
func (c cachingIO) WriteFile(name string, p []byte) error {
	if w, ok := c.IO.(icebergio.WriteFileIO); ok {
		return w.WriteFile(name, p)
	}
	return errors.ErrUnsupported
}

func (c cachingIO) Create(name string) (icebergio.FileWriter, error) {
	if w, ok := c.IO.(icebergio.WriteFileIO); ok {
		return w.Create(name)
	}
	return nil, errors.ErrUnsupported
}

// StorageStats count what tables read from their storage (local files or
// object storage). Cached manifest reads are not counted.
type StorageStats struct {
	// Reads is the number of read calls (sequential reads of an open
	// file included) and Bytes the bytes they returned.
	Reads, Bytes int64
	// Requests is the number of requests an object store would serve:
	// each open of a file (object storage IO starts a GET), each read at
	// an offset (a ranged GET) and each whole-file read. Sequential reads
	// of an open file continue its first request and are not counted.
	Requests int64
}

var storage struct{ reads, bytes, requests atomic.Int64 }

// Storage returns the storage figures since the process started.
func Storage() StorageStats {
	return StorageStats{Reads: storage.reads.Load(), Bytes: storage.bytes.Load(), Requests: storage.requests.Load()}
}

// countedFile counts the reads of a file and the bytes they return.
type countedFile struct {
	icebergio.File
}

func (f *countedFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	storage.reads.Add(1)
	storage.bytes.Add(int64(n))
	return n, err
}

func (f *countedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	storage.reads.Add(1)
	storage.requests.Add(1)
	storage.bytes.Add(int64(n))
	return n, err
}

// memFile is a cached file's bytes, read like the file.
type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{name: f.name, size: f.size}, nil }
func (f *memFile) Close() error               { return nil }

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name[strings.LastIndex(i.name, "/")+1:] }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
