package executor_test

// The harness of the stateful operator tests: a generated table with every
// column type the operators treat differently, a reference rendering of
// its rows, multiset and ordered comparison with a float tolerance, and a
// runner that drains an operator on a checked allocator under a memory
// budget that must be back to zero when the test ends.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakeflight/lakeflight/executor"
	"github.com/lakeflight/lakeflight/expr"
)

// orow is one row of the operator tests' table. A nil pointer is a SQL
// NULL; id is never NULL and numbers the rows.
type orow struct {
	id int64
	g  *int64   // a low-cardinality integer key
	s  *string  // a low-cardinality string key
	v  *int64   // an integer value
	f  *float64 // a float value; multiples of 0.5, so sums are exact
	d  *int64   // a decimal(12,2) value, unscaled
	b  *bool
}

// Column indexes of the operator tests' table.
const (
	cID = iota
	cG
	cS
	cV
	cF
	cD
	cB
	nCols
)

var (
	decType  = &arrow.Decimal128Type{Precision: 12, Scale: 2}
	oTypes   = []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, decType, arrow.FixedWidthTypes.Boolean}
	oNames   = []string{"id", "g", "s", "v", "f", "d", "b"}
	allCols  = []int{cID, cG, cS, cV, cF, cD, cB}
	oSchema  = oSchemaOf("", allCols...)
	rSchema  = oSchemaOf("r_", allCols...) // the right side of joins
	oWords   = []string{"", "a", "ab", "b", "ß"}
	oDataSet = []struct {
		name      string
		withNulls bool
	}{{"nulls", true}, {"no nulls", false}}
)

// oSchemaOf is the schema of the given columns, names prefixed.
func oSchemaOf(prefix string, cols ...int) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: prefix + oNames[c], Type: oTypes[c], Nullable: c != cID}
	}
	return arrow.NewSchema(fields, nil)
}

// oc references column c of the table at position index of its input.
func oc(c int) *expr.Column { return ocAt(c, c, "") }

func ocAt(c, index int, prefix string) *expr.Column {
	return &expr.Column{Index: index, Name: prefix + oNames[c], Type: oTypes[c]}
}

// genORows returns n rows from a generator seeded with seed; about one
// value in five is NULL when withNulls is set, none otherwise.
func genORows(n int, seed uint64, withNulls bool) []orow {
	r := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))
	null := func() bool { return withNulls && r.IntN(5) == 0 }
	out := make([]orow, n)
	for i := range out {
		o := orow{id: int64(i)}
		if !null() {
			o.g = ptr(int64(r.IntN(7) - 2))
		}
		if !null() {
			o.s = ptr(oWords[r.IntN(len(oWords))])
		}
		if !null() {
			o.v = ptr(int64(r.IntN(101) - 50))
		}
		if !null() {
			o.f = ptr(float64(r.IntN(9)-4) / 2)
		}
		if !null() {
			o.d = ptr(int64(r.IntN(200001) - 100000))
		}
		if !null() {
			o.b = ptr(r.IntN(2) == 0)
		}
		out[i] = o
	}
	return out
}

// dec is a decimal value rendered at its scale, so that cells of decimal
// columns compare exactly and never equal a string cell.
type dec string

func decOf(unscaled int64, scale int32) dec {
	return dec(decimal128.FromI64(unscaled).ToString(scale))
}

// raw returns column c of r for ordering and equality: int64, string,
// float64 or bool (decimals unscaled), and false for NULL.
func (r orow) raw(c int) (any, bool) {
	switch c {
	case cID:
		return r.id, true
	case cG:
		return deref(r.g)
	case cS:
		return deref(r.s)
	case cV:
		return deref(r.v)
	case cF:
		return deref(r.f)
	case cD:
		return deref(r.d)
	case cB:
		return deref(r.b)
	}
	panic(fmt.Sprintf("no column %d", c))
}

func deref[T any](p *T) (any, bool) {
	if p == nil {
		return nil, false
	}
	return *p, true
}

// cell returns column c of r as the operators' output renders it.
func (r orow) cell(c int) any {
	v, ok := r.raw(c)
	if !ok {
		return nil
	}
	if c == cD {
		return decOf(v.(int64), decType.Scale)
	}
	return v
}

// cells returns the given columns of r.
func (r orow) cells(cols ...int) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		out[i] = r.cell(c)
	}
	return out
}

// cmpRaw orders two non-NULL raw values of one column.
func cmpRaw(a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmpOrdered(x, b.(int64))
	case float64:
		return cmpOrdered(x, b.(float64))
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case y:
			return -1
		}
		return 1
	}
	panic(fmt.Sprintf("cmpRaw %T", a))
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// okey is one ORDER BY term of the reference: a column, its direction and
// where its NULLs go.
type okey struct {
	col              int
	desc, nullsFirst bool
}

