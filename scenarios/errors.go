package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a scenario file. Error() is a single line:
//
//	retries.yaml:12:5: performance_test.rps: must be ≥ 0 (got -5); hint: use 0 for as fast as possible
//
// Line and Column are 1-based; 0 when the problem has no place in a file
// (a missing file, or a Scenario validated after it was built in Go).
type Error struct {
	File   string // file name as given to Load/LoadBytes ("builtin/retries.yaml" for built-ins)
	Line   int    // 1-based line, 0 if unknown
	Column int    // 1-based column, 0 if unknown
	// Field is the path of the value as the user wrote it, e.g.
	// "performance_test.rps" or "topology.services[2].versions[1].errorRate".
	Field string
	Msg   string // what is wrong
	Hint  string // how to fix it; may be empty
}

// Error returns the problem on one line: file:line:col: field: msg; hint: hint.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(oneLine(e.Msg))
	if e.Hint != "" {
		b.WriteString("; hint: ")
		b.WriteString(oneLine(e.Hint))
	}
	return b.String()
}

// Errors is every problem found in one scenario, sorted by line and column.
// Load and LoadBytes return an Errors (never empty) for any problem in the
// input; errors.As(err, &e) with e of type *Error finds the first one.
type Errors []*Error

// Error returns one line per problem.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives the problems to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// pos is a 1-based place in the file being read.
type pos struct{ line, col int }

// problems collects errors while a file is read.
type problems struct {
	file string
	list Errors
}

func (p *problems) add(at pos, field, hint, format string, args ...any) {
	p.list = append(p.list, &Error{File: p.file, Line: at.line, Column: at.col, Field: field, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool {
		a, b := p.list[i], p.list[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	// Drop exact duplicates (the same problem found twice).
	out := p.list[:0]
	for _, e := range p.list {
		if len(out) > 0 && *e == *out[len(out)-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}
