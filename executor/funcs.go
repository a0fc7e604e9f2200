package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"github.com/lakeflight/lakeflight/expr"
)

// ErrDivisionByZero is SQL's division by zero.
var ErrDivisionByZero = errors.New("division by zero")

// ErrFunction is a function applied to a value it does not take.
var ErrFunction = errors.New("invalid function argument")

func evalArith(ctx context.Context, x *expr.Arith, batch arrow.RecordBatch) (compute.Datum, error) {
	if d, ok, err := decimalArith(ctx, x, batch); ok || err != nil {
		return d, err
	}
	n := int(batch.NumRows())
	l, err := Eval(ctx, x.L, batch)
	if err != nil {
		return nil, err
	}
	defer l.Release()
	r, err := Eval(ctx, x.R, batch)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	if x.Op == "%" || (x.Op == "/" && isIntType(x.Type)) {
		out, err := intDivMod(ctx, x.Op, l, r, n)
		if err != nil {
			return nil, err
		}
		defer out.Release()
		return compute.NewDatum(out), nil
	}
	if x.Op == "/" {
		if hasZero(r) {
			return nil, fmt.Errorf("%w in %s", ErrDivisionByZero, x)
		}
	}
	fn := map[string]string{"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[x.Op]
	if fn == "" {
		return nil, fmt.Errorf("unknown operator %s", x.Op)
	}
	ld, rd := compute.NewDatum(l), compute.NewDatum(r)
	defer ld.Release()
	defer rd.Release()
	out, err := compute.CallFunction(ctx, fn, nil, ld, rd)
	if err != nil {
		if strings.Contains(err.Error(), "overflow") {
			return nil, fmt.Errorf("%w: %s", ErrOverflow, x)
		}
		return nil, fmt.Errorf("%s: %w", x, err)
	}
	if t := out.(compute.ArrayLikeDatum).Type(); !arrow.TypeEqual(t, x.Type) {
		defer out.Release()
		return compute.CastDatum(ctx, out, compute.SafeCastOptions(x.Type))
	}
	return out, nil
}

func hasZero(a arrow.Array) bool {
	if isIntType(a.DataType()) {
		v, _ := intValues(a)
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) && v(i) == 0 {
				return true
			}
		}
		return false
	}
	if isFloatType(a.DataType()) {
		v, _ := floatValues(a)
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) && v(i) == 0 {
				return true
			}
		}
	}
	return false
}