// sortKeys turns reference terms into the executor's sort keys.
func sortKeys(keys []okey) []executor.SortKey {
	out := make([]executor.SortKey, len(keys))
	for i, k := range keys {
		out[i] = executor.SortKey{Expr: oc(k.col), Desc: k.desc, NullsFirst: k.nullsFirst}
	}
	return out
}

// cmpBy orders two rows by keys, as SQL's ORDER BY does.
func cmpBy(keys []okey, a, b orow) int {
	for _, k := range keys {
		x, xok := a.raw(k.col)
		y, yok := b.raw(k.col)
		var c int
		switch {
		case !xok && !yok:
			c = 0
		case !xok:
			c = 1
			if k.nullsFirst {
				c = -1
			}
		case !yok:
			c = -1
			if k.nullsFirst {
				c = 1
			}
		default:
			c = cmpRaw(x, y)
			if k.desc {
				c = -c
			}
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// sameKey reports whether rows a and b are equal on cols, NULL equal to
// NULL (as GROUP BY, PARTITION BY and set operations compare).
func sameKey(cols []int, a, b orow) bool {
	for _, c := range cols {
		x, xok := a.raw(c)
		y, yok := b.raw(c)
		if xok != yok || (xok && cmpRaw(x, y) != 0) {
			return false
		}
	}
	return true
}

// keyOf renders columns cols of r as a map key, NULL distinct from every
// value.
func keyOf(r orow, cols ...int) string { return rowKey(r.cells(cols...)) }

// oBuild builds rows as a record of schema, whose fields are the table's
// columns cols.
func oBuild(mem memory.Allocator, schema *arrow.Schema, cols []int, rows []orow) arrow.RecordBatch {
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		b := array.NewBuilder(mem, oTypes[c])
		for _, r := range rows {
			v, ok := r.raw(c)
			if !ok {
				b.AppendNull()
				continue
			}
			switch bb := b.(type) {
			case *array.Int64Builder:
				bb.Append(v.(int64))
			case *array.StringBuilder:
				bb.Append(v.(string))
			case *array.Float64Builder:
				bb.Append(v.(float64))
			case *array.Decimal128Builder:
				bb.Append(decimal128.FromI64(v.(int64)))
			case *array.BooleanBuilder:
				bb.Append(v.(bool))
			}
		}
		arrs[i] = b.NewArray()
		b.Release()
	}
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	return array.NewRecordBatch(schema, arrs, int64(len(rows)))
}

// oSource returns a source yielding rows (columns cols, as schema) in
// batches of size rows, built on mem.
func oSource(mem memory.Allocator, schema *arrow.Schema, cols []int, rows []orow, size int) *source {
	rec := oBuild(mem, schema, cols, rows)
	defer rec.Release()
	return newSource(schema, cut(rec, size)...)
}

// fullSource is oSource over every column of the table.
func fullSource(mem memory.Allocator, rows []orow, size int) *source {
	return oSource(mem, oSchema, allCols, rows, size)
}

// opEnv returns an allocator and a context for one operator test: Arrow
// memory is checked (nothing may remain when the test ends), and what the
// operators allocate or reserve counts against a budget without a limit
// that must be back to zero when the test ends.
func opEnv(t *testing.T) (memory.Allocator, context.Context) {
	t.Helper()
	mem, ctx := newAlloc(t)
	ctx, budget := executor.WithMemoryLimit(ctx, mem, 0)
	t.Cleanup(func() {
		if u := budget.Used(); u != 0 {
			t.Errorf("the query budget still holds %d bytes after the operators closed", u)
		}
	})
	return mem, ctx
}

// collect drains op (opening and closing it) and returns its rows as cells
// and the size of every batch. Each batch must be non-empty and have the
// operator's schema.
func collect(t *testing.T, ctx context.Context, op executor.Operator) ([][]any, []int64) {
	t.Helper()
	var rows [][]any
	var sizes []int64
	err := executor.Drain(ctx, op, func(rec arrow.RecordBatch) error {
		if !rec.Schema().Equal(op.Schema()) {
			t.Errorf("batch schema %s differs from operator schema %s", rec.Schema(), op.Schema())
		}
		if rec.NumRows() == 0 {
			t.Errorf("operator returned an empty batch")
		}
		sizes = append(sizes, rec.NumRows())
		rows = append(rows, cellsOf(t, rec)...)
		return nil
	})
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	return rows, sizes
}

// cellsOf returns the rows of rec as cells: nil for NULL, int64, float64,
// string, bool or dec.
func cellsOf(t *testing.T, rec arrow.RecordBatch) [][]any {
	t.Helper()
	n := int(rec.NumRows())
	out := make([][]any, n)
	for r := range out {
		out[r] = make([]any, rec.NumCols())
	}
	for c, col := range rec.Columns() {
		for r := 0; r < n; r++ {
			if col.IsNull(r) {
				continue
			}
			switch a := col.(type) {
			case *array.Int64:
				out[r][c] = a.Value(r)
			case *array.Float64:
				out[r][c] = a.Value(r)
			case *array.String:
				out[r][c] = a.Value(r)
			case *array.Boolean:
				out[r][c] = a.Value(r)
			case *array.Decimal128:
				out[r][c] = dec(a.Value(r).ToString(a.DataType().(*arrow.Decimal128Type).Scale))
			default:
				t.Fatalf("column %d: unexpected type %s", c, col.DataType())
			}
		}
	}
	return out
}

// rowKey renders cells as one string: floats to 9 significant digits, so
// that rows differing only by rounding sort together.
func rowKey(cells []any) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteByte('|')
		}
		switch x := c.(type) {
		case nil:
			b.WriteString("NULL")
		case string:
			b.WriteString(strconv.Quote(x))
		case float64:
			b.WriteString("f" + strconv.FormatFloat(x, 'g', 9, 64))
		case dec:
			b.WriteString("d" + string(x))
		case int64:
			b.WriteString(strconv.FormatInt(x, 10))
		case bool:
			b.WriteString(strconv.FormatBool(x))
		default:
			fmt.Fprint(&b, x)
		}
	}
	return b.String()
}

