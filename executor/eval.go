package executor

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/lakeflight/lakeflight/expr"
)

// ErrUnboundParam means a plan still holds a parameter placeholder when it
// is executed.
var ErrUnboundParam = errors.New("parameter has no value")

// WithAllocator returns a context whose expression evaluation and compute
// kernels allocate from mem.
func WithAllocator(ctx context.Context, mem memory.Allocator) context.Context {
	return exec.WithAllocator(ctx, mem)
}

func allocator(ctx context.Context) memory.Allocator { return exec.GetAllocator(ctx) }

// Eval evaluates e over batch and returns an array of batch.NumRows()
// values, owned by the caller.
func Eval(ctx context.Context, e expr.Expr, batch arrow.RecordBatch) (arrow.Array, error) {
	d, err := evalDatum(ctx, e, batch)
	if err != nil {
		return nil, err
	}
	defer d.Release()
	return materialize(ctx, d, int(batch.NumRows()))
}

func materialize(ctx context.Context, d compute.Datum, n int) (arrow.Array, error) {
	switch v := d.(type) {
	case *compute.ArrayDatum:
		return v.MakeArray(), nil
	case *compute.ScalarDatum:
		return scalar.MakeArrayFromScalar(v.Value, n, allocator(ctx))
	}
	return nil, fmt.Errorf("unexpected datum %s", d.Kind())
}

// evalDatum evaluates e, leaving constants as scalars. The result is owned
// by the caller.
func evalDatum(ctx context.Context, e expr.Expr, batch arrow.RecordBatch) (compute.Datum, error) {
	switch x := e.(type) {
	case *expr.Column:
		a, err := columnArray(ctx, batch.Column(x.Index), x.Path)
		if err != nil {
			return nil, err
		}
		defer a.Release()
		return compute.NewDatum(a), nil
	case *expr.Literal:
		return compute.NewDatum(x.Value), nil
	case *expr.Param:
		return nil, fmt.Errorf("%w: %s", ErrUnboundParam, x)
	case *expr.Compare:
		if d, ok, err := decimalCompare(ctx, x, batch); ok || err != nil {
			return d, err
		}
		return call2(ctx, x.Op.Kernel(), x.L, x.R, batch)
	case *expr.And:
		return fold(ctx, "and_kleene", x.Args, batch)
	case *expr.Or:
		return fold(ctx, "or_kleene", x.Args, batch)
	case *expr.Not:
		in, err := evalDatum(ctx, x.X, batch)
		if err != nil {
			return nil, err
		}
		defer in.Release()
		return invert(ctx, in)
	case *expr.IsNull:
		in, err := evalDatum(ctx, x.X, batch)
		if err != nil {
			return nil, err
		}
		defer in.Release()
		if x.X.DataType().ID() == arrow.NULL {
			// Every value of the null type is NULL, but arrow-go's is_null
			// reads the missing validity bitmap of a null array as "valid".
			return compute.NewDatum(scalar.NewBooleanScalar(!x.Negate)), nil
		}
		// From the validity bitmap, not arrow-go's kernels: it has no
		// is_valid, its is_not_null ignores the input's offset (wrong on
		// sliced batches), and is_null panics on decimals.
		return nullTest(ctx, in, x.Negate)
	case *expr.Cast:
		in, err := evalDatum(ctx, x.X, batch)
		if err != nil {
			return nil, err
		}
		defer in.Release()
		if s, ok := in.(*compute.ScalarDatum); ok {
			v, err := s.Value.CastTo(x.To)
			if err != nil {
				return nil, fmt.Errorf("cast %s to %s: %w", s.Value, x.To, err)
			}
			return compute.NewDatum(v), nil
		}
		if a, ok := in.(*compute.ArrayDatum); ok && isIntType(a.Type()) && x.To.ID() == arrow.DECIMAL128 {
			arr := a.MakeArray()
			defer arr.Release()
			d, err := intToDecimal(ctx, arr, x.To.(*arrow.Decimal128Type))
			if err != nil {
				return nil, err
			}
			defer d.Release()
			return compute.NewDatum(d), nil
		}
		if a, ok := in.(*compute.ArrayDatum); ok && a.Type().ID() == arrow.DECIMAL128 && x.To.ID() == arrow.FLOAT64 {
			arr := a.MakeArray()
			defer arr.Release()
			f := decimalToFloat64(ctx, arr.(*array.Decimal128))
			defer f.Release()
			return compute.NewDatum(f), nil
		}
		return compute.CastDatum(ctx, in, compute.SafeCastOptions(x.To))
	case *ScalarSubquery:
		return evalScalarSubquery(ctx, x)
	case *expr.Arith:
		return evalArith(ctx, x, batch)
	case *expr.Case:
		return evalCase(ctx, x, batch)
	case *expr.Func:
		return evalFunc(ctx, x, batch)
	case *expr.In:
		return evalIn(ctx, x, batch)
	case *expr.Like:
		return evalLike(ctx, x, batch)
	}
	return nil, fmt.Errorf("cannot evaluate %T", e)
}

