// Command lookup measures FULL and PARTIAL lookups in process on a keyed
// dimension table written as Iceberg, with probe keys drawn Zipf(s):
//
//	go run ./bench/lookup --dir /tmp/lookupbench [--rows 10000000] [--probes 100000000]
//
// It prints one JSON object of figures (bench/lookup/bench.py turns them
// into docs/benchmarks.md). The table (bench.dim: id bigint key, name,
// category, x, y, floor) is written on the first run and reused.
//
// Figures:
//   - load: a FULL index loaded from the table, its time, the Arrow bytes
//     of its columns and the bytes it holds (columns and key table), and
//     what the process's resident memory grew by (the index's large
//     buffers are mappings of their own, outside the Go heap);
//   - full: lookups of 1,000-key batches returning the key column, the
//     name and floor, and every column, on one goroutine (name and floor
//     also on GOMAXPROCS goroutines), in keys per second;
//   - refresh: the table changed by 1%, by upserts (equality deletes and
//     new rows in one snapshot) and by rewriting a key range, each refresh
//     timed against a reload;
//   - cache: the hit ratio of otter (W-TinyLFU), theine (W-TinyLFU with an
//     adaptive window) and an LRU (hashicorp/golang-lru) holding 10% of
//     the keys, over the same probes, against the share of the 10% most
//     frequent keys; and of the PARTIAL keeper itself over a prefix of them.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	theine "github.com/Yiling-J/theine-go"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/maypok86/otter/v2"

	"github.com/lakeflight/lakeflight/catalog"
	"github.com/lakeflight/lakeflight/lookup"
)

// columnSet is the speed of FULL lookups returning some columns.
type columnSet struct {
	Columns                string  `json:"columns"`
	OneGoroutineKeysPerSec float64 `json:"keys_per_sec_one_goroutine"`
	AllGoroutineKeysPerSec float64 `json:"keys_per_sec_all_goroutines,omitempty"`
}

type figures struct {
	Rows    int64   `json:"rows"`
	Probes  int64   `json:"probes"`
	Zipf    float64 `json:"zipf"`
	Batch   int     `json:"batch"`
	Threads int     `json:"threads"`

	LoadSeconds float64 `json:"load_seconds"`
	ArrowBytes  int64   `json:"arrow_bytes"`
	IndexBytes  int64   `json:"index_bytes"`
	KeyBytes    int64   `json:"key_table_bytes"`
	HeapBytes   int64   `json:"heap_bytes"`
	RSSBytes    int64   `json:"rss_bytes"`

	// Full has the FULL lookups of each column set on one goroutine, and
	// of the second set on every core.
	Full      []columnSet `json:"full"`
	MissRatio float64     `json:"miss_ratio"`

	UpsertRefreshSeconds float64 `json:"refresh_upsert_seconds"`
	RangeRefreshSeconds  float64 `json:"refresh_range_seconds"`
	ReloadSeconds        float64 `json:"reload_seconds"`

	OtterHitRatio   float64 `json:"otter_hit_ratio"`
	TheineHitRatio  float64 `json:"theine_hit_ratio"`
	StaticHitRatio  float64 `json:"static_hit_ratio"`
	LRUHitRatio     float64 `json:"lru_hit_ratio"`
	PartialHitRatio float64 `json:"partial_hit_ratio"`
	PartialProbes   int64   `json:"partial_probes"`
	PartialKeysSec  float64 `json:"partial_keys_per_sec"`

	// DataFiles are the table's data files before any change, and
	// whether it had delete files (a peer can read the files as the
	// table only without them).
	DataFiles   []string `json:"data_files"`
	DeleteFiles bool     `json:"has_delete_files"`
}