// cellEqual compares two cells; floats may differ by rounding.
func cellEqual(a, b any) bool {
	x, xok := a.(float64)
	y, yok := b.(float64)
	if xok && yok {
		return x == y || math.Abs(x-y) <= 1e-9*max(1, math.Abs(x), math.Abs(y))
	}
	return a == b
}

// diffRows compares got with want, in order or as multisets, and describes
// the first differences; it returns "" when they are equal.
func diffRows(got, want [][]any, ordered bool) string {
	if !ordered {
		got, want = sortedRows(got), sortedRows(want)
	}
	var msgs []string
	if len(got) != len(want) {
		msgs = append(msgs, fmt.Sprintf("%d rows, want %d", len(got), len(want)))
	}
	for i := 0; i < max(len(got), len(want)) && len(msgs) < 6; i++ {
		switch {
		case i >= len(got):
			msgs = append(msgs, fmt.Sprintf("missing row %d: %s", i, rowKey(want[i])))
		case i >= len(want):
			msgs = append(msgs, fmt.Sprintf("extra row %d: %s", i, rowKey(got[i])))
		case !rowEqual(got[i], want[i]):
			msgs = append(msgs, fmt.Sprintf("row %d:\n  got  %s\n  want %s", i, rowKey(got[i]), rowKey(want[i])))
		}
	}
	return strings.Join(msgs, "\n")
}

func rowEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !cellEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sortedRows(rows [][]any) [][]any {
	keys := make([]string, len(rows))
	idx := make([]int, len(rows))
	for i, r := range rows {
		keys[i], idx[i] = rowKey(r), i
	}
	sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	out := make([][]any, len(rows))
	for i, j := range idx {
		out[i] = rows[j]
	}
	return out
}

// subMultiset reports a row of got that want does not hold as often.
func subMultiset(got, want [][]any) string {
	left := map[string]int{}
	for _, r := range want {
		left[rowKey(r)]++
	}
	for _, r := range got {
		k := rowKey(r)
		if left[k] == 0 {
			return "unexpected row " + k
		}
		left[k]--
	}
	return ""
}

func checkRows(t *testing.T, got, want [][]any, ordered bool) {
	t.Helper()
	if d := diffRows(got, want, ordered); d != "" {
		t.Errorf("result differs from the reference:\n%s", d)
	}
}

// TestHarnessNoticesDifferences checks that the comparisons the operator
// tests rely on fail when they should.
func TestHarnessNoticesDifferences(t *testing.T) {
	base := [][]any{{int64(1), "a", nil}, {int64(2), "b", 0.5}, {int64(2), "b", 0.5}, {nil, dec("1.00"), true}}
	perm := [][]any{base[3], base[1], base[0], base[2]}
	if d := diffRows(perm, base, false); d != "" {
		t.Errorf("a permutation differs as a multiset: %s", d)
	}
	if d := diffRows([][]any{{1.0 + 1e-13}}, [][]any{{1.0}}, true); d != "" {
		t.Errorf("rounding noise is a difference: %s", d)
	}
	if diffRows(perm, base, true) == "" {
		t.Errorf("a permutation compares equal in order")
	}
	differ := map[string][][]any{
		"a row missing":     base[:3],
		"a duplicate lost":  {base[0], base[1], base[3], {int64(3), "b", 0.5}},
		"NULL for zero":     {base[0], base[1], base[2], {int64(0), dec("1.00"), true}},
		"float off by 1e-6": {base[0], {int64(2), "b", 0.5 + 1e-6}, base[2], base[3]},
		"string for dec":    {base[0], base[1], base[2], {nil, "1.00", true}},
		"empty string NULL": {{int64(1), "", nil}, base[1], base[2], base[3]},
	}
	for name, rows := range differ {
		if diffRows(rows, base, false) == "" {
			t.Errorf("%s: not noticed", name)
		}
	}
	if subMultiset([][]any{base[1], base[1], base[1]}, base) == "" {
		t.Errorf("subMultiset missed a row taken three times")
	}
}
