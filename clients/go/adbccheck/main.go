// Command adbccheck runs one SQL query against a Flight SQL server through the
// ADBC Go Flight SQL driver used via database/sql (sqldriver), and prints the
// result as JSON lines for the interop suite (clients/python/tests) to compare
// with PyIceberg's own scan:
//
//	adbccheck -uri grpc://127.0.0.1:31337 -query 'SELECT id FROM pyi.keyed WHERE id > ?' -param int32:40
//
// Output, on stdout:
//
//	{"columns":[{"name":"id","type":"int32","nullable":false}, ...]}
//	{"id":41, ...}                 one line per row, keys in column order
//	{"rows":N}                     last line
//
// Values are rendered from the Arrow column type, deterministically:
//
//	NULL                       null
//	bool                       true / false
//	integers                   JSON numbers (exact, also beyond 2^53)
//	float32, float64           shortest decimal that round-trips at that width;
//	                           NaN, +Inf, -Inf as the strings "NaN", "+Inf", "-Inf"
//	decimal(p, s)              string with exactly s fraction digits ("-9876.55")
//	utf8 / large_utf8          string
//	binary, fixed_size_binary  lowercase hex string
//	date32, date64             "2024-01-02"
//	time32/64[unit]            "07:13:01.001001" (fraction digits by unit: s 0, ms 3, us 6, ns 9)
//	timestamp[unit]            "2024-03-01T01:00:00.000001"
//	timestamp[unit, tz=...]    the instant in UTC, with a "Z": "2024-03-01T00:17:00.000000Z"
//	anything else              encoding/json of what the driver returned
//
// Parameters (-param, repeatable, in order) are TYPE:VALUE with TYPE one of
// int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 bool
// string bytes(hex) date32 (YYYY-MM-DD) null. The ADBC Go driver binds
// parameters only on prepared statements, so with any -param (or -prepare)
// the query runs as db.Prepare(query) then stmt.Query(params...); otherwise
// as db.Query(query).
//
// Exit status: 0 after printing all rows; 1 on any error (the message, with
// the ADBC status and gRPC code when there are, goes to stderr as one line
// starting "error: "); 2 on bad arguments.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-adbc/go/adbc/sqldriver"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("adbccheck", flag.ContinueOnError)
	uri := fs.String("uri", "", "Flight SQL URI: grpc://HOST:PORT or grpc+tls://HOST:PORT (required)")
	query := fs.String("query", "", "SQL query (required)")
	prepare := fs.Bool("prepare", false, "run as a prepared statement even without -param")
	rootCerts := fs.String("tls-root-certs", "", "PEM file of CA certificates to trust (grpc+tls)")
	skipVerify := fs.Bool("tls-skip-verify", false, "do not verify the server certificate (grpc+tls)")
	timeout := fs.Duration("timeout", 120*time.Second, "bound on the whole run")
	var params, opts multiFlag
	fs.Var(&params, "param", "TYPE:VALUE parameter (repeatable, in order)")
	fs.Var(&opts, "opt", "extra ADBC database option key=value (repeatable)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *uri == "" || *query == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: adbccheck -uri URI -query SQL [-param TYPE:VALUE ...] [-prepare] [-tls-root-certs PEM] [-tls-skip-verify] [-opt k=v ...]")
		return 2
	}
	args := make([]any, len(params))
	for i, p := range params {
		v, err := parseParam(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad -param %q: %v\n", p, err)
			return 2
		}
		args[i] = v
	}

	dbOpts := map[string]string{
		adbc.OptionKeyURI: *uri,
		// Bounded RPCs: a hung server fails the check instead of hanging it.
		flightsql.OptionTimeoutConnect: "60",
		flightsql.OptionTimeoutQuery:   "120",
		flightsql.OptionTimeoutFetch:   "120",
		flightsql.OptionTimeoutUpdate:  "120",
	}
	if *rootCerts != "" {
		pem, err := os.ReadFile(*rootCerts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: read -tls-root-certs: %v\n", err)
			return 2
		}
		dbOpts[flightsql.OptionSSLRootCerts] = string(pem)
	}
	if *skipVerify {
		dbOpts[flightsql.OptionSSLSkipVerify] = adbc.OptionValueEnabled
	}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "bad -opt %q: want key=value\n", o)
			return 2
		}
		dbOpts[k] = v
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := check(ctx, dbOpts, *query, *prepare || len(args) > 0, args); err != nil {
		fmt.Fprintf(os.Stderr, "error: %s\n", describe(err))
		return 1
	}
	return 0
}

// dsn renders options as sqldriver's "k=v;k=v" connection string. Values may
// hold '=' (PEM base64) but not ';'.
func dsn(opts map[string]string) (string, error) {
	parts := make([]string, 0, len(opts))
	for k, v := range opts {
		if strings.Contains(v, ";") || strings.Contains(k, ";") {
			return "", fmt.Errorf("option %s: ';' cannot be passed through database/sql", k)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ";"), nil
}

func check(ctx context.Context, opts map[string]string, query string, prepared bool, args []any) error {
	name, err := dsn(opts)
	if err != nil {
		return err
	}
	connector, err := sqldriver.Driver{Driver: flightsql.NewDriver(memory.DefaultAllocator)}.OpenConnector(name)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()

	var rows *sql.Rows
	if prepared {
		stmt, err := db.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		defer stmt.Close()
		rows, err = stmt.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("query (prepared): %w", err)
		}
	} else {
		rows, err = db.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
	}
	defer rows.Close()

	types, err := rows.ColumnTypes()
	if err != nil {
		return fmt.Errorf("column types: %w", err)
	}
	out := bufferedStdout()
	defer out.flush()

	type colInfo struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Nullable bool   `json:"nullable"`
	}
	cols := make([]colInfo, len(types))
	for i, t := range types {
		nullable, _ := t.Nullable()
		cols[i] = colInfo{Name: t.Name(), Type: t.DatabaseTypeName(), Nullable: nullable}
	}
	header, err := json.Marshal(map[string]any{"columns": cols})
	if err != nil {
		return err
	}
	out.line(header)

	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("scan row %d: %w", n, err)
		}
		var b bytes.Buffer
		b.WriteByte('{')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(cols[i].Name)
			b.Write(key)
			b.WriteByte(':')
			r, err := render(v, types[i])
			if err != nil {
				return fmt.Errorf("row %d column %s (%s): %w", n, cols[i].Name, cols[i].Type, err)
			}
			b.Write(r)
		}
		b.WriteByte('}')
		out.line(b.Bytes())
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("after %d rows: %w", n, err)
	}
	out.line([]byte(fmt.Sprintf(`{"rows":%d}`, n)))
	return nil
}