func call2(ctx context.Context, fn string, l, r expr.Expr, batch arrow.RecordBatch) (compute.Datum, error) {
	ld, err := evalDatum(ctx, l, batch)
	if err != nil {
		return nil, err
	}
	defer ld.Release()
	rd, err := evalDatum(ctx, r, batch)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	return compute.CallFunction(ctx, fn, nil, ld, rd)
}

func fold(ctx context.Context, fn string, args []expr.Expr, batch arrow.RecordBatch) (compute.Datum, error) {
	acc, err := evalDatum(ctx, args[0], batch)
	if err != nil {
		return nil, err
	}
	for _, a := range args[1:] {
		d, err := evalDatum(ctx, a, batch)
		if err != nil {
			acc.Release()
			return nil, err
		}
		next, err := compute.CallFunction(ctx, fn, nil, acc, d)
		acc.Release()
		d.Release()
		if err != nil {
			return nil, err
		}
		acc = next
	}
	return acc, nil
}

// columnArray returns a new reference to col, or to the struct field that
// path selects in it with the struct's nulls applied.
func columnArray(ctx context.Context, col arrow.Array, path []int) (arrow.Array, error) {
	col.Retain()
	cur := col
	for _, idx := range path {
		st, ok := cur.(*array.Struct)
		if !ok {
			cur.Release()
			return nil, fmt.Errorf("field access on non-struct %s", cur.DataType())
		}
		child := st.Field(idx)
		next := withParentNulls(ctx, child, st)
		cur.Release()
		cur = next
	}
	return cur, nil
}

// withParentNulls returns child with every row that is null in parent made
// null too. The result is a new reference.
func withParentNulls(ctx context.Context, child arrow.Array, parent arrow.Array) arrow.Array {
	if parent.NullN() == 0 {
		child.Retain()
		return child
	}
	d := child.Data()
	n := d.Len()
	off := d.Offset()
	buf := memory.NewResizableBuffer(allocator(ctx))
	buf.Resize(int(bitutil.BytesForBits(int64(off + n))))
	bits := buf.Bytes()
	for i := range bits {
		bits[i] = 0
	}
	nulls := 0
	for i := 0; i < n; i++ {
		if parent.IsValid(i) && child.IsValid(i) {
			bitutil.SetBit(bits, off+i)
		} else {
			nulls++
		}
	}
	bufs := append([]*memory.Buffer{buf}, d.Buffers()[1:]...)
	nd := array.NewData(d.DataType(), n, bufs, d.Children(), nulls, off)
	buf.Release()
	defer nd.Release()
	return array.MakeFromData(nd)
}

// nullTest answers IS NULL (IS NOT NULL when negate is set) for every value
// of d; the result has no NULLs.
func nullTest(ctx context.Context, d compute.Datum, negate bool) (compute.Datum, error) {
	switch v := d.(type) {
	case *compute.ScalarDatum:
		return compute.NewDatum(scalar.NewBooleanScalar(v.Value.IsValid() == negate)), nil
	case *compute.ArrayDatum:
		data := v.Value
		n := data.Len()
		buf := memory.NewResizableBuffer(allocator(ctx))
		buf.Resize(int(bitutil.BytesForBits(int64(n))))
		out := buf.Bytes()
		// NullN is -1 (unknown) on slices: only 0 means no NULLs.
		if valid := data.Buffers()[0]; valid != nil && data.NullN() != 0 {
			if negate {
				bitutil.CopyBitmap(valid.Bytes(), data.Offset(), n, out, 0)
			} else {
				bitutil.InvertBitmap(valid.Bytes(), data.Offset(), n, out, 0)
			}
		} else {
			bitutil.SetBitsTo(out, 0, int64(n), negate)
		}
		res := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
		buf.Release()
		defer res.Release()
		arr := array.MakeFromData(res)
		defer arr.Release()
		return compute.NewDatum(arr), nil
	}
	return nil, fmt.Errorf("IS NULL of %s", d.Kind())
}

