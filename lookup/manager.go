package lookup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"
)

// Mode is how a dimension table is kept for lookups.
type Mode uint8

const (
	// Configured takes the mode set for the table (or the default).
	Configured Mode = iota
	// Full holds the whole table in memory, kept fresh by its changelog.
	Full
	// Partial caches rows by key, with a TTL, byte bound and cached misses;
	// a miss is a pruned point read.
	Partial
	// None reads every lookup from the table with a pruned point read.
	None
)

func (m Mode) String() string {
	switch m {
	case Full:
		return "full"
	case Partial:
		return "partial"
	case None:
		return "none"
	}
	return "configured"
}

// ParseMode reads full, partial or none (any case).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "full":
		return Full, nil
	case "partial":
		return Partial, nil
	case "none":
		return None, nil
	}
	return Configured, fmt.Errorf("lookup mode %q: want full, partial or none", s)
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads full, partial or none (any case), so that a Mode can
// be set from YAML or JSON.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// TableConfig is how one table is kept.
type TableConfig struct {
	// Mode; Configured means the manager's default.
	Mode Mode `yaml:"mode"`
	// Refresh is how often the table is checked for a new snapshot
	// (FULL and PARTIAL). Default 10s.
	Refresh time.Duration `yaml:"refresh"`
	// CacheBytes bounds a PARTIAL cache. Default 64 MiB.
	CacheBytes int64 `yaml:"cache_bytes"`
	// TTL is how long a PARTIAL entry lives. Default 10m.
	TTL time.Duration `yaml:"ttl"`
}

func (c TableConfig) withDefaults(d TableConfig) TableConfig {
	if c.Mode == Configured {
		c.Mode = d.Mode
	}
	if c.Mode == Configured {
		c.Mode = Full
	}
	if c.Refresh <= 0 {
		c.Refresh = d.Refresh
	}
	if c.Refresh <= 0 {
		c.Refresh = 10 * time.Second
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = d.CacheBytes
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = 64 << 20
	}
	if c.TTL <= 0 {
		c.TTL = d.TTL
	}
	if c.TTL <= 0 {
		c.TTL = 10 * time.Minute
	}
	return c
}

// Loader loads a table's current metadata (a catalog).
type Loader interface {
	LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error)
}

// Options configure a Manager.
type Options struct {
	// Catalog loads tables. Required.
	Catalog Loader
	// Memory bounds the bytes held by all FULL indexes and PARTIAL caches
	// together. Default 1 GiB.
	Memory int64
	// Default is the configuration of tables not in Tables.
	Default TableConfig
	// Tables configures tables by dotted name ("ns.table").
	Tables map[string]TableConfig
	// Logger receives refresh failures. Default slog.Default().
	Logger *slog.Logger
}

// ErrMemory means a FULL index or PARTIAL cache does not fit the lookup
// memory budget.
var ErrMemory = errors.New("lookup memory budget exceeded")

// Reader looks keys up in one table at one snapshot. It is safe for
// concurrent use; Release it when done.
type Reader interface {
	// Schema is the table's columns.
	Schema() *arrow.Schema
	// Key is the positions of the key columns in Schema, in key order.
	Key() []int
	// Snapshot is the snapshot the reader answers from.
	Snapshot() int64
	// Mode is how the table is kept.
	Mode() Mode
	// Lookup returns, for each key (one array per key column, in key
	// order), the columns cols of Schema (nil for all) of the row with that
	// key, in the keys' order; a key not in the table (or NULL) gives a
	// row of NULLs. The key columns of a table are never NULL, so a
	// returned key column that is NULL marks a miss.
	Lookup(ctx context.Context, keys []arrow.Array, cols []int) (arrow.RecordBatch, error)
	// Release lets go of the reader.
	Release()
}

