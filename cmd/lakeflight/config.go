package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lakeflight/lakeflight/lookup"
)

// config is everything `lakeflight serve` can be told, from a YAML file
// (--config) and from flags, which override the file.
type config struct {
	Listen      string `yaml:"listen"`
	CatalogURI  string `yaml:"catalog_uri"`
	CatalogName string `yaml:"catalog_name"`
	Warehouse   string `yaml:"warehouse"`
	// CatalogProperties are passed to the catalog and its file IO, for
	// example s3.endpoint, s3.access-key-id, s3.secret-access-key,
	// s3.region (the names iceberg-go and the other Iceberg clients use).
	CatalogProperties          map[string]string `yaml:"catalog_properties"`
	Demo                       bool              `yaml:"demo"`
	DemoEvents                 int64             `yaml:"demo_events"`
	UsersFile                  string            `yaml:"users_file"`
	Tokens                     []string          `yaml:"tokens"`
	TLSCert                    string            `yaml:"tls_cert"`
	TLSKey                     string            `yaml:"tls_key"`
	AllowUnauthenticatedRemote bool              `yaml:"allow_unauthenticated_remote"`
	MetricsListen              string            `yaml:"metrics_listen"`
	TicketKeyFile              string            `yaml:"ticket_key_file"`
	MaxEndpoints               int               `yaml:"max_endpoints"`
	QueryMemoryLimit           string            `yaml:"query_memory_limit"`
	ManifestCache              string            `yaml:"manifest_cache"`
	FooterCache                string            `yaml:"footer_cache"`
	Pprof                      bool              `yaml:"pprof"`
	LogLevel                   string            `yaml:"log_level"`
	LogFormat                  string            `yaml:"log_format"`
	Lookup                     lookupConfig      `yaml:"lookup"`
}

// lookupConfig is how dimension tables are kept for lookups: the memory
// all of them may hold, the defaults of every table and the settings of
// some by name ("ns.table").
type lookupConfig struct {
	Memory     string                       `yaml:"memory"`
	Mode       lookup.Mode                  `yaml:"mode"`
	Refresh    time.Duration                `yaml:"refresh"`
	CacheBytes string                       `yaml:"cache_bytes"`
	TTL        time.Duration                `yaml:"ttl"`
	Tables     map[string]lookupTableConfig `yaml:"tables"`
}

// lookupTableConfig overrides the lookup defaults for one table; unset
// fields keep them.
type lookupTableConfig struct {
	Mode       lookup.Mode   `yaml:"mode"`
	Refresh    time.Duration `yaml:"refresh"`
	CacheBytes string        `yaml:"cache_bytes"`
	TTL        time.Duration `yaml:"ttl"`
}

// options maps the lookup settings onto the manager's options (Catalog
// left to the caller).
func (c lookupConfig) options() (lookup.Options, error) {
	var o lookup.Options
	var err error
	if o.Memory, err = parseBytes(c.Memory); err != nil {
		return o, fmt.Errorf("--lookup-memory: %w", err)
	}
	if o.Memory == 0 {
		return o, errors.New("--lookup-memory must be positive")
	}
	if c.Mode == lookup.Configured {
		return o, errors.New("--lookup-mode must be full, partial or none")
	}
	if c.Refresh <= 0 {
		return o, fmt.Errorf("--lookup-refresh must be positive, got %s", c.Refresh)
	}
	if c.TTL < 0 {
		return o, fmt.Errorf("lookup ttl must not be negative, got %s", c.TTL)
	}
	o.Default = lookup.TableConfig{Mode: c.Mode, Refresh: c.Refresh, TTL: c.TTL}
	if c.CacheBytes != "" {
		if o.Default.CacheBytes, err = parseBytes(c.CacheBytes); err != nil {
			return o, fmt.Errorf("lookup cache_bytes: %w", err)
		}
	}
	for name, t := range c.Tables {
		if dot := strings.LastIndex(name, "."); dot <= 0 || dot == len(name)-1 {
			return o, fmt.Errorf("lookup tables: %q must be namespace.table", name)
		}
		if t.Refresh < 0 || t.TTL < 0 {
			return o, fmt.Errorf("lookup tables: %s: refresh and ttl must not be negative", name)
		}
		tc := lookup.TableConfig{Mode: t.Mode, Refresh: t.Refresh, TTL: t.TTL}
		if t.CacheBytes != "" {
			if tc.CacheBytes, err = parseBytes(t.CacheBytes); err != nil {
				return o, fmt.Errorf("lookup tables: %s: cache_bytes: %w", name, err)
			}
		}
		if o.Tables == nil {
			o.Tables = map[string]lookup.TableConfig{}
		}
		o.Tables[name] = tc
	}
	return o, nil
}