func main() {
	dir := flag.String("dir", "", "folder for the catalog and table (reused)")
	rows := flag.Int64("rows", 10_000_000, "rows of the dimension")
	probes := flag.Int64("probes", 100_000_000, "probe keys")
	s := flag.Float64("zipf", 1.0, "Zipf exponent of the probe keys")
	batch := flag.Int("batch", 1000, "keys per lookup")
	partialProbes := flag.Int64("partial-probes", 2_000_000, "probe keys through the PARTIAL keeper (its misses are point reads)")
	colSets := flag.String("column-sets", "id;name,floor;*", "the column sets FULL lookups return, separated by ';' (* for all columns); the second is also run on every core")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the FULL lookups to this file")
	fresh := flag.Bool("fresh", false, "write the table anew even if it is there")
	onlyRefresh := flag.Bool("only-refresh", false, "measure only the load and the refreshes")
	skipRefresh := flag.Bool("skip-refresh", false, "do not change the table (keeps it for the next run)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("--dir is required")
	}
	ctx := context.Background()
	f := figures{Rows: *rows, Probes: *probes, Zipf: *s, Batch: *batch, Threads: runtime.GOMAXPROCS(0)}
	cat, ident := open(ctx, *dir, *rows, *fresh)
	defer cat.Close()

	var keys []int64
	if !*onlyRefresh {
		keys = zipfKeys(*probes, *rows, *s)
		log.Printf("%d probe keys drawn", len(keys))
	}

	// FULL: load, size, lookups.
	tbl, err := cat.LoadTable(ctx, ident)
	check(err)
	tasks, err := tbl.Scan().PlanFiles(ctx)
	check(err)
	for _, t := range tasks {
		f.DataFiles = append(f.DataFiles, strings.TrimPrefix(t.File.FilePath(), "file://"))
		f.DeleteFiles = f.DeleteFiles || len(t.DeleteFiles)+len(t.EqualityDeleteFiles) > 0
	}
	debug.FreeOSMemory()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := rss()
	start := time.Now()
	ix, err := lookup.Load(ctx, tbl)
	check(err)
	f.LoadSeconds = time.Since(start).Seconds()
	// What the index holds: garbage of the load returned to the system.
	debug.FreeOSMemory()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	f.HeapBytes = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	f.RSSBytes = rss() - rssBefore
	f.IndexBytes = ix.Bytes()
	f.ArrowBytes, f.KeyBytes = ix.Sizes()
	log.Printf("loaded %d keys in %.2fs: %d arrow bytes, %d in the index, heap +%d, rss +%d", ix.Len(), f.LoadSeconds, f.ArrowBytes, f.IndexBytes, f.HeapBytes, f.RSSBytes)

	if !*onlyRefresh {
		if *cpuProfile != "" {
			pf, err := os.Create(*cpuProfile)
			check(err)
			check(pprof.StartCPUProfile(pf))
		}
		for si, set := range strings.Split(*colSets, ";") {
			var cols []int
			name := set
			if set == "*" {
				cols, name = nil, "all"
			} else {
				for _, n := range strings.Split(set, ",") {
					idx := ix.Schema().FieldIndices(n)
					if len(idx) != 1 {
						log.Fatalf("no column %q", n)
					}
					cols = append(cols, idx[0])
				}
			}
			cs := columnSet{Columns: name}
			var miss float64
			cs.OneGoroutineKeysPerSec, miss = probeAll(ctx, ix, keys, *batch, 1, cols)
			f.MissRatio = miss
			log.Printf("%s, one goroutine: %.1fM keys/s", name, cs.OneGoroutineKeysPerSec/1e6)
			if si == 1 {
				cs.AllGoroutineKeysPerSec, _ = probeAll(ctx, ix, keys, *batch, runtime.GOMAXPROCS(0), cols)
				log.Printf("%s, %d goroutines: %.1fM keys/s", name, runtime.GOMAXPROCS(0), cs.AllGoroutineKeysPerSec/1e6)
			}
			f.Full = append(f.Full, cs)
		}
		if *cpuProfile != "" {
			pprof.StopCPUProfile()
		}

		// Cache policies at 10% of the keys, over the same probes.
		f.OtterHitRatio, f.TheineHitRatio, f.LRUHitRatio = hitRatios(keys, int(*rows/10))
		f.StaticHitRatio = staticShare(*rows, int(*rows/10), *s)
		log.Printf("hit ratio at 10%%: otter %.3f, theine %.3f, lru %.3f (the 10%% most frequent keys: %.3f)",
			f.OtterHitRatio, f.TheineHitRatio, f.LRUHitRatio, f.StaticHitRatio)

		// The PARTIAL keeper itself, sized for 10% of the rows.
		perRow := f.ArrowBytes / max(*rows, 1)
		m := lookup.NewManager(lookup.Options{Catalog: cat, Memory: 8 << 30,
			Default: lookup.TableConfig{Mode: lookup.Partial, CacheBytes: (*rows / 10) * (perRow + 96), TTL: time.Hour, Refresh: time.Hour}})
		pr, err := m.Reader(ctx, ident, lookup.Partial)
		check(err)
		n := min(*partialProbes, int64(len(keys)))
		start = time.Now()
		_, _ = probeAll(ctx, pr, keys[:n], *batch, 1, nil)
		f.PartialKeysSec = float64(n) / time.Since(start).Seconds()
		f.PartialProbes = n
		for _, st := range m.Stats() {
			f.PartialHitRatio = float64(st.Hits) / float64(max(st.Hits+st.Misses, 1))
		}
		log.Printf("partial over %d probes: hit ratio %.3f, %.0f keys/s", n, f.PartialHitRatio, f.PartialKeysSec)
		pr.Release()
		m.Close()
	}

	if !*skipRefresh {
		// A 1% change the way streaming writers commit upserts: one
		// snapshot with equality deletes of 1% of the keys, drawn at
		// random, and their new rows.
		rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
		changed := make([]int64, 0, *rows/100)
		seen := map[int64]bool{}
		for int64(len(changed)) < *rows/100 {
			k := rnd.Int64N(*rows)
			if !seen[k] {
				seen[k] = true
				changed = append(changed, k)
			}
		}
		slices.Sort(changed)
		upsert(ctx, cat, ident, changed, 1)
		tbl, err = cat.LoadTable(ctx, ident)
		check(err)
		start = time.Now()
		next, err := ix.Refresh(ctx, tbl)
		check(err)
		f.UpsertRefreshSeconds = time.Since(start).Seconds()
		ix.Release()
		ix = next
		log.Printf("refresh after upserting 1%% of the keys: %.3fs", f.UpsertRefreshSeconds)

		// A 1% change of a key range rewritten copy-on-write: the files
		// holding it are replaced.
		lo := *rows / 2
		hi := lo + *rows/100
		commit(ctx, cat, ident, func(tx *table.Transaction) error {
			return tx.OverwriteTable(ctx, dimTable(lo, hi, 2), 1<<20, nil,
				table.WithOverwriteFilter(iceberg.NewAnd(
					iceberg.GreaterThanEqual(iceberg.Reference("id"), lo),
					iceberg.LessThan(iceberg.Reference("id"), hi))))
		})
		tbl, err = cat.LoadTable(ctx, ident)
		check(err)
		start = time.Now()
		next, err = ix.Refresh(ctx, tbl)
		check(err)
		f.RangeRefreshSeconds = time.Since(start).Seconds()
		ix.Release()
		ix = next
		log.Printf("refresh after a 1%% range rewrite: %.3fs", f.RangeRefreshSeconds)

		start = time.Now()
		full, err := lookup.Load(ctx, tbl)
		check(err)
		f.ReloadSeconds = time.Since(start).Seconds()
		if full.Len() != ix.Len() {
			log.Fatalf("refreshed index has %d keys, a reload %d", ix.Len(), full.Len())
		}
		full.Release()
		log.Printf("full reload: %.3fs", f.ReloadSeconds)
	}
	ix.Release()
	out, _ := json.MarshalIndent(f, "", "  ")
	fmt.Println(string(out))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

var dimSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "y", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "floor", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
}, nil)

