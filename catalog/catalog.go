package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/hadoop"
	"github.com/apache/iceberg-go/catalog/rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	// Object storage: s3:// (and S3-compatible servers through s3.endpoint).
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/apache/iceberg-go/table"

	// Database drivers for the SQL catalog.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Errors returned by this package. Callers match them with errors.Is; the
// wrapped message names the object involved.
var (
	// ErrNoSuchTable means a table is not in the catalog.
	ErrNoSuchTable = errors.New("table not found")
	// ErrNoSuchNamespace means a namespace is not in the catalog.
	ErrNoSuchNamespace = errors.New("namespace not found")
	// ErrInvalidURI means a catalog URI could not be understood.
	ErrInvalidURI = errors.New("invalid catalog uri")
)

// Options say which Iceberg catalog to open.
type Options struct {
	// Name is the catalog name clients see and, for SQL catalogs, the
	// catalog_name key of its rows. Default "default".
	Name string
	// URI selects the catalog implementation:
	//   sqlite:///abs/path.db            SQL catalog on SQLite (PyIceberg SqlCatalog / JdbcCatalog layout)
	//   postgresql://user:pw@host/db     SQL catalog on PostgreSQL
	//   file:///dir or a plain directory filesystem (Hadoop-layout) catalog rooted at dir
	//   http(s)://host/prefix            Iceberg REST catalog
	// Required.
	URI string
	// Warehouse is the root location for table data, for example
	// file:///data/warehouse. Required for SQL catalogs that create tables;
	// passed to REST catalogs as the warehouse property.
	Warehouse string
	// Properties are extra catalog properties (for example REST credentials or
	// S3 endpoint settings). Default none.
	Properties iceberg.Properties
}

// Catalog is an opened Iceberg catalog. It is safe for concurrent use.
type Catalog struct {
	name  string
	inner icecat.Catalog
}

// Open opens the catalog that opts describe.
func Open(ctx context.Context, opts Options) (*Catalog, error) {
	name := opts.Name
	if name == "" {
		name = "default"
	}
	props := iceberg.Properties{}
	for k, v := range opts.Properties {
		props[k] = v
	}
	if opts.Warehouse != "" {
		props["warehouse"] = opts.Warehouse
	}
	uri := strings.TrimSpace(opts.URI)
	if uri == "" {
		return nil, fmt.Errorf("%w: empty catalog uri", ErrInvalidURI)
	}
	var (
		inner icecat.Catalog
		err   error
	)
	switch {
	case strings.HasPrefix(uri, "sqlite://"):
		path := strings.TrimPrefix(uri, "sqlite://")
		if path == "" || path == "/" {
			return nil, fmt.Errorf("%w: %q has no database path (want sqlite:///abs/path.db)", ErrInvalidURI, uri)
		}
		inner, err = openSQL(name, "sqlite", path, sqlcat.SQLite, props)
	case strings.HasPrefix(uri, "postgresql://"), strings.HasPrefix(uri, "postgres://"):
		inner, err = openSQL(name, "pgx", uri, sqlcat.Postgres, props)
	case strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "https://"):
		ropts := []rest.Option{}
		if opts.Warehouse != "" {
			ropts = append(ropts, rest.WithWarehouseLocation(opts.Warehouse))
		}
		inner, err = rest.NewCatalog(ctx, name, uri, ropts...)
	case strings.HasPrefix(uri, "file://"), !strings.Contains(uri, "://"):
		dir := uri
		if strings.HasPrefix(uri, "file://") {
			u, perr := url.Parse(uri)
			if perr != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURI, uri, perr)
			}
			dir = u.Path
		}
		abs, aerr := filepath.Abs(dir)
		if aerr != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURI, uri, aerr)
		}
		inner, err = hadoop.NewCatalog(name, "file://"+abs, props)
	default:
		return nil, fmt.Errorf("%w: %q (want sqlite://, postgresql://, file:// or http(s)://)", ErrInvalidURI, uri)
	}
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", Redact(uri), err)
	}
	return &Catalog{name: name, inner: inner}, nil
}

func openSQL(name, driver, dsn string, dialect sqlcat.SupportedDialect, props iceberg.Properties) (icecat.Catalog, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	if driver == "sqlite" {
		// One writer at a time keeps SQLite free of "database is locked".
		db.SetMaxOpenConns(1)
	}
	cat, err := sqlcat.NewCatalog(name, db, dialect, props)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &ownedSQL{Catalog: cat, db: db}, nil
}