// render is one value as JSON, by the rules in the package comment.
func render(v any, ct *sql.ColumnType) ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	typ := ct.DatabaseTypeName()
	switch x := v.(type) {
	case bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, string:
		return json.Marshal(x)
	case float32:
		return renderFloat(float64(x), 32), nil
	case float64:
		return renderFloat(x, 64), nil
	case []byte:
		return json.Marshal(hex.EncodeToString(x))
	case decimal128.Num:
		_, scale, ok := ct.DecimalSize()
		if !ok {
			return nil, fmt.Errorf("decimal value without a scale")
		}
		return json.Marshal(x.ToString(int32(scale)))
	case decimal256.Num:
		_, scale, ok := ct.DecimalSize()
		if !ok {
			return nil, fmt.Errorf("decimal value without a scale")
		}
		return json.Marshal(x.ToString(int32(scale)))
	case time.Time:
		return json.Marshal(renderTime(x, typ))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot render %T: %w", v, err)
	}
	return b, nil
}

func renderFloat(f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`)
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`)
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`)
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	// JSON has no leading '+' in exponents; Go writes e+06.
	s = strings.Replace(s, "e+", "e", 1)
	return []byte(s)
}

// fractionDigits of a time/timestamp type name: "timestamp[us, tz=UTC]" -> 6.
func fractionDigits(typ string) int {
	switch {
	case strings.Contains(typ, "[ns"):
		return 9
	case strings.Contains(typ, "[us"):
		return 6
	case strings.Contains(typ, "[ms"):
		return 3
	}
	return 0
}

func renderTime(t time.Time, typ string) string {
	frac := ""
	if d := fractionDigits(typ); d > 0 {
		frac = "." + strings.Repeat("0", d)
	}
	t = t.UTC()
	switch {
	case strings.HasPrefix(typ, "date"):
		return t.Format("2006-01-02")
	case strings.HasPrefix(typ, "time32"), strings.HasPrefix(typ, "time64"):
		return t.Format("15:04:05" + frac)
	case strings.HasPrefix(typ, "timestamp"):
		s := t.Format("2006-01-02T15:04:05" + frac)
		if strings.Contains(typ, "tz=") {
			s += "Z"
		}
		return s
	}
	return t.Format(time.RFC3339Nano)
}

func parseParam(p string) (any, error) {
	typ, val, ok := strings.Cut(p, ":")
	if !ok {
		return nil, errors.New("want TYPE:VALUE")
	}
	switch typ {
	case "null":
		return nil, nil
	case "string":
		return val, nil
	case "bool":
		return strconv.ParseBool(val)
	case "bytes":
		return hex.DecodeString(val)
	case "float32":
		f, err := strconv.ParseFloat(val, 32)
		return float32(f), err
	case "float64":
		return strconv.ParseFloat(val, 64)
	case "date32":
		t, err := time.Parse("2006-01-02", val)
		if err != nil {
			return nil, err
		}
		return arrow.Date32FromTime(t), nil
	case "int8", "int16", "int32", "int64":
		bits, _ := strconv.Atoi(typ[3:])
		n, err := strconv.ParseInt(val, 10, bits)
		if err != nil {
			return nil, err
		}
		switch bits {
		case 8:
			return int8(n), nil
		case 16:
			return int16(n), nil
		case 32:
			return int32(n), nil
		}
		return n, nil
	case "uint8", "uint16", "uint32", "uint64":
		bits, _ := strconv.Atoi(typ[4:])
		n, err := strconv.ParseUint(val, 10, bits)
		if err != nil {
			return nil, err
		}
		switch bits {
		case 8:
			return uint8(n), nil
		case 16:
			return uint16(n), nil
		case 32:
			return uint32(n), nil
		}
		return n, nil
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

// describe is err on one line, with the ADBC status and vendor (gRPC) code.
func describe(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", " | ")
	var ae adbc.Error
	if errors.As(err, &ae) {
		return fmt.Sprintf("[adbc status=%s grpc_code=%d] %s", ae.Code, ae.VendorCode, msg)
	}
	var aep *adbc.Error
	if errors.As(err, &aep) {
		return fmt.Sprintf("[adbc status=%s grpc_code=%d] %s", aep.Code, aep.VendorCode, msg)
	}
	return msg
}

type stdoutBuf struct{ b bytes.Buffer }

func bufferedStdout() *stdoutBuf { return &stdoutBuf{} }

func (s *stdoutBuf) line(b []byte) {
	s.b.Write(b)
	s.b.WriteByte('\n')
	if s.b.Len() > 1<<16 {
		s.flush()
	}
}

func (s *stdoutBuf) flush() {
	_, _ = os.Stdout.Write(s.b.Bytes())
	s.b.Reset()
}