var categories = []string{"fashion", "food", "electronics", "sports", "books", "toys", "beauty", "home"}

// dimTable is rows [lo, hi) of the dimension at a version.
func dimTable(lo, hi int64, version int) arrow.Table {
	b := array.NewRecordBuilder(memory.DefaultAllocator, dimSchema)
	defer b.Release()
	var recs []arrow.RecordBatch
	for id := lo; id < hi; id++ {
		appendRow(b, id, version)
		if (id-lo+1)%(1<<20) == 0 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	recs = append(recs, b.NewRecordBatch())
	t := array.NewTableFromRecords(dimSchema, recs)
	for _, r := range recs {
		r.Release()
	}
	return t
}

func appendRow(b *array.RecordBuilder, id int64, version int) {
	b.Field(0).(*array.Int64Builder).Append(id)
	b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("shop %d v%d", id, version))
	b.Field(2).(*array.StringBuilder).Append(categories[id%int64(len(categories))])
	b.Field(3).(*array.Float64Builder).Append(float64(id%1000) / 10)
	b.Field(4).(*array.Float64Builder).Append(float64(id%997) / 10)
	b.Field(5).(*array.Int32Builder).Append(int32(id % 7))
}

// open opens (or writes) the catalog with bench.dim of n rows.
func open(ctx context.Context, dir string, n int64, fresh bool) (*catalog.Catalog, table.Identifier) {
	check(os.MkdirAll(dir, 0o755))
	cat, err := catalog.Open(ctx, catalog.Options{URI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "wh")})
	check(err)
	ident := table.Identifier{"bench", fmt.Sprintf("dim%d", n)}
	if _, err := cat.LoadTable(ctx, ident); err == nil {
		if !fresh {
			return cat, ident
		}
		check(cat.Iceberg().DropTable(ctx, ident))
	}
	_ = cat.Iceberg().CreateNamespace(ctx, table.Identifier{"bench"}, nil)
	sch := iceberg.NewSchemaWithIdentifiers(0, []int{1},
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "name", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "category", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "x", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 5, Name: "y", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 6, Name: "floor", Type: iceberg.PrimitiveTypes.Int32},
	)
	_, err = cat.Iceberg().CreateTable(ctx, ident, sch)
	check(err)
	start := time.Now()
	const chunk = 1_000_000
	for lo := int64(0); lo < n; lo += chunk {
		t := dimTable(lo, min(lo+chunk, n), 0)
		commit(ctx, cat, ident, func(tx *table.Transaction) error { return tx.AppendTable(ctx, t, 1<<20, nil) })
		t.Release()
	}
	log.Printf("wrote %s: %d rows in %.1fs", ident, n, time.Since(start).Seconds())
	return cat, ident
}

