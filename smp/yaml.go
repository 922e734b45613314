package smp

import (
	"fmt"
	"strconv"
	"strings"

	"meshgym/internal/yamlnode"
)

// Error is one problem in an SMP test file. Error() is one line in the
// format of scenario files (scenarios.Error):
//
//	perf.yaml:7:9: test.clients[0].rps: must be ≥ 0 (got -5); hint: use 0 for as fast as possible
type Error struct {
	File   string // as given to Load
	Line   int    // 1-based; 0 when the problem has no place in the file
	Column int    // 1-based; 0 when unknown
	Field  string // path of the value as written, e.g. test.clients[0].endpoint_urls[1]
	Msg    string // what is wrong
	Hint   string // how to fix it
}

// Error returns file:line:col: field: msg; hint: hint.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(oneLine(e.Msg))
	if e.Hint != "" {
		b.WriteString("; hint: " + oneLine(e.Hint))
	}
	return b.String()
}

// Errors is every problem found in one file, in file order. Load returns
// an Errors (never empty) for any problem in its input.
type Errors []*Error

// Error returns one line per problem.
func (es Errors) Error() string { return yamlnode.ErrorLines(es) }

// Unwrap gives the problems to errors.Is and errors.As.
func (es Errors) Unwrap() []error { return yamlnode.Errs(es) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// pos is a 1-based place in the file.
type pos = yamlnode.Pos

type problems struct {
	file string
	list Errors
}

func (p *problems) add(at pos, field, hint, format string, a ...any) {
	p.list = append(p.list, &Error{File: p.file, Line: at.Line, Column: at.Col, Field: field, Msg: fmt.Sprintf(format, a...), Hint: hint})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	yamlnode.SortByPos(p.list, func(e *Error) pos { return pos{Line: e.Line, Col: e.Column} })
	return p.list
}

// node is a YAML value with its place in the file.
type node = yamlnode.Node

// describe names a value for a message: "nothing", "a mapping", "a list",
// "the number 5", "the boolean true", "\"text\"".
func describe(n *node) string {
	return n.Describe(clip, func(s string) string { return strconv.Quote(clip(s)) })
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// maxDepth bounds nesting (SMP files are three or four levels deep).
const maxDepth = 32

// parse reads the first YAML (or JSON) document of data.
func parse(p *problems, data []byte) *node {
	docs, probs, err := yamlnode.Parse(data, yamlnode.Options{MaxDepth: maxDepth, FirstOnly: true, Files: "SMP test files", Cut: clip})
	if err != nil {
		se := err.(*yamlnode.SyntaxError)
		e := &Error{File: p.file, Msg: "not valid YAML or JSON: " + clip(se.Msg), Hint: "check indentation and quoting around the place shown"}
		if se.FromParser {
			e.Msg = "not valid YAML or JSON: " + se.Msg
			e.Line, e.Column = se.At.Line, se.At.Col
		}
		p.list = append(p.list, e)
		return nil
	}
	for _, q := range probs {
		p.add(q.At, "", q.Hint, "%s", q.Msg)
	}
	if len(docs) == 0 {
		return nil
	}
	return docs[0]
}
