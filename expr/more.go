package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Arith is binary arithmetic on two operands of the result type: + - * / %.
type Arith struct {
	Op   string
	L, R Expr
	Type arrow.DataType
}

func (a *Arith) DataType() arrow.DataType { return a.Type }
func (a *Arith) String() string           { return fmt.Sprintf("(%s %s %s)", a.L, a.Op, a.R) }

// Func is a call of a scalar function by name. The planner checks the
// arguments and sets the result type; the executor evaluates it.
type Func struct {
	Name string
	Args []Expr
	Type arrow.DataType
}

func (f *Func) DataType() arrow.DataType { return f.Type }
func (f *Func) String() string {
	parts := make([]string, len(f.Args))
	for i, a := range f.Args {
		parts[i] = a.String()
	}
	return f.Name + "(" + strings.Join(parts, ", ") + ")"
}

// When is one branch of a Case.
type When struct{ Cond, Then Expr }

// Case is a searched CASE: the Then of the first true Cond, else Else (NULL
// when Else is nil).
type Case struct {
	Whens []When
	Else  Expr
	Type  arrow.DataType
}

func (c *Case) DataType() arrow.DataType { return c.Type }
func (c *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range c.Whens {
		fmt.Fprintf(&b, " WHEN %s THEN %s", w.Cond, w.Then)
	}
	if c.Else != nil {
		fmt.Fprintf(&b, " ELSE %s", c.Else)
	}
	b.WriteString(" END")
	return b.String()
}

// Children returns the direct sub-expressions of e.
func Children(e Expr) []Expr {
	switch x := e.(type) {
	case *Compare:
		return []Expr{x.L, x.R}
	case *And:
		return x.Args
	case *Or:
		return x.Args
	case *Not:
		return []Expr{x.X}
	case *IsNull:
		return []Expr{x.X}
	case *In:
		return append([]Expr{x.X}, x.List...)
	case *Like:
		return []Expr{x.X, x.Pattern}
	case *Cast:
		return []Expr{x.X}
	case *Arith:
		return []Expr{x.L, x.R}
	case *Func:
		return x.Args
	case *Case:
		var out []Expr
		for _, w := range x.Whens {
			out = append(out, w.Cond, w.Then)
		}
		if x.Else != nil {
			out = append(out, x.Else)
		}
		return out
	}
	return nil
}

// Rewrite rebuilds e bottom-up, replacing each node by fn's result. fn sees
// a node whose children are already rewritten and returns the node to use
// (the same node to keep it).
func Rewrite(e Expr, fn func(Expr) Expr) Expr {
	if e == nil {
		return nil
	}
	var out Expr
	switch x := e.(type) {
	case *Compare:
		out = &Compare{Op: x.Op, L: Rewrite(x.L, fn), R: Rewrite(x.R, fn)}
	case *And:
		out = &And{Args: rewriteAll(x.Args, fn)}
	case *Or:
		out = &Or{Args: rewriteAll(x.Args, fn)}
	case *Not:
		out = &Not{X: Rewrite(x.X, fn)}
	case *IsNull:
		out = &IsNull{X: Rewrite(x.X, fn), Negate: x.Negate}
	case *In:
		out = &In{X: Rewrite(x.X, fn), List: rewriteAll(x.List, fn), Negate: x.Negate}
	case *Like:
		out = &Like{X: Rewrite(x.X, fn), Pattern: Rewrite(x.Pattern, fn), Negate: x.Negate, Fold: x.Fold}
	case *Cast:
		out = &Cast{X: Rewrite(x.X, fn), To: x.To}
	case *Arith:
		out = &Arith{Op: x.Op, L: Rewrite(x.L, fn), R: Rewrite(x.R, fn), Type: x.Type}
	case *Func:
		out = &Func{Name: x.Name, Args: rewriteAll(x.Args, fn), Type: x.Type}
	case *Case:
		c := &Case{Type: x.Type, Else: Rewrite(x.Else, fn)}
		for _, w := range x.Whens {
			c.Whens = append(c.Whens, When{Cond: Rewrite(w.Cond, fn), Then: Rewrite(w.Then, fn)})
		}
		out = c
	default:
		out = e
	}
	return fn(out)
}

func rewriteAll(es []Expr, fn func(Expr) Expr) []Expr {
	out := make([]Expr, len(es))
	for i, e := range es {
		out[i] = Rewrite(e, fn)
	}
	return out
}

// Columns lists the input column indexes e references.
func Columns(e Expr) []int {
	var out []int
	var walk func(Expr)
	walk = func(x Expr) {
		if c, ok := x.(*Column); ok {
			out = append(out, c.Index)
			return
		}
		for _, ch := range Children(x) {
			walk(ch)
		}
	}
	walk(e)
	return out
}

// Shift returns e with every column index moved by delta.
func Shift(e Expr, delta int) Expr {
	if delta == 0 {
		return e
	}
	return Rewrite(e, func(x Expr) Expr {
		if c, ok := x.(*Column); ok {
			n := *c
			n.Index += delta
			return &n
		}
		return x
	})
}

// WithChildren returns a copy of e whose direct sub-expressions are kids, in
// the order Children lists them.
func WithChildren(e Expr, kids []Expr) Expr {
	switch x := e.(type) {
	case *Compare:
		return &Compare{Op: x.Op, L: kids[0], R: kids[1]}
	case *And:
		return &And{Args: kids}
	case *Or:
		return &Or{Args: kids}
	case *Not:
		return &Not{X: kids[0]}
	case *IsNull:
		return &IsNull{X: kids[0], Negate: x.Negate}
	case *In:
		return &In{X: kids[0], List: kids[1:], Negate: x.Negate}
	case *Like:
		return &Like{X: kids[0], Pattern: kids[1], Negate: x.Negate, Fold: x.Fold}
	case *Cast:
		return &Cast{X: kids[0], To: x.To}
	case *Arith:
		return &Arith{Op: x.Op, L: kids[0], R: kids[1], Type: x.Type}
	case *Func:
		return &Func{Name: x.Name, Args: kids, Type: x.Type}
	case *Case:
		c := &Case{Type: x.Type}
		for i := 0; i+1 < len(kids) && len(c.Whens) < len(x.Whens); i += 2 {
			c.Whens = append(c.Whens, When{Cond: kids[i], Then: kids[i+1]})
		}
		if x.Else != nil {
			c.Else = kids[len(kids)-1]
		}
		return c
	}
	return e
}