func defaultConfig() config {
	return config{
		Listen:           "127.0.0.1:8815",
		CatalogName:      "default",
		DemoEvents:       2_000_000,
		MaxEndpoints:     4,
		QueryMemoryLimit: "2GiB",
		ManifestCache:    "128MiB",
		FooterCache:      "256MiB",
		LogLevel:         "info",
		LogFormat:        "text",
		Lookup:           lookupConfig{Memory: "1GiB", Mode: lookup.Full, Refresh: 10 * time.Second},
	}
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseServe reads the config file named by --config (if any) and then the
// flags on top of it.
func parseServe(args []string) (config, error) {
	cfg := defaultConfig()
	// Find --config first so the file sets the base the flags override.
	for i, a := range args {
		var path string
		switch {
		case a == "--config" || a == "-config":
			if i+1 < len(args) {
				path = args[i+1]
			}
		case strings.HasPrefix(a, "--config="), strings.HasPrefix(a, "-config="):
			path = a[strings.Index(a, "=")+1:]
		}
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return cfg, fmt.Errorf("read config: %w", err)
			}
			dec := yaml.NewDecoder(strings.NewReader(string(b)))
			dec.KnownFields(true)
			if err := dec.Decode(&cfg); err != nil {
				return cfg, fmt.Errorf("config %s: %w", path, err)
			}
		}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.String("config", "", "YAML config file with the same settings as the flags (flags override it)")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to serve Flight SQL on (port 0 picks a free port)")
	fs.StringVar(&cfg.CatalogURI, "catalog-uri", cfg.CatalogURI, "Iceberg catalog: sqlite:///path.db, postgresql://..., file:///dir or http(s):// (REST)")
	fs.StringVar(&cfg.CatalogName, "catalog-name", cfg.CatalogName, "catalog name (the SQL catalog's catalog_name, and the Flight SQL catalog)")
	fs.StringVar(&cfg.Warehouse, "warehouse", cfg.Warehouse, "warehouse location (with --demo: the folder to write or reuse the demo in)")
	fs.BoolVar(&cfg.Demo, "demo", cfg.Demo, "serve the demo warehouse, writing it first if the folder has none")
	fs.Int64Var(&cfg.DemoEvents, "demo-events", cfg.DemoEvents, "probe events in a newly written demo warehouse")
	fs.StringVar(&cfg.UsersFile, "users-file", cfg.UsersFile, "file of user:password lines (password may be a bcrypt hash); enables authentication")
	var props stringList
	fs.Var(&props, "catalog-property", "KEY=VALUE passed to the catalog and its file IO, e.g. s3.endpoint=http://127.0.0.1:9000 (repeatable)")
	tokens := stringList(cfg.Tokens)
	fs.Var(&tokens, "token", "static bearer token to accept (repeatable); enables authentication")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "TLS certificate (PEM); with --tls-key serves TLS")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "TLS private key (PEM)")
	fs.BoolVar(&cfg.AllowUnauthenticatedRemote, "allow-unauthenticated-remote", cfg.AllowUnauthenticatedRemote, "allow serving a non-loopback address without authentication")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "address for the Prometheus /metrics endpoint (empty: off)")
	fs.StringVar(&cfg.TicketKeyFile, "ticket-key-file", cfg.TicketKeyFile, "file holding the key that signs tickets (share it between nodes); default a random key")
	fs.IntVar(&cfg.MaxEndpoints, "max-endpoints", cfg.MaxEndpoints, "most endpoints a scan is split into for parallel readers")
	fs.StringVar(&cfg.QueryMemoryLimit, "query-memory-limit", cfg.QueryMemoryLimit, "memory one query may hold in sorts, aggregates, joins and windows (e.g. 512MiB, 4GiB; 0 for none)")
	fs.StringVar(&cfg.ManifestCache, "manifest-cache", cfg.ManifestCache, "bytes of manifest lists and manifests kept in memory (0 for none)")
	fs.StringVar(&cfg.FooterCache, "footer-cache", cfg.FooterCache, "bytes of decoded Parquet footers kept in memory (0 for none)")
	fs.StringVar(&cfg.Lookup.Memory, "lookup-memory", cfg.Lookup.Memory, "memory all dimension tables kept for lookups may hold (e.g. 512MiB, 4GiB)")
	fs.TextVar(&cfg.Lookup.Mode, "lookup-mode", cfg.Lookup.Mode, "how dimension tables are kept for lookups unless configured per table: full (in memory), partial (a cache of rows by key) or none (point reads)")
	fs.DurationVar(&cfg.Lookup.Refresh, "lookup-refresh", cfg.Lookup.Refresh, "how often kept dimension tables are brought up to date with new snapshots")
	fs.BoolVar(&cfg.Pprof, "pprof", cfg.Pprof, "serve Go profiles at /debug/pprof/ on the metrics address")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Tokens = tokens
	for _, p := range props {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return cfg, fmt.Errorf("--catalog-property %q: want KEY=VALUE", p)
		}
		if cfg.CatalogProperties == nil {
			cfg.CatalogProperties = map[string]string{}
		}
		cfg.CatalogProperties[k] = v
	}
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.MaxEndpoints < 1 {
		return fmt.Errorf("--max-endpoints must be at least 1, got %d", c.MaxEndpoints)
	}
	if _, err := parseBytes(c.QueryMemoryLimit); err != nil {
		return fmt.Errorf("--query-memory-limit: %w", err)
	}
	if _, err := parseBytes(c.ManifestCache); err != nil {
		return fmt.Errorf("--manifest-cache: %w", err)
	}
	if _, err := parseBytes(c.FooterCache); err != nil {
		return fmt.Errorf("--footer-cache: %w", err)
	}
	if _, err := c.Lookup.options(); err != nil {
		return err
	}
	if c.DemoEvents < 1 {
		return fmt.Errorf("--demo-events must be positive, got %d", c.DemoEvents)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.Pprof && c.MetricsListen == "" {
		return errors.New("--pprof needs --metrics-listen")
	}
	if c.Demo && c.CatalogURI != "" {
		return errors.New("--demo serves its own catalog; drop --catalog-uri (or --demo)")
	}
	return nil
}

// readUsers reads user:password lines; blank lines and # comments are
// skipped.
func readUsers(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	users := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		u, p, ok := strings.Cut(t, ":")
		if !ok || u == "" || p == "" {
			return nil, fmt.Errorf("users file %s line %d: want user:password", path, line)
		}
		users[u] = p
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("users file %s has no users", path)
	}
	return users, nil
}

// isLoopback reports whether a listen address only accepts local
// connections.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseBytes reads a size such as 512MiB, 4GiB, 1000000 or 0.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 512MiB, 4GiB or a number of bytes)", s)
	}
	return n * mult, nil
}
