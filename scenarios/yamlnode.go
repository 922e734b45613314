package scenarios

import (
	"errors"
	"strings"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// This file turns goccy/go-yaml's AST into a small tree of positioned nodes
// that the two decoders (book shorthand, long form) walk. Keeping goccy's
// types here keeps the decoders independent of its API.

type nodeKind int

const (
	kNull nodeKind = iota
	kScalar
	kMap
	kSeq
)

// node is one YAML value with its place in the file.
type node struct {
	kind nodeKind
	at   pos
	// Scalars: text is the value (unquoted, escapes resolved for quoted
	// strings; the source text for numbers and booleans).
	text   string
	quoted bool   // written in '...' or "..."
	tag    string // "int", "float", "bool", "string", "null"
	// Maps: keys[i] (always scalars) maps to vals[i], in file order.
	keys []*node
	vals []*node
	// Sequences.
	items []*node
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
	switch n.tag {
	case "int", "float":
		return "the number " + clip(n.text)
	case "bool":
		return "the boolean " + clip(n.text)
	}
	return "the text " + quote(n.text)
}

const maxDepth = 64

type converter struct {
	p       *problems
	anchors map[string]*node
}

// parseYAML parses data into one node per non-empty document.
func parseYAML(p *problems, data []byte) []*node {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		p.list = append(p.list, yamlError(p.file, err))
		return nil
	}
	c := &converter{p: p, anchors: map[string]*node{}}
	var docs []*node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, ok := d.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		n := c.convert(d.Body, 0)
		if n == nil || n.kind == kNull {
			continue
		}
		docs = append(docs, n)
	}
	return docs
}

// yamlError turns a goccy parse error into an *Error with its position.
func yamlError(file string, err error) *Error {
	e := &Error{File: file, Msg: "not valid YAML: " + clipMessage(err.Error()), Hint: "check indentation and quoting around the place shown; values with ': ' or '#' need quotes"}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = "not valid YAML: " + clipMessage(ye.GetMessage())
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

func tokenPos(tk *token.Token) pos {
	if tk == nil || tk.Position == nil {
		return pos{}
	}
	return pos{tk.Position.Line, tk.Position.Column}
}

func nodePos(n ast.Node) pos {
	if n == nil {
		return pos{}
	}
	switch v := n.(type) {
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

func (c *converter) convert(n ast.Node, depth int) *node {
	if n == nil {
		return &node{kind: kNull}
	}
	at := nodePos(n)
	if depth > maxDepth {
		c.p.add(at, "", "scenario files are a few levels deep", "nested more than %d levels", maxDepth)
		return nil
	}
	switch v := n.(type) {
	case *ast.NullNode:
		return &node{kind: kNull, at: at, tag: "null"}
	case *ast.StringNode:
		q := false
		if v.Token != nil {
			q = v.Token.Type == token.SingleQuoteType || v.Token.Type == token.DoubleQuoteType
		}
		return &node{kind: kScalar, at: at, text: v.Value, quoted: q, tag: "string"}
	case *ast.LiteralNode:
		s := ""
		if v.Value != nil {
			s = v.Value.Value
		}
		return &node{kind: kScalar, at: at, text: s, quoted: true, tag: "string"}
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
		c.p.add(at, "", "define the anchor (&"+clip(name)+") before using it", "unknown alias *%s", clip(name))
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

func tokenText(tk *token.Token) string {
	if tk == nil {
		return ""
	}
	return tk.Value
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
			c.p.add(k.at, "", "remove one of the two", "key %s given twice (first at line %d)", quote(k.text), prev.at.line)
			return
		}
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, val)
}

// lookup returns the value of key in a mapping node.
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

// scalarText is the text of a scalar, with typographic quotes around it
// removed (the book prints ”payments").
func stripTypographic(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return t, false
	}
	r := []rune(t)
	first, last := r[0], r[len(r)-1]
	if len(r) >= 2 && isQuote(first) && isQuote(last) && (isTypographicQuote(first) || isTypographicQuote(last)) {
		return strings.TrimSpace(string(r[1 : len(r)-1])), true
	}
	return t, false
}

func isQuote(r rune) bool {
	return r == '"' || r == '\'' || isTypographicQuote(r)
}

func isTypographicQuote(r rune) bool {
	switch r {
	case '“', '”', '„', '‘', '’', '‚', '«', '»':
		return true
	}
	return false
}