func evalIn(ctx context.Context, x *expr.In, batch arrow.RecordBatch) (compute.Datum, error) {
	if x.X.DataType().ID() == arrow.BOOL {
		// arrow-go's is_in answers false for every boolean: compare item by
		// item, which has the same three-valued result.
		args := make([]expr.Expr, len(x.List))
		for i, item := range x.List {
			args[i] = &expr.Compare{Op: expr.Eq, L: x.X, R: item}
		}
		var e expr.Expr = &expr.Or{Args: args}
		if x.Negate {
			e = &expr.Not{X: e}
		}
		return evalDatum(ctx, e, batch)
	}
	in, err := evalDatum(ctx, x.X, batch)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	parts := make([]arrow.Array, 0, len(x.List))
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for _, item := range x.List {
		lit, ok := item.(*expr.Literal)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrUnboundParam, item)
		}
		a, err := scalar.MakeArrayFromScalar(lit.Value, 1, allocator(ctx))
		if err != nil {
			return nil, err
		}
		parts = append(parts, a)
	}
	set, err := array.Concatenate(parts, allocator(ctx))
	if err != nil {
		return nil, err
	}
	defer set.Release()
	setD := compute.NewDatum(set)
	defer setD.Release()
	out, err := compute.IsIn(ctx, compute.SetOptions{ValueSet: setD, NullBehavior: compute.NullMatchingInconclusive}, in)
	if err != nil {
		return nil, err
	}
	if !x.Negate {
		return out, nil
	}
	defer out.Release()
	return invert(ctx, out)
}

// invert is three-valued NOT: it flips every value bit and keeps the nulls.
func invert(ctx context.Context, d compute.Datum) (compute.Datum, error) {
	switch v := d.(type) {
	case *compute.ScalarDatum:
		b, ok := v.Value.(*scalar.Boolean)
		if !ok {
			return nil, fmt.Errorf("NOT needs a boolean, got %s", v.Value.DataType())
		}
		if !b.IsValid() {
			return compute.NewDatum(scalar.MakeNullScalar(arrow.FixedWidthTypes.Boolean)), nil
		}
		return compute.NewDatum(scalar.NewBooleanScalar(!b.Value)), nil
	case *compute.ArrayDatum:
		data := v.Value
		if data.DataType().ID() != arrow.BOOL {
			return nil, fmt.Errorf("NOT needs a boolean, got %s", data.DataType())
		}
		src := data.Buffers()[1].Bytes()
		nbytes := int(bitutil.BytesForBits(int64(data.Offset() + data.Len())))
		buf := memory.NewResizableBuffer(allocator(ctx))
		buf.Resize(nbytes)
		dst := buf.Bytes()
		for i := 0; i < nbytes; i++ {
			dst[i] = ^src[i]
		}
		out := array.NewData(arrow.FixedWidthTypes.Boolean, data.Len(), []*memory.Buffer{data.Buffers()[0], buf}, nil, data.NullN(), data.Offset())
		buf.Release()
		defer out.Release()
		arr := array.MakeFromData(out)
		defer arr.Release()
		return compute.NewDatum(arr), nil
	}
	return nil, fmt.Errorf("NOT of %s", d.Kind())
}

