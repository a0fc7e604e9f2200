package scan

import (
	"bytes"
	"context"
	"io/fs"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
)

func TestMergeSpans(t *testing.T) {
	s := func(p ...int64) []byteSpan {
		var out []byteSpan
		for i := 0; i < len(p); i += 2 {
			out = append(out, byteSpan{p[i], p[i+1]})
		}
		return out
	}
	tests := []struct {
		name       string
		in         []byteSpan
		gap, limit int64
		want       []byteSpan
	}{
		{"touching merge with no gap", s(0, 10, 10, 20), 0, 100, s(0, 20)},
		{"a gap keeps them apart", s(0, 10, 11, 20), 0, 100, s(0, 10, 11, 20)},
		{"a small gap is read", s(0, 10, 15, 20), 5, 100, s(0, 20)},
		{"unsorted input", s(30, 40, 0, 10, 12, 20), 2, 100, s(0, 20, 30, 40)},
		{"overlaps", s(0, 10, 5, 8, 9, 12), 0, 100, s(0, 12)},
		{"the bound stops a merge", s(0, 40, 40, 80, 80, 120), 0, 80, s(0, 80, 80, 120)},
		{"a span over the bound stays whole", s(0, 200, 200, 210), 0, 100, s(0, 200, 200, 210)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mergeSpans(tc.in, tc.gap, tc.limit); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestObjectStorage(t *testing.T) {
	for path, want := range map[string]bool{
		"s3://b/wh/t/data/x.parquet":  true,
		"gs://b/x.parquet":            true,
		"file:///wh/t/data/x.parquet": false,
		"/wh/t/data/x.parquet":        false,
		"wh/t/data/x.parquet":         false,
		"abfss://c@a/wh/x.parquet":    true,
		"://no-scheme/wh/x.parquet":   false,
		"file:///odd/s3://x.parquet":  false,
		"s3a://b/wh/t/data/x.parquet": true,
		"memory://b/wh/t/data/x.parq": true,
	} {
		if got := objectStorage(path); got != want {
			t.Errorf("objectStorage(%q) = %v", path, got)
		}
	}
}

// countingFile is a file in memory that counts its reads at an offset.
type countingFile struct {
	*bytes.Reader
	reads atomic.Int64
}

func (f *countingFile) ReadAt(p []byte, off int64) (int, error) {
	f.reads.Add(1)
	return f.Reader.ReadAt(p, off)
}
func (f *countingFile) Close() error               { return nil }
func (f *countingFile) Stat() (fs.FileInfo, error) { return fileInfo{f.Size()}, nil }

type fileInfo struct{ size int64 }

func (i fileInfo) Name() string       { return "f" }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }

// TestPagedInputCoalescesARowGroup registers chunks of one row group (one
// read by pages) and checks that the first read fetches them all in the
// requests the gap and bound allow, that each chunk comes back with its
// bytes (the pages not needed zeroed), and that the buffers go with the
// last chunk.
func TestPagedInputCoalescesARowGroup(t *testing.T) {
	data := make([]byte, 10_000)
	for i := range data {
		data[i] = byte(i%251 + 1)
	}
	chunks := []fetchChunk{
		{chunk: byteSpan{0, 1000}},
		{chunk: byteSpan{1000, 3000}, need: []byteSpan{{1000, 1100}, {2500, 3000}}},
		{chunk: byteSpan{3200, 4000}},
		{chunk: byteSpan{9000, 10_000}},
	}
	opts := FetchOptions{MaxRequestBytes: 64 << 20, Concurrency: 2}
	tests := []struct {
		gap, limit int64
		requests   int
	}{
		{-1, 0, 4},      // not registered: one read per chunk
		{0, 1 << 20, 4}, // [0,1100) [2500,3000) [3200,4000) [9000,10000)
		{300, 1 << 20, 3},
		{5000, 1 << 20, 1},
		{5000, 2000, 3}, // [0,1100) [2500,4000) [9000,10000)
	}
	for _, tc := range tests {
		f := &countingFile{Reader: bytes.NewReader(data)}
		in := &pagedInput{File: f}
		o := opts
		o.MaxRequestBytes = max(tc.limit, 1)
		n := in.fetchGroup(chunks, tc.gap, o)
		if tc.gap >= 0 && n != tc.requests {
			t.Errorf("gap %d limit %d: %d requests planned, want %d", tc.gap, tc.limit, n, tc.requests)
		}
		for _, c := range chunks {
			p := make([]byte, c.chunk.end-c.chunk.off)
			if _, err := in.ReadAt(p, c.chunk.off); err != nil {
				t.Fatalf("gap %d: read %v: %v", tc.gap, c.chunk, err)
			}
			want := data[c.chunk.off:c.chunk.end]
			if c.need != nil && tc.gap >= 0 {
				want = make([]byte, len(p))
				for _, s := range c.need {
					copy(want[s.off-c.chunk.off:], data[s.off:s.end])
				}
			}
			if !bytes.Equal(p, want) {
				t.Errorf("gap %d: chunk %v has the wrong bytes", tc.gap, c.chunk)
			}
		}
		if got := f.reads.Load(); got != int64(tc.requests) {
			t.Errorf("gap %d limit %d: %d reads, want %d", tc.gap, tc.limit, got, tc.requests)
		}
		if len(in.fetches) != 0 {
			t.Errorf("gap %d: %d chunks left registered", tc.gap, len(in.fetches))
		}
	}
}

// TestPagedInputDropsUnreadFetches checks that chunks registered and never
// read are dropped with their buffers, and that a read of other bytes at
// a registered offset goes to the file.
func TestPagedInputDropsUnreadFetches(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 4000)
	f := &countingFile{Reader: bytes.NewReader(data)}
	in := &pagedInput{File: f}
	in.fetchGroup([]fetchChunk{{chunk: byteSpan{0, 1000}}, {chunk: byteSpan{1000, 2000}}}, 0, DefaultFetchOptions())
	g := in.fetches[0].g
	p := make([]byte, 500)
	if _, err := in.ReadAt(p, 0); err != nil || f.reads.Load() != 1 {
		t.Fatalf("a read of other bytes: %v, %d reads", err, f.reads.Load())
	}
	in.forgetFetches()
	if g.left != 0 || g.bufs != nil || len(in.fetches) != 0 {
		t.Errorf("after forgetting: %d chunks left, buffers %v", g.left, g.bufs != nil)
	}
}

// TestQueueBound checks that a worker ahead of the consumer waits for room
// while the worker of the unit being read never does.
func TestQueueBound(t *testing.T) {
	q := queueBound{limit: 100, wake: make(chan struct{})}
	ctx := t.Context()
	if !q.take(ctx, 1, 80) {
		t.Fatal("the first batch should fit")
	}
	if !q.take(ctx, 0, 80) {
		t.Fatal("the unit being read must never wait")
	}
	took := make(chan bool)
	go func() { took <- q.take(ctx, 2, 30) }()
	select {
	case <-took:
		t.Fatal("a worker ahead took room past the bound")
	case <-time.After(50 * time.Millisecond):
	}
	q.give(80)
	q.give(80)
	if !<-took {
		t.Fatal("the waiting worker should go on once room is made")
	}
	if q.queued != 30 {
		t.Errorf("%d bytes queued, want 30", q.queued)
	}
	// A waiting worker gives up when its context ends.
	q.take(ctx, 0, 90)
	cctx, cancel := context.WithCancel(ctx)
	go func() { took <- q.take(cctx, 3, 50) }()
	cancel()
	if <-took {
		t.Error("take succeeded after its context ended")
	}
}
