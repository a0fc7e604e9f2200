package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeflight/lakeflight/catalog"
)

func TestOpenInvalidURI(t *testing.T) {
	tests := []struct {
		uri  string
		want string // text the message must hold
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"sqlite://", "no database path"},
		{"sqlite:///", "no database path"},
		{"ftp://host/x", "ftp://host/x"},
		{"s3://bucket/warehouse", "want sqlite://"},
	}
	for _, tt := range tests {
		cat, err := catalog.Open(t.Context(), catalog.Options{URI: tt.uri})
		if err == nil {
			cat.Close()
			t.Errorf("Open(%q) succeeded", tt.uri)
			continue
		}
		if !errors.Is(err, catalog.ErrInvalidURI) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q) = %v, want ErrInvalidURI mentioning %q", tt.uri, err, tt.want)
		}
	}
}

// TestOpenPostgresRedactsPassword opens a PostgreSQL catalog on a port
// where nothing listens: the error must not show the password.
func TestOpenPostgresRedactsPassword(t *testing.T) {
	for _, uri := range []string{
		"postgresql://alice:s3cret-pw@127.0.0.1:1/iceberg?sslmode=disable&connect_timeout=2",
		"postgres://alice:s3cret-pw@127.0.0.1:1/iceberg?sslmode=disable&connect_timeout=2",
	} {
		cat, err := catalog.Open(t.Context(), catalog.Options{URI: uri})
		if err == nil {
			cat.Close()
			t.Fatalf("Open(%s) succeeded with nothing listening", uri)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "alice@127.0.0.1:1") {
			t.Errorf("error %q does not name the (redacted) catalog", err)
		}
	}
}

func openSQLite(t *testing.T, name string) *catalog.Catalog {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(t.Context(), catalog.Options{
		Name:      name,
		URI:       "sqlite://" + filepath.Join(dir, "catalog.db"),
		Warehouse: "file://" + filepath.Join(dir, "warehouse"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cat.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return cat
}

var oneCol = iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "k", Type: iceberg.PrimitiveTypes.Int64})

// populate creates namespaces and tables in an unsorted order.
func populate(t *testing.T, cat *catalog.Catalog) {
	t.Helper()
	ctx := t.Context()
	ic := cat.Iceberg()
	for _, ns := range []table.Identifier{{"zoo"}, {"mall"}, {"mall", "sub"}} {
		if err := ic.CreateNamespace(ctx, ns, nil); err != nil {
			t.Fatalf("create namespace %v: %v", ns, err)
		}
	}
	for _, id := range []table.Identifier{{"mall", "shops"}, {"mall", "events"}, {"mall", "sub", "inner"}, {"zoo", "Animals"}} {
		if _, err := ic.CreateTable(ctx, id, oneCol); err != nil {
			t.Fatalf("create table %v: %v", id, err)
		}
	}
}

func idents(ids []table.Identifier) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strings.Join(id, ".")
	}
	return out
}

// checkListing checks the namespace and table listing of a populated
// catalog.
func checkListing(t *testing.T, cat *catalog.Catalog) {
	t.Helper()
	ctx := t.Context()
	nss, err := cat.Namespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := idents(nss), []string{"mall", "mall.sub", "zoo"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Namespaces = %v, want %v", got, want)
	}
	tables := map[string][]string{
		"mall":     {"mall.events", "mall.shops"},
		"mall.sub": {"mall.sub.inner"},
		"zoo":      {"zoo.Animals"},
	}
	for ns, want := range tables {
		ids, err := cat.Tables(ctx, catalog.SplitNamespace(ns))
		if err != nil {
			t.Fatalf("Tables(%s): %v", ns, err)
		}
		if got := idents(ids); !reflect.DeepEqual(got, want) {
			t.Errorf("Tables(%s) = %v, want %v", ns, got, want)
		}
	}
	tbl, err := cat.LoadTable(ctx, table.Identifier{"mall", "sub", "inner"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tbl.Identifier(), "."); got != "mall.sub.inner" {
		t.Errorf("loaded %s", got)
	}
	if ok, err := cat.NamespaceExists(ctx, table.Identifier{"mall", "sub"}); err != nil || !ok {
		t.Errorf("NamespaceExists(mall.sub) = %v, %v", ok, err)
	}
	if ok, err := cat.NamespaceExists(ctx, table.Identifier{"nope"}); err != nil || ok {
		t.Errorf("NamespaceExists(nope) = %v, %v", ok, err)
	}

	for _, id := range []table.Identifier{{"mall", "missing"}, {"nope", "shops"}} {
		_, err := cat.LoadTable(ctx, id)
		if !errors.Is(err, catalog.ErrNoSuchTable) || !strings.Contains(err.Error(), strings.Join(id, ".")) {
			t.Errorf("LoadTable(%v) = %v, want ErrNoSuchTable naming it", id, err)
		}
	}
}

func TestSQLiteCatalog(t *testing.T) {
	cat := openSQLite(t, "")
	if cat.Name() != "default" {
		t.Errorf("Name() = %q, want the default name", cat.Name())
	}
	nss, err := cat.Namespaces(t.Context())
	if err != nil || len(nss) != 0 {
		t.Fatalf("empty catalog: Namespaces = %v, %v", nss, err)
	}
	populate(t, cat)
	checkListing(t, cat)
	_, err = cat.Tables(t.Context(), table.Identifier{"nope"})
	if err != nil && !errors.Is(err, catalog.ErrNoSuchNamespace) {
		t.Errorf("Tables(nope) = %v, want no tables or ErrNoSuchNamespace", err)
	}
	if named := openSQLite(t, "lake"); named.Name() != "lake" {
		t.Errorf("Name() = %q, want lake", named.Name())
	}
}

// TestSQLiteCatalogShared opens a second handle on the same database: both
// see the same tables.
func TestSQLiteCatalogShared(t *testing.T) {
	dir := t.TempDir()
	opts := catalog.Options{URI: "sqlite://" + filepath.Join(dir, "c.db"), Warehouse: "file://" + filepath.Join(dir, "wh")}
	a, err := catalog.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	populate(t, a)
	b, err := catalog.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkListing(t, b)
}

func TestFilesystemCatalog(t *testing.T) {
	dir := t.TempDir()
	for _, uri := range []string{"file://" + dir, dir} {
		t.Run(uri, func(t *testing.T) {
			cat, err := catalog.Open(t.Context(), catalog.Options{URI: uri})
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			if uri == dir {
				// Second run: the tables of the first are there.
				checkListing(t, cat)
				return
			}
			populate(t, cat)
			checkListing(t, cat)
			if _, err := os.Stat(filepath.Join(dir, "mall", "shops")); err != nil {
				t.Errorf("table directory not under the catalog root: %v", err)
			}
		})
	}
	// A relative directory is made absolute.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Skip("no relative path to the temp dir")
	}
	cat, err := catalog.Open(t.Context(), catalog.Options{URI: rel})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	checkListing(t, cat)
}