func evalLike(ctx context.Context, x *expr.Like, batch arrow.RecordBatch) (compute.Datum, error) {
	pat, ok := x.Pattern.(*expr.Literal)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnboundParam, x.Pattern)
	}
	in, err := evalDatum(ctx, x.X, batch)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	arrD, err := materialize(ctx, in, int(batch.NumRows()))
	if err != nil {
		return nil, err
	}
	defer arrD.Release()
	strs, ok := arrD.(*array.String)
	if !ok {
		return nil, fmt.Errorf("LIKE needs a string operand, got %s", arrD.DataType())
	}
	bld := array.NewBooleanBuilder(allocator(ctx))
	defer bld.Release()
	if !pat.Value.IsValid() {
		bld.AppendNulls(strs.Len())
		out := bld.NewArray()
		defer out.Release()
		return compute.NewDatum(out), nil
	}
	m, err := NewLikeMatcher(pat.Value.(*scalar.String).String(), x.Fold)
	if err != nil {
		return nil, err
	}
	bld.Reserve(strs.Len())
	for i := 0; i < strs.Len(); i++ {
		if strs.IsNull(i) {
			bld.UnsafeAppendBoolToBitmap(false)
			continue
		}
		bld.UnsafeAppend(m.Match(strs.Value(i)) != x.Negate)
	}
	out := bld.NewArray()
	defer out.Release()
	return compute.NewDatum(out), nil
}

// LikeMatcher matches strings against one SQL LIKE pattern.
type LikeMatcher struct {
	kind   int // 0 exact, 1 prefix, 2 suffix, 3 contains, 4 regexp, 5 pieces
	lit    string
	re     *regexp.Regexp
	fold   bool
	pieces []string // kind 5: literal pieces separated by %
}

// NewLikeMatcher compiles a LIKE pattern: % matches any run of characters, _
// one character, and a backslash makes the next character literal. fold
// makes matching case-insensitive.
func NewLikeMatcher(pattern string, fold bool) (*LikeMatcher, error) {
	if fold {
		pattern = strings.ToLower(pattern)
	}
	m := &LikeMatcher{fold: fold}
	if !strings.ContainsAny(pattern, `_\`) {
		inner := strings.Trim(pattern, "%")
		if !strings.Contains(inner, "%") {
			lead := strings.HasPrefix(pattern, "%")
			trail := len(pattern) > len(inner) && strings.HasSuffix(pattern, "%") && (len(pattern) > 1 || !lead)
			switch {
			case pattern == "%" || pattern == "%%":
				m.kind, m.lit = 1, ""
				return m, nil
			case !lead && !trail:
				m.kind, m.lit = 0, inner
				return m, nil
			case !lead && trail:
				m.kind, m.lit = 1, inner
				return m, nil
			case lead && !trail:
				m.kind, m.lit = 2, inner
				return m, nil
			default:
				m.kind, m.lit = 3, inner
				return m, nil
			}
		}
	}
	// Literal pieces between % wildcards (no _ and no escapes): match them
	// in order with substring search instead of a regular expression.
	if !strings.ContainsAny(pattern, `_\`) {
		m.kind, m.pieces = 5, strings.Split(pattern, "%")
		return m, nil
	}
	var re strings.Builder
	re.WriteString(`(?s)^`)
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '%':
			re.WriteString(`.*`)
		case '_':
			re.WriteString(`.`)
		case '\\':
			if i+1 < len(pattern) {
				i++
				re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
			} else {
				re.WriteString(`\\`)
			}
		default:
			// Copy a whole UTF-8 sequence at once so _ counts characters.
			j := i + 1
			for j < len(pattern) && pattern[j]&0xC0 == 0x80 {
				j++
			}
			re.WriteString(regexp.QuoteMeta(pattern[i:j]))
			i = j - 1
		}
	}
	re.WriteString(`$`)
	r, err := regexp.Compile(re.String())
	if err != nil {
		return nil, fmt.Errorf("LIKE pattern %q: %w", pattern, err)
	}
	m.kind, m.re = 4, r
	return m, nil
}

// Match reports whether s matches the pattern.
func (m *LikeMatcher) Match(s string) bool {
	if m.fold {
		s = strings.ToLower(s)
	}
	switch m.kind {
	case 0:
		return s == m.lit
	case 1:
		return strings.HasPrefix(s, m.lit)
	case 2:
		return strings.HasSuffix(s, m.lit)
	case 3:
		return strings.Contains(s, m.lit)
	case 5:
		return matchPieces(s, m.pieces)
	}
	return m.re.MatchString(s)
}

// matchPieces matches s against pieces[0] % pieces[1] % ... % pieces[n-1]:
// the first piece is a prefix, the last a suffix, the rest appear in order.
func matchPieces(s string, pieces []string) bool {
	first, last := pieces[0], pieces[len(pieces)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for _, p := range pieces[1 : len(pieces)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
