package smp

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
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

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// pos is a 1-based place in the file.
type pos struct{ line, col int }

type problems struct {
	file string
	list Errors
}

func (p *problems) add(at pos, field, hint, format string, a ...any) {
	p.list = append(p.list, &Error{File: p.file, Line: at.line, Column: at.col, Field: field, Msg: fmt.Sprintf(format, a...), Hint: hint})
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
	return p.list
}

type kind int

const (
	kNull kind = iota
	kScalar
	kMap
	kSeq
)

// node is a YAML value with its place in the file.
type node struct {
	kind  kind
	at    pos
	text  string // scalars: the value
	tag   string // scalars: int, float, bool, string, null
	keys  []*node
	vals  []*node
	items []*node
}

func (n *node) lookup(key string) (*node, *node) {
	if n == nil || n.kind != kMap {
		return nil, nil
	}
	for i, k := range n.keys {
		if k.text == key {
			return k, n.vals[i]
		}
	}
	return nil, nil
}

func (n *node) describe() string {
	switch n.kind {
	case kNull:
		return "nothing"
	case kMap:
		return "a mapping"
	case kSeq:
		return "a list"
	}
	if n.tag == "string" {
		return strconv.Quote(clip(n.text))
	}
	return "the " + map[string]string{"int": "number", "float": "number", "bool": "boolean"}[n.tag] + " " + clip(n.text)
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
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		e := &Error{File: p.file, Msg: "not valid YAML or JSON: " + clip(err.Error()), Hint: "check indentation and quoting around the place shown"}
		var ye yaml.Error
		if errors.As(err, &ye) {
			e.Msg = "not valid YAML or JSON: " + ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				e.Line, e.Column = tk.Position.Line, tk.Position.Column
			}
		}
		p.list = append(p.list, e)
		return nil
	}
	c := &converter{p: p, anchors: map[string]*node{}}
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, ok := d.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		if n := c.convert(d.Body, 0); n != nil && n.kind != kNull {
			return n
		}
	}
	return nil
}

type converter struct {
	p       *problems
	anchors map[string]*node
}

func tokenPos(tk *token.Token) pos {
	if tk == nil || tk.Position == nil {
		return pos{}
	}
	return pos{tk.Position.Line, tk.Position.Column}
}

func nodePos(n ast.Node) pos {
	switch v := n.(type) {
	case nil:
		return pos{}
	case *ast.MappingNode:
		if len(v.Values) > 0 && v.Values[0].Key != nil {
			return nodePos(v.Values[0].Key)
		}
		return tokenPos(v.Start)
	case *ast.MappingValueNode:
		return nodePos(v.Key)
	case *ast.SequenceNode:
		return tokenPos(v.Start)
	case *ast.TagNode:
		return tokenPos(v.Start)
	case *ast.AnchorNode:
		return tokenPos(v.Start)
	case *ast.AliasNode:
		return tokenPos(v.Start)
	case *ast.LiteralNode:
		return tokenPos(v.Start)
	}
	return tokenPos(n.GetToken())
}

func tokenText(tk *token.Token) string {
	if tk == nil {
		return ""
	}
	return tk.Value
}

func (c *converter) convert(n ast.Node, depth int) *node {
	if n == nil {
		return &node{kind: kNull}
	}
	at := nodePos(n)
	if depth > maxDepth {
		c.p.add(at, "", "SMP test files are a few levels deep", "nested more than %d levels", maxDepth)
		return nil
	}
	switch v := n.(type) {
	case *ast.NullNode:
		return &node{kind: kNull, at: at, tag: "null"}
	case *ast.StringNode:
		return &node{kind: kScalar, at: at, text: v.Value, tag: "string"}
	case *ast.LiteralNode:
		s := ""
		if v.Value != nil {
			s = v.Value.Value
		}
		return &node{kind: kScalar, at: at, text: s, tag: "string"}
	case *ast.IntegerNode:
		return &node{kind: kScalar, at: at, text: tokenText(v.Token), tag: "int"}
	case *ast.FloatNode:
		return &node{kind: kScalar, at: at, text: tokenText(v.Token), tag: "float"}
	case *ast.InfinityNode, *ast.NanNode:
		return &node{kind: kScalar, at: at, text: tokenText(n.GetToken()), tag: "float"}
	case *ast.BoolNode:
		return &node{kind: kScalar, at: at, text: tokenText(v.Token), tag: "bool"}
	case *ast.TagNode:
		return c.convert(v.Value, depth+1)
	case *ast.AnchorNode:
		out := c.convert(v.Value, depth+1)
		if out != nil && v.Name != nil {
			c.anchors[v.Name.String()] = out
		}
		return out
	case *ast.AliasNode:
		name := ""
		if v.Value != nil {
			name = v.Value.String()
		}
		if a, ok := c.anchors[name]; ok {
			return a
		}
		c.p.add(at, "", "define the anchor before using it", "unknown alias *%s", clip(name))
		return nil
	case *ast.MappingNode:
		m := &node{kind: kMap, at: at}
		for _, mv := range v.Values {
			c.addPair(m, mv, depth)
		}
		return m
	case *ast.MappingValueNode:
		m := &node{kind: kMap, at: at}
		c.addPair(m, v, depth)
		return m
	case *ast.SequenceNode:
		s := &node{kind: kSeq, at: at}
		for _, it := range v.Values {
			if x := c.convert(it, depth+1); x != nil {
				s.items = append(s.items, x)
			}
		}
		return s
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &node{kind: kNull, at: at}
	}
	c.p.add(at, "", "write plain keys, values, lists and mappings", "unsupported YAML construct (%s)", n.Type())
	return nil
}

func (c *converter) addPair(m *node, mv *ast.MappingValueNode, depth int) {
	if mv == nil {
		return
	}
	if mv.Key == nil || mv.Key.IsMergeKey() {
		c.p.add(nodePos(mv), "", "write the keys out instead of merging (<<)", "merge keys (<<) are not supported")
		return
	}
	k := c.convert(mv.Key, depth+1)
	if k == nil {
		return
	}
	if k.kind != kScalar {
		c.p.add(k.at, "", "keys are plain words such as duration or rps", "a key must be a word, not %s", k.describe())
		return
	}
	val := c.convert(mv.Value, depth+1)
	if val == nil {
		return
	}
	if val.kind == kNull && val.at == (pos{}) {
		val.at = k.at
	}
	for _, prev := range m.keys {
		if prev.text == k.text {
			c.p.add(k.at, "", "remove one of the two", "key %q given twice (first at line %d)", clip(k.text), prev.at.line)
			return
		}
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, val)
}