// fakeREST is the part of the Iceberg REST protocol that listing needs.
type fakeREST struct {
	mu       sync.Mutex
	requests []string
}

func (f *fakeREST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	reply := func(code int, v any) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	notFound := func(typ, msg string) {
		reply(404, map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": 404}})
	}
	p := strings.TrimPrefix(r.URL.Path, "/prefix")
	switch {
	case p == "/v1/config":
		reply(200, map[string]any{"defaults": map[string]string{}, "overrides": map[string]string{}})
	case p == "/v1/namespaces" && r.Method == http.MethodGet:
		switch r.URL.Query().Get("parent") {
		case "":
			reply(200, map[string]any{"namespaces": [][]string{{"zoo"}, {"mall"}}})
		case "mall":
			reply(200, map[string]any{"namespaces": [][]string{{"mall", "sub"}}})
		default:
			reply(200, map[string]any{"namespaces": [][]string{}})
		}
	case p == "/v1/namespaces/mall/tables":
		reply(200, map[string]any{"identifiers": []map[string]any{
			{"namespace": []string{"mall"}, "name": "shops"},
			{"namespace": []string{"mall"}, "name": "events"},
		}})
	case strings.HasSuffix(p, "/tables") && strings.HasPrefix(p, "/v1/namespaces/"):
		notFound("NoSuchNamespaceException", "namespace does not exist")
	case strings.HasPrefix(p, "/v1/namespaces/") && strings.Contains(p, "/tables/"):
		notFound("NoSuchTableException", "table does not exist")
	default:
		notFound("NoSuchNamespaceException", "not found: "+p)
	}
}

func TestRESTCatalog(t *testing.T) {
	fake := &fakeREST{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx := t.Context()
	cat, err := catalog.Open(ctx, catalog.Options{Name: "rest", URI: srv.URL + "/prefix", Warehouse: "s3://bucket/wh"})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	nss, err := cat.Namespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := idents(nss), []string{"mall", "mall.sub", "zoo"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Namespaces = %v, want %v", got, want)
	}
	ids, err := cat.Tables(ctx, table.Identifier{"mall"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := idents(ids), []string{"mall.events", "mall.shops"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Tables(mall) = %v, want %v", got, want)
	}
	if _, err := cat.Tables(ctx, table.Identifier{"nope"}); !errors.Is(err, catalog.ErrNoSuchNamespace) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Tables(nope) = %v, want ErrNoSuchNamespace naming it", err)
	}
	if _, err := cat.LoadTable(ctx, table.Identifier{"mall", "gone"}); !errors.Is(err, catalog.ErrNoSuchTable) || !strings.Contains(err.Error(), "mall.gone") {
		t.Errorf("LoadTable(mall.gone) = %v, want ErrNoSuchTable naming it", err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.requests) == 0 || !strings.Contains(fake.requests[0], "/prefix/v1/config") || !strings.Contains(fake.requests[0], "warehouse=s3") {
		t.Errorf("first request %v, want the config with the warehouse", fake.requests)
	}
}

func TestRESTCatalogUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	cat, err := catalog.Open(context.Background(), catalog.Options{URI: srv.URL})
	if err == nil {
		cat.Close()
		t.Fatal("Open succeeded against a failing config endpoint")
	}
	if !strings.Contains(err.Error(), "open catalog "+srv.URL) {
		t.Errorf("error %q does not name the catalog", err)
	}
}