// intDivMod is integer division (truncating) and modulo for integers, and
// modulo for floats.
func intDivMod(ctx context.Context, op string, l, r arrow.Array, n int) (arrow.Array, error) {
	mem := allocator(ctx)
	if isFloatType(l.DataType()) {
		lv, _ := floatValues(l)
		rv, _ := floatValues(r)
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		for i := 0; i < n; i++ {
			if l.IsNull(i) || r.IsNull(i) {
				b.AppendNull()
				continue
			}
			if rv(i) == 0 {
				return nil, ErrDivisionByZero
			}
			b.Append(math.Mod(lv(i), rv(i)))
		}
		return b.NewArray(), nil
	}
	lv, err := intValues(l)
	if err != nil {
		return nil, err
	}
	rv, err := intValues(r)
	if err != nil {
		return nil, err
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for i := 0; i < n; i++ {
		if l.IsNull(i) || r.IsNull(i) {
			b.AppendNull()
			continue
		}
		d := rv(i)
		if d == 0 {
			return nil, ErrDivisionByZero
		}
		if op == "/" {
			if lv(i) == math.MinInt64 && d == -1 {
				return nil, ErrOverflow
			}
			b.Append(lv(i) / d)
		} else {
			if d == -1 {
				b.Append(0)
				continue
			}
			b.Append(lv(i) % d)
		}
	}
	out := b.NewArray()
	if l.DataType().ID() == arrow.INT64 {
		return out, nil
	}
	defer out.Release()
	return compute.CastArray(ctx, out, compute.SafeCastOptions(l.DataType()))
}

func evalCase(ctx context.Context, x *expr.Case, batch arrow.RecordBatch) (compute.Datum, error) {
	n := int(batch.NumRows())
	var arrs []arrow.Array
	defer func() { releaseAll(arrs) }()
	conds := make([]*array.Boolean, len(x.Whens))
	thens := make([]arrow.Array, len(x.Whens))
	for i, w := range x.Whens {
		c, err := Eval(ctx, w.Cond, batch)
		if err != nil {
			return nil, err
		}
		arrs = append(arrs, c)
		conds[i] = c.(*array.Boolean)
		t, err := Eval(ctx, w.Then, batch)
		if err != nil {
			return nil, err
		}
		arrs = append(arrs, t)
		thens[i] = t
	}
	var els arrow.Array
	if x.Else != nil {
		e, err := Eval(ctx, x.Else, batch)
		if err != nil {
			return nil, err
		}
		arrs = append(arrs, e)
		els = e
	}
	b := array.NewBuilder(allocator(ctx), x.Type)
	defer b.Release()
	for r := 0; r < n; r++ {
		var src arrow.Array
		for i, c := range conds {
			if c.IsValid(r) && c.Value(r) {
				src = thens[i]
				break
			}
		}
		if src == nil {
			src = els
		}
		if src == nil {
			b.AppendNull()
			continue
		}
		if err := appendRow(b, src, r); err != nil {
			return nil, err
		}
	}
	out := b.NewArray()
	defer out.Release()
	return compute.NewDatum(out), nil
}

// scalarFunc evaluates one function over materialized arguments of n rows.
type scalarFunc func(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error)

var scalarFuncs map[string]scalarFunc

func init() {
	scalarFuncs = map[string]scalarFunc{
		"lower":       strMap(strings.ToLower),
		"upper":       strMap(strings.ToUpper),
		"trim":        strMap(func(s string) string { return strings.Trim(s, " ") }),
		"ltrim":       strMap(func(s string) string { return strings.TrimLeft(s, " ") }),
		"rtrim":       strMap(func(s string) string { return strings.TrimRight(s, " ") }),
		"length":      fnLength,
		"substring":   fnSubstring,
		"concat":      fnConcat,
		"textcat":     fnTextcat,
		"replace":     fnReplace,
		"split_part":  fnSplitPart,
		"starts_with": fnStartsWith,
		"strpos":      fnStrpos,
		"coalesce":    fnCoalesce,
		"nullif":      fnNullif,
		"abs": floatOrIntMap(math.Abs, func(v int64) int64 {
			if v < 0 {
				return -v
			}
			return v
		}),
		"floor": floatOrIntMap(math.Floor, nil),
		"ceil":  floatOrIntMap(math.Ceil, nil),
		"sqrt":  floatMap(math.Sqrt),
		"ln":    floatMap(math.Log),
		"exp":   floatMap(math.Exp),
		"round": fnRound,
		"power": fnPower,
		"sign": floatOrIntMap(func(f float64) float64 {
			if f > 0 {
				return 1
			} else if f < 0 {
				return -1
			}
			return 0
		}, func(v int64) int64 {
			if v > 0 {
				return 1
			} else if v < 0 {
				return -1
			}
			return 0
		}),
		"date_trunc":   fnDateTrunc,
		"date_part":    fnDatePart,
		"add_interval": fnAddInterval,
		"element_at":   fnElementAt,
		"date_diff":    fnDateDiff,
		"to_char":      fnToChar,
		"date_bin":     fnDateBin,
		"cardinality":  fnCardinality,
		"greatest":     fnGreatestLeast(true),
		"least":        fnGreatestLeast(false),
	}
}

func evalFunc(ctx context.Context, x *expr.Func, batch arrow.RecordBatch) (compute.Datum, error) {
	fn, ok := scalarFuncs[x.Name]
	if !ok {
		return nil, fmt.Errorf("%w: function %s", ErrFunction, x.Name)
	}
	args := make([]arrow.Array, len(x.Args))
	defer func() { releaseAll(args) }()
	for i, a := range x.Args {
		v, err := Eval(ctx, a, batch)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	out, err := fn(ctx, args, x.Type, int(batch.NumRows()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", x.Name, err)
	}
	defer out.Release()
	return compute.NewDatum(out), nil
}

func anyNull(args []arrow.Array, r int) bool {
	for _, a := range args {
		// Arrays of the null type carry no validity bitmap.
		if a.IsNull(r) || a.DataType().ID() == arrow.NULL {
			return true
		}
	}
	return false
}

func strMap(f func(string) string) scalarFunc {
	return func(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
		s := args[0].(*array.String)
		return perRow(array.NewStringBuilder(allocator(ctx)), args, n, func(r int) (string, error) { return f(s.Value(r)), nil })
	}
}

func fnLength(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	s := args[0].(*array.String)
	return perRow(array.NewInt32Builder(allocator(ctx)), args, n, func(r int) (int32, error) {
		return int32(utf8.RuneCountInString(s.Value(r))), nil
	})
}

// fnSubstring is substring(s, start[, count]) with 1-based start, counting
// characters, PostgreSQL style (a start before 1 eats into the count).
func fnSubstring(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	s := args[0].(*array.String)
	start, err := intValues(args[1])
	if err != nil {
		return nil, err
	}
	var count func(int) int64
	if len(args) > 2 {
		if count, err = intValues(args[2]); err != nil {
			return nil, err
		}
	}
	b := array.NewStringBuilder(allocator(ctx))
	defer b.Release()
	for r := 0; r < n; r++ {
		if anyNull(args, r) {
			b.AppendNull()
			continue
		}
		runes := []rune(s.Value(r))
		from := start(r) - 1
		to := int64(len(runes))
		if count != nil {
			c := count(r)
			if c < 0 {
				return nil, fmt.Errorf("%w: negative substring length", ErrFunction)
			}
			to = min(to, from+c)
		}
		from = max(from, 0)
		if from >= to {
			b.Append("")
			continue
		}
		b.Append(string(runes[from:to]))
	}
	return b.NewArray(), nil
}

// fnConcat joins its arguments as text, skipping NULLs (concat) — the ||
// operator is planned as concat over non-null checks by the planner.
func fnConcat(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	b := array.NewStringBuilder(allocator(ctx))
	defer b.Release()
	var sb strings.Builder
	for r := 0; r < n; r++ {
		sb.Reset()
		for _, a := range args {
			if a.IsValid(r) {
				sb.WriteString(a.ValueStr(r))
			}
		}
		b.Append(sb.String())
	}
	return b.NewArray(), nil
}

// fnTextcat is the || operator: NULL when either side is NULL.
func fnTextcat(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	return perRow(array.NewStringBuilder(allocator(ctx)), args, n, func(r int) (string, error) {
		return args[0].ValueStr(r) + args[1].ValueStr(r), nil
	})
}

func fnReplace(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	s, from, to := args[0].(*array.String), args[1].(*array.String), args[2].(*array.String)
	return perRow(array.NewStringBuilder(allocator(ctx)), args, n, func(r int) (string, error) {
		if from.Value(r) == "" {
			return s.Value(r), nil
		}
		return strings.ReplaceAll(s.Value(r), from.Value(r), to.Value(r)), nil
	})
}

func fnSplitPart(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	s, sep := args[0].(*array.String), args[1].(*array.String)
	idx, err := intValues(args[2])
	if err != nil {
		return nil, err
	}
	b := array.NewStringBuilder(allocator(ctx))
	defer b.Release()
	for r := 0; r < n; r++ {
		if anyNull(args, r) {
			b.AppendNull()
			continue
		}
		k := idx(r)
		if k == 0 {
			return nil, fmt.Errorf("%w: split_part field position must not be zero", ErrFunction)
		}
		var parts []string
		if sep.Value(r) == "" {
			parts = []string{s.Value(r)}
		} else {
			parts = strings.Split(s.Value(r), sep.Value(r))
		}
		if k < 0 {
			k = int64(len(parts)) + k + 1
		}
		if k < 1 || k > int64(len(parts)) {
			b.Append("")
			continue
		}
		b.Append(parts[k-1])
	}
	return b.NewArray(), nil
}

func fnStartsWith(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	s, p := args[0].(*array.String), args[1].(*array.String)
	return perRow(array.NewBooleanBuilder(allocator(ctx)), args, n, func(r int) (bool, error) {
		return strings.HasPrefix(s.Value(r), p.Value(r)), nil
	})
}

func fnStrpos(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	s, p := args[0].(*array.String), args[1].(*array.String)
	return perRow(array.NewInt32Builder(allocator(ctx)), args, n, func(r int) (int32, error) {
		i := strings.Index(s.Value(r), p.Value(r))
		if i < 0 {
			return 0, nil
		}
		return int32(utf8.RuneCountInString(s.Value(r)[:i]) + 1), nil
	})
}

func fnCoalesce(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	b := array.NewBuilder(allocator(ctx), out)
	defer b.Release()
	for r := 0; r < n; r++ {
		done := false
		for _, a := range args {
			if a.IsValid(r) {
				if err := appendRow(b, a, r); err != nil {
					return nil, err
				}
				done = true
				break
			}
		}
		if !done {
			b.AppendNull()
		}
	}
	return b.NewArray(), nil
}

func fnNullif(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	eq, err := compute.CallFunction(ctx, "equal", nil, compute.NewDatum(args[0]), compute.NewDatum(args[1]))
	if err != nil {
		return nil, err
	}
	defer eq.Release()
	m := eq.(*compute.ArrayDatum).MakeArray().(*array.Boolean)
	defer m.Release()
	b := array.NewBuilder(allocator(ctx), out)
	defer b.Release()
	for r := 0; r < n; r++ {
		if m.IsValid(r) && m.Value(r) {
			b.AppendNull()
			continue
		}
		if err := appendRow(b, args[0], r); err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

func floatMap(f func(float64) float64) scalarFunc {
	return func(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
		v, err := floatValues(args[0])
		if err != nil {
			return nil, err
		}
		b := array.NewFloat64Builder(allocator(ctx))
		defer b.Release()
		for r := 0; r < n; r++ {
			if args[0].IsNull(r) {
				b.AppendNull()
				continue
			}
			y := f(v(r))
			if math.IsNaN(y) && !math.IsNaN(v(r)) {
				return nil, fmt.Errorf("%w: %v is out of the function's domain", ErrFunction, v(r))
			}
			b.Append(y)
		}
		return b.NewArray(), nil
	}
}

// floatOrIntMap applies fi to integers (keeping their type; nil keeps the
// value) and ff to floats.
func floatOrIntMap(ff func(float64) float64, fi func(int64) int64) scalarFunc {
	fl := floatMap(ff)
	return func(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
		if !isIntType(args[0].DataType()) {
			return fl(ctx, args, out, n)
		}
		v, _ := intValues(args[0])
		b := array.NewInt64Builder(allocator(ctx))
		defer b.Release()
		for r := 0; r < n; r++ {
			if args[0].IsNull(r) {
				b.AppendNull()
				continue
			}
			x := v(r)
			if fi != nil {
				if x == math.MinInt64 {
					return nil, ErrOverflow
				}
				x = fi(x)
			}
			b.Append(x)
		}
		res := b.NewArray()
		if out.ID() == arrow.INT64 {
			return res, nil
		}
		defer res.Release()
		return compute.CastArray(ctx, res, compute.SafeCastOptions(out))
	}
}

func fnRound(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	if isIntType(args[0].DataType()) && len(args) == 1 {
		return floatOrIntMap(nil, nil)(ctx, args[:1], out, n)
	}
	v, err := floatValues(args[0])
	if err != nil {
		return nil, err
	}
	var digits func(int) int64
	if len(args) > 1 {
		if digits, err = intValues(args[1]); err != nil {
			return nil, err
		}
	}
	b := array.NewFloat64Builder(allocator(ctx))
	defer b.Release()
	for r := 0; r < n; r++ {
		if anyNull(args, r) {
			b.AppendNull()
			continue
		}
		x := v(r)
		if digits == nil {
			b.Append(math.Round(x))
			continue
		}
		p := math.Pow(10, float64(digits(r)))
		b.Append(math.Round(x*p) / p)
	}
	return b.NewArray(), nil
}

func fnPower(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	x, err := floatValues(args[0])
	if err != nil {
		return nil, err
	}
	y, err := floatValues(args[1])
	if err != nil {
		return nil, err
	}
	return perRow(array.NewFloat64Builder(allocator(ctx)), args, n, func(r int) (float64, error) { return math.Pow(x(r), y(r)), nil })
}

func fnGreatestLeast(greatest bool) scalarFunc {
	return func(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
		cmps := make([]func(i, j int) int, len(args))
		_ = cmps
		b := array.NewBuilder(allocator(ctx), out)
		defer b.Release()
		for r := 0; r < n; r++ {
			best := -1
			for i, a := range args {
				if a.IsNull(r) {
					continue
				}
				if best < 0 {
					best = i
					continue
				}
				c, err := compareRows(args[best], a, r)
				if err != nil {
					return nil, err
				}
				if (greatest && c < 0) || (!greatest && c > 0) {
					best = i
				}
			}
			if best < 0 {
				b.AppendNull()
				continue
			}
			if err := appendRow(b, args[best], r); err != nil {
				return nil, err
			}
		}
		return b.NewArray(), nil
	}
}

// compareRows compares row r of two arrays of one type.
func compareRows(a, b arrow.Array, r int) (int, error) {
	switch x := a.(type) {
	case *array.String:
		return strings.Compare(x.Value(r), b.(*array.String).Value(r)), nil
	case *array.Float32, *array.Float64, *array.Decimal128:
		av, _ := floatValues(a)
		bv, _ := floatValues(b)
		return cmpFloat(av(r), bv(r)), nil
	}
	av, err := orderedInts(a)
	if err != nil {
		return 0, err
	}
	bv, _ := orderedInts(b)
	return cmpInt(av(r), bv(r)), nil
}

// timeValues reads dates and timestamps as time.Time in UTC.
func timeValues(a arrow.Array) (func(int) time.Time, error) {
	switch arr := a.(type) {
	case *array.Date32:
		return func(i int) time.Time { return arr.Value(i).ToTime() }, nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return func(i int) time.Time { return arr.Value(i).ToTime(unit) }, nil
	}
	return nil, fmt.Errorf("%w: %s is not a date or timestamp", ErrFunction, a.DataType())
}

func truncTime(t time.Time, unit string) (time.Time, error) {
	y, m, d := t.Date()
	switch unit {
	case "microseconds", "microsecond":
		return t.Truncate(time.Microsecond), nil
	case "milliseconds", "millisecond":
		return t.Truncate(time.Millisecond), nil
	case "second":
		return t.Truncate(time.Second), nil
	case "minute":
		return t.Truncate(time.Minute), nil
	case "hour":
		return t.Truncate(time.Hour), nil
	case "day":
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case "week":
		wd := (int(t.Weekday()) + 6) % 7 // Monday first, ISO
		return time.Date(y, m, d-wd, 0, 0, 0, 0, time.UTC), nil
	case "month":
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC), nil
	case "quarter":
		return time.Date(y, m-(m-1)%3, 1, 0, 0, 0, 0, time.UTC), nil
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), nil
	case "decade":
		return time.Date(y-y%10, 1, 1, 0, 0, 0, 0, time.UTC), nil
	}
	return t, fmt.Errorf("%w: unknown date_trunc unit %q", ErrFunction, unit)
}

// fnDateTrunc is date_trunc(unit, value); the result is a timestamp of the
// value's type (dates become timestamps, as in PostgreSQL).
func fnDateTrunc(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	units := args[0].(*array.String)
	tv, err := timeValues(args[1])
	if err != nil {
		return nil, err
	}
	ot := out.(*arrow.TimestampType)
	b := array.NewTimestampBuilder(allocator(ctx), ot)
	defer b.Release()
	for r := 0; r < n; r++ {
		if anyNull(args, r) {
			b.AppendNull()
			continue
		}
		t, err := truncTime(tv(r), strings.ToLower(units.Value(r)))
		if err != nil {
			return nil, err
		}
		ts, err := arrow.TimestampFromTime(t, ot.Unit)
		if err != nil {
			return nil, err
		}
		b.Append(ts)
	}
	return b.NewArray(), nil
}

// fnDatePart is date_part(field, value) and EXTRACT, as float64 like
// PostgreSQL's date_part.
func fnDatePart(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	fields := args[0].(*array.String)
	tv, err := timeValues(args[1])
	if err != nil {
		return nil, err
	}
	b := array.NewInt64Builder(allocator(ctx))
	defer b.Release()
	for r := 0; r < n; r++ {
		if anyNull(args, r) {
			b.AppendNull()
			continue
		}
		t := tv(r)
		var v int64
		switch strings.ToLower(fields.Value(r)) {
		case "year":
			v = int64(t.Year())
		case "quarter":
			v = int64((t.Month()-1)/3 + 1)
		case "month":
			v = int64(t.Month())
		case "week":
			_, w := t.ISOWeek()
			v = int64(w)
		case "day":
			v = int64(t.Day())
		case "dow":
			v = int64(t.Weekday())
		case "isodow":
			v = int64((int(t.Weekday())+6)%7 + 1)
		case "doy":
			v = int64(t.YearDay())
		case "hour":
			v = int64(t.Hour())
		case "minute":
			v = int64(t.Minute())
		case "second":
			v = int64(t.Second())
		case "epoch":
			v = t.Unix()
		default:
			return nil, fmt.Errorf("%w: unknown date part %q", ErrFunction, fields.Value(r))
		}
		b.Append(v)
	}
	res := b.NewArray()
	if out.ID() == arrow.INT64 {
		return res, nil
	}
	defer res.Release()
	return compute.CastArray(ctx, res, compute.SafeCastOptions(out))
}

// fnAddInterval is add_interval(value, months, days, nanoseconds): a date or
// timestamp moved by calendar months, days and a duration.
func fnAddInterval(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	tv, err := timeValues(args[0])
	if err != nil {
		return nil, err
	}
	months, _ := intValues(args[1])
	days, _ := intValues(args[2])
	nanos, _ := intValues(args[3])
	b := array.NewBuilder(allocator(ctx), out)
	defer b.Release()
	for r := 0; r < n; r++ {
		if anyNull(args, r) {
			b.AppendNull()
			continue
		}
		t := tv(r).AddDate(0, int(months(r)), int(days(r))).Add(time.Duration(nanos(r)))
		switch bb := b.(type) {
		case *array.Date32Builder:
			bb.Append(arrow.Date32FromTime(t))
		case *array.TimestampBuilder:
			ts, err := arrow.TimestampFromTime(t, out.(*arrow.TimestampType).Unit)
			if err != nil {
				return nil, err
			}
			bb.Append(ts)
		default:
			return nil, fmt.Errorf("%w: add_interval to %s", ErrFunction, out)
		}
	}
	return b.NewArray(), nil
}

// fnElementAt is list[i] (1-based) and map['key']: NULL when out of range or
// absent.
func fnElementAt(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	b := array.NewBuilder(allocator(ctx), out)
	defer b.Release()
	switch arr := args[0].(type) {
	case *array.Map:
		keys, items := arr.Keys(), arr.Items()
		kw, err := newKeyWriter(keys)
		if err != nil {
			return nil, err
		}
		pw, err := newKeyWriter(args[1])
		if err != nil {
			return nil, err
		}
		var want, got []byte
		for r := 0; r < n; r++ {
			if anyNull(args, r) {
				b.AppendNull()
				continue
			}
			want = pw(want[:0], r)
			start, end := arr.ValueOffsets(r)
			found := -1
			for j := int(start); j < int(end); j++ {
				got = kw(got[:0], j)
				if string(got) == string(want) {
					found = j
				}
			}
			if found < 0 {
				b.AppendNull()
				continue
			}
			if err := appendRow(b, items, found); err != nil {
				return nil, err
			}
		}
	case *array.List:
		idx, err := intValues(args[1])
		if err != nil {
			return nil, err
		}
		vals := arr.ListValues()
		for r := 0; r < n; r++ {
			if anyNull(args, r) {
				b.AppendNull()
				continue
			}
			start, end := arr.ValueOffsets(r)
			k := idx(r)
			if k < 1 || k > end-start {
				b.AppendNull()
				continue
			}
			if err := appendRow(b, vals, int(start+k-1)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%w: subscript of %s", ErrFunction, args[0].DataType())
	}
	return b.NewArray(), nil
}

func fnCardinality(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	b := array.NewInt32Builder(allocator(ctx))
	defer b.Release()
	type offsets interface{ ValueOffsets(int) (int64, int64) }
	arr, ok := args[0].(offsets)
	if !ok {
		return nil, fmt.Errorf("%w: cardinality of %s", ErrFunction, args[0].DataType())
	}
	for r := 0; r < n; r++ {
		if args[0].IsNull(r) {
			b.AppendNull()
			continue
		}
		s, e := arr.ValueOffsets(r)
		b.Append(int32(e - s))
	}
	return b.NewArray(), nil
}

// fnToChar formats dates and timestamps with PostgreSQL's common patterns:
// YYYY, YY, MM, MON, Mon, DD, DDD, HH24, HH12, HH, MI, SS, MS, US, AM/PM, D.
func fnToChar(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	tv, err := timeValues(args[0])
	if err != nil {
		return nil, err
	}
	fmts := args[1].(*array.String)
	return perRow(array.NewStringBuilder(allocator(ctx)), args, n, func(r int) (string, error) { return formatPG(tv(r), fmts.Value(r)), nil })
}

var pgPatterns = []struct {
	pat string
	fn  func(time.Time) string
}{
	{"YYYY", func(t time.Time) string { return fmt.Sprintf("%04d", t.Year()) }},
	{"HH24", func(t time.Time) string { return fmt.Sprintf("%02d", t.Hour()) }},
	{"HH12", func(t time.Time) string { return fmt.Sprintf("%02d", (t.Hour()+11)%12+1) }},
	{"MON", func(t time.Time) string { return strings.ToUpper(t.Format("Jan")) }},
	{"Mon", func(t time.Time) string { return t.Format("Jan") }},
	{"DDD", func(t time.Time) string { return fmt.Sprintf("%03d", t.YearDay()) }},
	{"YY", func(t time.Time) string { return fmt.Sprintf("%02d", t.Year()%100) }},
	{"MM", func(t time.Time) string { return fmt.Sprintf("%02d", int(t.Month())) }},
	{"DD", func(t time.Time) string { return fmt.Sprintf("%02d", t.Day()) }},
	{"HH", func(t time.Time) string { return fmt.Sprintf("%02d", (t.Hour()+11)%12+1) }},
	{"MI", func(t time.Time) string { return fmt.Sprintf("%02d", t.Minute()) }},
	{"SS", func(t time.Time) string { return fmt.Sprintf("%02d", t.Second()) }},
	{"MS", func(t time.Time) string { return fmt.Sprintf("%03d", t.Nanosecond()/1e6) }},
	{"US", func(t time.Time) string { return fmt.Sprintf("%06d", t.Nanosecond()/1e3) }},
	{"AM", func(t time.Time) string { return map[bool]string{true: "PM", false: "AM"}[t.Hour() >= 12] }},
	{"PM", func(t time.Time) string { return map[bool]string{true: "PM", false: "AM"}[t.Hour() >= 12] }},
	{"D", func(t time.Time) string { return fmt.Sprint(int(t.Weekday()) + 1) }},
}

func formatPG(t time.Time, f string) string {
	var sb strings.Builder
	for i := 0; i < len(f); {
		matched := false
		for _, p := range pgPatterns {
			if strings.HasPrefix(f[i:], p.pat) {
				sb.WriteString(p.fn(t))
				i += len(p.pat)
				matched = true
				break
			}
		}
		if !matched {
			sb.WriteByte(f[i])
			i++
		}
	}
	return sb.String()
}

// fnDateBin is date_bin(stride, source[, origin]): source rounded down to
// the start of its stride-wide bin counted from origin (default 2000-01-01).
func fnDateBin(ctx context.Context, args []arrow.Array, out arrow.DataType, n int) (arrow.Array, error) {
	strides := args[0].(*array.MonthDayNanoInterval)
	tv, err := timeValues(args[1])
	if err != nil {
		return nil, err
	}
	origin := func(int) time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }
	if len(args) > 2 {
		if origin, err = timeValues(args[2]); err != nil {
			return nil, err
		}
	}
	ot := out.(*arrow.TimestampType)
	b := array.NewTimestampBuilder(allocator(ctx), ot)
	defer b.Release()
	for r := 0; r < n; r++ {
		if anyNull(args, r) {
			b.AppendNull()
			continue
		}
		iv := strides.Value(r)
		if iv.Months != 0 {
			return nil, fmt.Errorf("%w: date_bin does not take strides of months or years", ErrFunction)
		}
		stride := time.Duration(iv.Days)*24*time.Hour + time.Duration(iv.Nanoseconds)
		if stride <= 0 {
			return nil, fmt.Errorf("%w: date_bin stride must be positive", ErrFunction)
		}
		o := origin(r)
		d := tv(r).Sub(o)
		k := d / stride
		if d < 0 && d%stride != 0 {
			k--
		}
		ts, err := arrow.TimestampFromTime(o.Add(k*stride), ot.Unit)
		if err != nil {
			return nil, err
		}
		b.Append(ts)
	}
	return b.NewArray(), nil
}

// fnDateDiff is date - date: the days between them.
func fnDateDiff(ctx context.Context, args []arrow.Array, _ arrow.DataType, n int) (arrow.Array, error) {
	a, b := args[0].(*array.Date32), args[1].(*array.Date32)
	return perRow(array.NewInt32Builder(allocator(ctx)), args, n, func(r int) (int32, error) { return int32(a.Value(r) - b.Value(r)), nil })
}

// perRow builds a result row by row: NULL wherever an argument is NULL,
// f's value elsewhere. It releases b.
func perRow[V any, B interface {
	array.Builder
	Append(V)
}](b B, args []arrow.Array, n int, f func(r int) (V, error)) (arrow.Array, error) {
	defer b.Release()
	for r := 0; r < n; r++ {
		if anyNull(args, r) {
			b.AppendNull()
			continue
		}
		v, err := f(r)
		if err != nil {
			return nil, err
		}
		b.Append(v)
	}
	return b.NewArray(), nil
}
