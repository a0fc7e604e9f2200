// Package expr holds the typed scalar expressions that the planner builds,
// the pruning layer translates into Iceberg predicates and the executor
// evaluates over Arrow batches. Expressions are immutable values: once built
// they may be shared by goroutines.
package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Expr is a typed scalar expression over the columns of one input schema.
type Expr interface {
	// DataType is the Arrow type of the value the expression yields.
	DataType() arrow.DataType
	// String renders the expression for EXPLAIN and error messages.
	String() string
}

// Column references a column of the input, and optionally a field nested in
// it: Path holds child indexes into struct types, outermost first.
type Column struct {
	Index int
	Path  []int
	// Name is the dotted name the user wrote, for display.
	Name string
	Type arrow.DataType
}

func (c *Column) DataType() arrow.DataType { return c.Type }
func (c *Column) String() string           { return c.Name }

// Literal is a constant. A null literal has a null Value of its type.
type Literal struct {
	Value scalar.Scalar
}

func (l *Literal) DataType() arrow.DataType { return l.Value.DataType() }
func (l *Literal) String() string {
	if !l.Value.IsValid() {
		return "NULL"
	}
	switch l.Value.DataType().ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.DATE32, arrow.TIMESTAMP, arrow.TIME64:
		return "'" + strings.ReplaceAll(l.Value.String(), "'", "''") + "'"
	}
	return l.Value.String()
}

// Param is a statement parameter ($1, $2, ... or ?) whose value is not known
// yet. Type is the type the parameter is expected to have, inferred from its
// context; NULL type when nothing constrains it.
type Param struct {
	Index int // 1-based
	Type  arrow.DataType
}

func (p *Param) DataType() arrow.DataType { return p.Type }
func (p *Param) String() string           { return fmt.Sprintf("$%d", p.Index) }

// CmpOp is a comparison operator.
type CmpOp int

// Comparison operators.
const (
	Eq CmpOp = iota
	NotEq
	Lt
	LtEq
	Gt
	GtEq
)

var cmpNames = [...]string{"=", "<>", "<", "<=", ">", ">="}
var cmpKernels = [...]string{"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}

func (o CmpOp) String() string { return cmpNames[o] }

// Kernel names the Arrow compute function that implements o.
func (o CmpOp) Kernel() string { return cmpKernels[o] }

// Flip returns the operator with its operands swapped (a < b == b > a).
func (o CmpOp) Flip() CmpOp {
	switch o {
	case Lt:
		return Gt
	case LtEq:
		return GtEq
	case Gt:
		return Lt
	case GtEq:
		return LtEq
	}
	return o
}

// Compare compares two operands of the same type.
type Compare struct {
	Op   CmpOp
	L, R Expr
}

func (c *Compare) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (c *Compare) String() string {
	return fmt.Sprintf("(%s %s %s)", c.L, c.Op, c.R)
}

// And is the three-valued conjunction of its arguments.
type And struct{ Args []Expr }

func (a *And) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (a *And) String() string           { return join(a.Args, " AND ") }

// Or is the three-valued disjunction of its arguments.
type Or struct{ Args []Expr }

func (o *Or) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (o *Or) String() string           { return join(o.Args, " OR ") }

// Not is three-valued negation.
type Not struct{ X Expr }

func (n *Not) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (n *Not) String() string           { return "(NOT " + n.X.String() + ")" }

// IsNull tests X IS NULL, or IS NOT NULL when Negate is set. It never yields
// NULL.
type IsNull struct {
	X      Expr
	Negate bool
}

func (n *IsNull) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (n *IsNull) String() string {
	if n.Negate {
		return "(" + n.X.String() + " IS NOT NULL)"
	}
	return "(" + n.X.String() + " IS NULL)"
}

// In tests membership of X in a list of constants of X's type, with SQL
// semantics: NULL when X is NULL, or when no element matches and the list
// holds a NULL.
type In struct {
	X      Expr
	List   []Expr // *Literal or *Param
	Negate bool
}

func (n *In) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (n *In) String() string {
	op := " IN "
	if n.Negate {
		op = " NOT IN "
	}
	parts := make([]string, len(n.List))
	for i, e := range n.List {
		parts[i] = e.String()
	}
	return "(" + n.X.String() + op + "(" + strings.Join(parts, ", ") + "))"
}

// Like matches a string against a SQL LIKE pattern (% and _, backslash
// escapes). Fold makes the match case-insensitive (ILIKE).
type Like struct {
	X       Expr
	Pattern Expr // *Literal or *Param of string type
	Negate  bool
	Fold    bool
}

func (l *Like) DataType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (l *Like) String() string {
	op := " LIKE "
	if l.Fold {
		op = " ILIKE "
	}
	if l.Negate {
		op = " NOT" + op
	}
	return "(" + l.X.String() + op + l.Pattern.String() + ")"
}

// Cast converts X to To.
type Cast struct {
	X  Expr
	To arrow.DataType
}

func (c *Cast) DataType() arrow.DataType { return c.To }
func (c *Cast) String() string           { return fmt.Sprintf("CAST(%s AS %s)", c.X, c.To) }

func join(args []Expr, sep string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// Conjuncts splits e into the terms of its top-level AND.
func Conjuncts(e Expr) []Expr {
	if e == nil {
		return nil
	}
	if a, ok := e.(*And); ok {
		var out []Expr
		for _, x := range a.Args {
			out = append(out, Conjuncts(x)...)
		}
		return out
	}
	return []Expr{e}
}

// AndOf joins terms with AND; nil for no terms.
func AndOf(terms []Expr) Expr {
	switch len(terms) {
	case 0:
		return nil
	case 1:
		return terms[0]
	}
	return &And{Args: terms}
}

// Walk calls fn for e and each expression below it, parents first. It stops
// descending where fn returns false.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	for _, c := range Children(e) {
		Walk(c, fn)
	}
}