// TableStats describe one table kept by a Manager.
type TableStats struct {
	Table    string
	Mode     Mode
	Snapshot int64
	// Behind is how many snapshots the table had committed past Snapshot
	// at the last check.
	Behind int
	// Bytes held in memory for the table.
	Bytes int64
	// Keys held (FULL) or cached (PARTIAL).
	Keys int64
	// Hits and Misses of a PARTIAL cache; Refreshes applied.
	Hits, Misses, Refreshes int64
	// LastRefresh is when the table was last brought up to date.
	LastRefresh time.Time
}

// Manager keeps dimension tables for lookups, each in its mode, and brings
// them up to date in the background. Close stops it.
type Manager struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	tables map[string]*kept
	used   int64 // bytes reserved by kept tables
}

// kept is a table in a mode.
type kept struct {
	name  string
	ident table.Identifier
	cfg   TableConfig
	ready chan struct{} // closed once loaded (or failed)
	err   error
	state keeper
}

// keeper is the state behind one kept table.
type keeper interface {
	reader() Reader
	refresh(ctx context.Context, tbl *table.Table) error
	stats() TableStats
	bytes() int64
	close()
}

// NewManager starts a manager.
func NewManager(opts Options) *Manager {
	if opts.Memory <= 0 {
		opts.Memory = 1 << 30
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{opts: opts, ctx: ctx, cancel: cancel, tables: map[string]*kept{}}
}

// Config is the configuration of a table, mode overriding its mode
// unless Configured.
func (m *Manager) Config(ident table.Identifier, mode Mode) TableConfig {
	cfg := m.opts.Tables[strings.Join(ident, ".")].withDefaults(m.opts.Default)
	if mode != Configured {
		cfg.Mode = mode
	}
	return cfg
}

// Configured reports whether the table's mode was chosen: the table is
// in Options.Tables or Options.Default sets a mode.
func (m *Manager) Configured(ident table.Identifier) bool {
	if _, ok := m.opts.Tables[strings.Join(ident, ".")]; ok {
		return true
	}
	return m.opts.Default.Mode != Configured
}

// Kept describes the table if the manager holds it in mode (loaded).
func (m *Manager) Kept(ident table.Identifier, mode Mode) (TableStats, bool) {
	m.mu.Lock()
	k, ok := m.tables[strings.Join(ident, ".")+"\x00"+mode.String()]
	m.mu.Unlock()
	if !ok {
		return TableStats{}, false
	}
	select {
	case <-k.ready:
	default:
		return TableStats{}, false
	}
	if k.err != nil {
		return TableStats{}, false
	}
	return k.state.stats(), true
}

// Reader returns a reader of the table in mode (Configured: the table's
// configured mode) at its latest snapshot the manager holds. The first
// call for a table in FULL or PARTIAL mode loads it.
func (m *Manager) Reader(ctx context.Context, ident table.Identifier, mode Mode) (Reader, error) {
	cfg := m.Config(ident, mode)
	if cfg.Mode == None {
		tbl, err := m.opts.Catalog.LoadTable(ctx, ident)
		if err != nil {
			return nil, err
		}
		return NewPointReader(tbl, 0)
	}
	name := strings.Join(ident, ".")
	key := name + "\x00" + cfg.Mode.String()
	m.mu.Lock()
	if m.ctx.Err() != nil {
		m.mu.Unlock()
		return nil, errors.New("lookup manager closed")
	}
	k, ok := m.tables[key]
	if !ok {
		k = &kept{name: name, ident: ident, cfg: cfg, ready: make(chan struct{})}
		m.tables[key] = k
		m.wg.Add(1)
		go m.keep(k)
	}
	m.mu.Unlock()
	select {
	case <-k.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if k.err != nil {
		return nil, k.err
	}
	return k.state.reader(), nil
}

// ReaderAt returns a reader of the table as of a past snapshot: point
// reads of that snapshot (nothing is kept for it).
func (m *Manager) ReaderAt(ctx context.Context, ident table.Identifier, snapshotID int64) (Reader, error) {
	tbl, err := m.opts.Catalog.LoadTable(ctx, ident)
	if err != nil {
		return nil, err
	}
	return NewPointReader(tbl, snapshotID)
}

// keep loads a table and refreshes it until the manager closes. A load
// that fails is forgotten, so the next Reader call tries again.
func (m *Manager) keep(k *kept) {
	defer m.wg.Done()
	err := m.load(k)
	if err != nil {
		k.err = err
		m.mu.Lock()
		delete(m.tables, k.name+"\x00"+k.cfg.Mode.String())
		m.mu.Unlock()
		close(k.ready)
		return
	}
	close(k.ready)
	defer func() {
		m.mu.Lock()
		m.used -= k.state.bytes()
		m.mu.Unlock()
		k.state.close()
	}()
	t := time.NewTicker(k.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		tbl, err := m.opts.Catalog.LoadTable(m.ctx, k.ident)
		if err == nil {
			before := k.state.bytes()
			err = k.state.refresh(m.ctx, tbl)
			m.mu.Lock()
			m.used += k.state.bytes() - before
			m.mu.Unlock()
		}
		if err != nil && m.ctx.Err() == nil {
			m.opts.Logger.Warn("lookup refresh failed", "table", k.name, "mode", k.cfg.Mode.String(), "error", err)
		}
	}
}

// load builds a kept table's state within what is left of the budget.
func (m *Manager) load(k *kept) error {
	tbl, err := m.opts.Catalog.LoadTable(m.ctx, k.ident)
	if err != nil {
		return err
	}
	m.mu.Lock()
	room := m.opts.Memory - m.used
	m.mu.Unlock()
	switch k.cfg.Mode {
	case Full:
		f, err := newFullKeeper(m.ctx, tbl, room)
		if err != nil {
			if errors.Is(err, ErrMemory) {
				return fmt.Errorf("%w: a FULL index of %s does not fit the %s left of the lookup memory (%s in all): raise --lookup-memory, or set the table's lookup mode to partial or none", ErrMemory, k.name, formatBytes(room), formatBytes(m.opts.Memory))
			}
			return err
		}
		k.state = f
	case Partial:
		if k.cfg.CacheBytes > room {
			return fmt.Errorf("%w: a PARTIAL cache of %s for %s does not fit the %s left of the lookup memory (%s in all): lower its cache_bytes or raise --lookup-memory", ErrMemory, formatBytes(k.cfg.CacheBytes), k.name, formatBytes(room), formatBytes(m.opts.Memory))
		}
		p, err := newPartialKeeper(tbl, k.cfg)
		if err != nil {
			return err
		}
		k.state = p
	}
	m.mu.Lock()
	m.used += k.state.bytes()
	m.mu.Unlock()
	return nil
}

// Stats describe the tables kept, by name.
func (m *Manager) Stats() []TableStats {
	m.mu.Lock()
	var ks []*kept
	for _, k := range m.tables {
		ks = append(ks, k)
	}
	m.mu.Unlock()
	var out []TableStats
	for _, k := range ks {
		select {
		case <-k.ready:
		default:
			continue
		}
		if k.err == nil {
			out = append(out, k.state.stats())
		}
	}
	return out
}

// Used is the bytes held by all kept tables, and the budget.
func (m *Manager) Used() (used, budget int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used, m.opts.Memory
}

// Close stops refreshing and frees the kept tables once their readers are
// released.
func (m *Manager) Close() {
	m.mu.Lock()
	m.cancel()
	m.mu.Unlock()
	m.wg.Wait()
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// behind counts the snapshots from snapshotID (exclusive) to tbl's current
// one along the parent chain; -1 when snapshotID is not an ancestor.
func behind(tbl *table.Table, snapshotID int64) int {
	cur := tbl.CurrentSnapshot()
	n := 0
	for cur != nil {
		if cur.SnapshotID == snapshotID {
			return n
		}
		n++
		if cur.ParentSnapshotID == nil {
			break
		}
		cur = tbl.Metadata().SnapshotByID(*cur.ParentSnapshotID)
	}
	if snapshotID == 0 {
		return n
	}
	return -1
}