func commit(ctx context.Context, cat *catalog.Catalog, ident table.Identifier, fn func(*table.Transaction) error) {
	tbl, err := cat.LoadTable(ctx, ident)
	check(err)
	tx := tbl.NewTransaction()
	check(fn(tx))
	_, err = tx.Commit(ctx)
	check(err)
}

// zipfKeys draws n keys in [0, rows) with P(rank k) proportional to
// 1/k^s; ranks map to keys through a fixed permutation, so hot keys are
// spread over the table.
func zipfKeys(n, rows int64, s float64) []int64 {
	cdf := make([]float64, rows)
	sum := 0.0
	for k := int64(0); k < rows; k++ {
		sum += 1 / math.Pow(float64(k+1), s)
		cdf[k] = sum
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	perm := make([]int64, rows)
	for i := range perm {
		perm[i] = int64(i)
	}
	rnd.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	out := make([]int64, n)
	for i := range out {
		u := rnd.Float64() * sum
		out[i] = perm[sort.SearchFloat64s(cdf, u)]
	}
	return out
}

// probeAll looks keys up in batches on g goroutines; keys per second and
// the share of misses.
func probeAll(ctx context.Context, r lookup.Reader, keys []int64, batch, g int, cols []int) (float64, float64) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var misses int64
	nb := (len(keys) + batch - 1) / batch
	start := time.Now()
	for w := range g {
		wg.Go(func() {
			var miss int64
			for b := w; b < nb; b += g {
				lo, hi := b*batch, min((b+1)*batch, len(keys))
				arr := int64Array(keys[lo:hi])
				rec, err := r.Lookup(ctx, []arrow.Array{arr}, cols)
				check(err)
				if rec.NumCols() > 0 {
					miss += int64(rec.Column(0).NullN())
				}
				rec.Release()
				arr.Release()
			}
			mu.Lock()
			misses += miss
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(len(keys)) / time.Since(start).Seconds(), float64(misses) / float64(len(keys))
}

// int64Array views keys as an Arrow array without copying.
func int64Array(keys []int64) arrow.Array {
	buf := memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(keys))
	data := array.NewData(arrow.PrimitiveTypes.Int64, len(keys), []*memory.Buffer{nil, buf}, nil, 0, 0)
	defer data.Release()
	return array.NewInt64Data(data)
}

// hitRatios replays the probes through otter, theine and an LRU of
// capacity keys.
func hitRatios(keys []int64, capacity int) (float64, float64, float64) {
	oc := otter.Must(&otter.Options[int64, struct{}]{MaximumSize: capacity})
	lc, err := lru.New[int64, struct{}](capacity)
	check(err)
	tc, err := theine.NewBuilder[int64, struct{}](int64(capacity)).Build()
	check(err)
	defer tc.Close()
	var oh, lh, th int64
	for _, k := range keys {
		if _, ok := oc.GetIfPresent(k); ok {
			oh++
		} else {
			oc.Set(k, struct{}{})
		}
		if _, ok := lc.Get(k); ok {
			lh++
		} else {
			lc.Add(k, struct{}{})
		}
		if _, ok := tc.Get(k); ok {
			th++
		} else {
			tc.Set(k, struct{}{}, 1)
		}
	}
	n := float64(len(keys))
	return float64(oh) / n, float64(th) / n, float64(lh) / n
}

// staticShare is the hit ratio of a cache holding the capacity most
// frequent keys of Zipf(s) over rows keys: the most any policy can reach
// once warm.
func staticShare(rows int64, capacity int, s float64) float64 {
	var hot, all float64
	for k := int64(1); k <= rows; k++ {
		p := 1 / math.Pow(float64(k), s)
		all += p
		if k <= int64(capacity) {
			hot += p
		}
	}
	return hot / all
}

// rss is the process's resident memory in bytes.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// upsert commits equality deletes of ids and their rows at version in one
// snapshot.
func upsert(ctx context.Context, cat *catalog.Catalog, ident table.Identifier, ids []int64, version int) {
	tbl, err := cat.LoadTable(ctx, ident)
	check(err)
	tx := tbl.NewTransaction()
	keys := int64Array(ids)
	krec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{dimSchema.Field(0)}, nil), []arrow.Array{keys}, int64(len(ids)))
	keys.Release()
	dels, err := tx.WriteEqualityDeletes(ctx, []int{1}, func(yield func(arrow.RecordBatch, error) bool) { yield(krec, nil) })
	check(err)
	b := array.NewRecordBuilder(memory.DefaultAllocator, dimSchema)
	for _, id := range ids {
		appendRow(b, id, version)
	}
	rec := b.NewRecordBatch()
	b.Release()
	var adds []iceberg.DataFile
	for df, err := range table.WriteRecords(ctx, tbl, dimSchema, func(yield func(arrow.RecordBatch, error) bool) { yield(rec, nil) }) {
		check(err)
		adds = append(adds, df)
	}
	rd := tx.NewRowDelta(nil)
	rd.AddRows(adds...)
	rd.AddDeletes(dels...)
	check(rd.Commit(ctx))
	_, err = tx.Commit(ctx)
	check(err)
}
