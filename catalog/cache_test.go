package catalog

import (
	"fmt"
	"testing"
)

func TestByteCacheEvictsLeastRecentlyUsedWithinItsBound(t *testing.T) {
	c := NewByteCache[string](100)
	for i := range 4 {
		c.Add(fmt.Sprint(i), fmt.Sprint("v", i), 30)
	}
	// 4 x 30 bytes do not fit in 100: the oldest went.
	if _, ok := c.Get("0"); ok {
		t.Error("entry 0 should have been evicted")
	}
	// Touch 1 so that 2 is now the least recently used.
	if v, ok := c.Get("1"); !ok || v != "v1" {
		t.Fatalf("entry 1: %q %v", v, ok)
	}
	c.Add("4", "v4", 30)
	if _, ok := c.Get("2"); ok {
		t.Error("entry 2 should have been evicted after 1 was used")
	}
	for _, k := range []string{"1", "3", "4"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("entry %s missing", k)
		}
	}
	st := c.Stats()
	if st.Bytes != 90 || st.Entries != 3 || st.Capacity != 100 {
		t.Errorf("stats %+v, want 90 bytes in 3 entries of 100", st)
	}
	if st.Hits != 4 || st.Misses != 2 {
		t.Errorf("hits %d misses %d, want 4 and 2", st.Hits, st.Misses)
	}
	// A value larger than the bound is not kept; shrinking evicts.
	c.Add("big", "x", 101)
	if _, ok := c.Get("big"); ok {
		t.Error("a value over the bound was kept")
	}
	c.SetCapacity(30)
	if st := c.Stats(); st.Bytes > 30 || st.Entries != 1 {
		t.Errorf("after shrinking: %+v", st)
	}
	if _, ok := c.Get("4"); !ok {
		t.Error("the most recent entry should survive shrinking")
	}
	c.SetCapacity(0)
	c.Add("a", "a", 1)
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("a zero bound must cache nothing: %+v", st)
	}
}

func TestIsManifest(t *testing.T) {
	for path, want := range map[string]bool{
		"file:///wh/ns/t/metadata/snap-1-1-abc.avro":       true,
		"s3://b/wh/ns/t/metadata/abc-m0.avro":              true,
		"file:///wh/ns/t/metadata/00001-abc.metadata.json": false,
		"file:///wh/ns/t/data/x.parquet":                   false,
		"file:///wh/ns/t/data/x.avro":                      false,
	} {
		if got := isManifest(path); got != want {
			t.Errorf("isManifest(%q) = %v", path, got)
		}
	}
}