// ownedSQL closes the database handle that Open created.
type ownedSQL struct {
	*sqlcat.Catalog
	db *sql.DB
}

func (o *ownedSQL) Close() error { return errors.Join(o.Catalog.Close(), o.db.Close()) }

// Redact hides the password of a URI, for logs and messages.
func Redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// Name returns the catalog name clients see.
func (c *Catalog) Name() string { return c.name }

// Iceberg returns the underlying iceberg-go catalog, for writers such as the
// demo generator.
func (c *Catalog) Iceberg() icecat.Catalog { return c.inner }

// Close releases the catalog's connections.
func (c *Catalog) Close() error {
	if cl, ok := c.inner.(interface{ Close() error }); ok {
		return cl.Close()
	}
	return nil
}

// Namespaces lists all namespaces, nested ones included, in a stable order.
func (c *Catalog) Namespaces(ctx context.Context) ([]table.Identifier, error) {
	var out []table.Identifier
	var walk func(parent table.Identifier) error
	walk = func(parent table.Identifier) error {
		nss, err := c.inner.ListNamespaces(ctx, parent)
		if err != nil {
			if errors.Is(err, icecat.ErrNoSuchNamespace) {
				return nil
			}
			return fmt.Errorf("list namespaces: %w", err)
		}
		for _, ns := range nss {
			if len(ns) <= len(parent) {
				continue
			}
			out = append(out, ns)
			if err := walk(ns); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(nil); err != nil {
		return nil, err
	}
	sortIdents(out)
	return dedupe(out), nil
}

// Tables lists the tables of one namespace in name order.
func (c *Catalog) Tables(ctx context.Context, ns table.Identifier) ([]table.Identifier, error) {
	var out []table.Identifier
	var seq iter.Seq2[table.Identifier, error] = c.inner.ListTables(ctx, ns)
	for id, err := range seq {
		if err != nil {
			if errors.Is(err, icecat.ErrNoSuchNamespace) {
				return nil, fmt.Errorf("%w: %s", ErrNoSuchNamespace, JoinNamespace(ns))
			}
			return nil, fmt.Errorf("list tables of %s: %w", JoinNamespace(ns), err)
		}
		out = append(out, id)
	}
	sortIdents(out)
	return out, nil
}

// LoadTable loads the current metadata of a table.
func (c *Catalog) LoadTable(ctx context.Context, id table.Identifier) (*table.Table, error) {
	t, err := c.inner.LoadTable(ctx, id)
	if err != nil {
		if errors.Is(err, icecat.ErrNoSuchTable) || errors.Is(err, icecat.ErrNoSuchNamespace) {
			return nil, fmt.Errorf("%w: %s", ErrNoSuchTable, strings.Join(id, "."))
		}
		return nil, fmt.Errorf("load table %s: %w", strings.Join(id, "."), err)
	}
	// Manifest lists and manifests are read through the shared cache.
	inner := t
	fsF := func(ctx context.Context) (icebergio.IO, error) {
		fs, err := inner.FS(ctx)
		if err != nil {
			return nil, err
		}
		return cachingIO{fs}, nil
	}
	return table.New(t.Identifier(), t.Metadata(), t.MetadataLocation(), fsF, c.inner), nil
}

// NamespaceExists reports whether a namespace exists.
func (c *Catalog) NamespaceExists(ctx context.Context, ns table.Identifier) (bool, error) {
	return c.inner.CheckNamespaceExists(ctx, ns)
}

// JoinNamespace renders a namespace the way clients see it as a db_schema
// name: its levels joined by dots.
func JoinNamespace(ns table.Identifier) string { return strings.Join(ns, ".") }

// SplitNamespace is the inverse of JoinNamespace.
func SplitNamespace(s string) table.Identifier {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

func sortIdents(ids []table.Identifier) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && strings.Join(ids[j], "\x00") < strings.Join(ids[j-1], "\x00"); j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

func dedupe(ids []table.Identifier) []table.Identifier {
	out := ids[:0]
	for i, id := range ids {
		if i > 0 && strings.Join(id, "\x00") == strings.Join(ids[i-1], "\x00") {
			continue
		}
		out = append(out, id)
	}
	return out
}
