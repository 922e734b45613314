// Package yamlnode turns goccy/go-yaml's AST into a small tree of values
// that carry their place in the file (1-based line and column), so that a
// decoder can point at the exact key or value it is unhappy with.
//
// The tree holds what YAML data is made of: scalars (with the source text
// of numbers and booleans), mappings (keys in file order, each with its own
// position) and sequences. Tags are dropped, anchors and aliases are
// resolved, merge keys (<<) and other constructs are refused. Problems are
// reported as Problem values, not messages: each caller words them for its
// own files (package scenarios, package smp).
package yamlnode

import (
	"errors"
	"fmt"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Pos is a place in a file: 1-based Line and Col (column, in characters).
// The zero Pos means the place is unknown.
type Pos struct{ Line, Col int }

// Kind is what a Node holds.
type Kind int

const (
	Null   Kind = iota // no value (null, ~, an empty value or a comment)
	Scalar             // a string, number or boolean
	Map                // a mapping: Keys[i] maps to Vals[i]
	Seq                // a sequence: Items
)

// Node is one YAML value with its place in the file.
type Node struct {
	Kind Kind
	At   Pos // of the value; of a mapping, its first key
	// Scalars: Text is the value (unquoted, escapes resolved for quoted
	// strings; the source text for numbers and booleans).
	Text   string
	Quoted bool   // written in '...' or "..." or as a block literal (| or >)
	Tag    string // scalars: "int", "float", "bool" or "string"; "null" for an explicit null
	// Maps: Keys[i] (always scalars, each unique) maps to Vals[i], in file
	// order. A key without a value has a Null value at the key's place.
	Keys []*Node
	Vals []*Node
	// Sequences: the items in file order.
	Items []*Node
}

// Lookup returns the key node and the value of key in a mapping node;
// (nil, nil) when n is nil, not a mapping, or has no such key.
func (n *Node) Lookup(key string) (k, v *Node) {
	if n == nil || n.Kind != Map {
		return nil, nil
	}
	for i, k := range n.Keys {
		if k.Text == key {
			return k, n.Vals[i]
		}
	}
	return nil, nil
}

// Describe names the value for a message ("expected a list, found …"):
// "nothing", "a mapping", "a list", "the number " + clip(text),
// "the boolean " + clip(text), and str(text) for a string. clip and str
// are the caller's way of showing the user's text (cut, quoted).
func (n *Node) Describe(clip, str func(string) string) string {
	switch n.Kind {
	case Null:
		return "nothing"
	case Map:
		return "a mapping"
	case Seq:
		return "a list"
	}
	switch n.Tag {
	case "int", "float":
		return "the number " + clip(n.Text)
	case "bool":
		return "the boolean " + clip(n.Text)
	}
	return str(n.Text)
}

// ProblemKind is what is wrong in a Problem.
type ProblemKind int

const (
	TooDeep      ProblemKind = iota + 1 // nested more than Options.MaxDepth levels
	UnknownAlias                        // *name with no &name before it; Text is the name
	Unsupported                         // a construct other than scalars, mappings and lists; Text is its goccy node type
	MergeKey                            // a merge key (<<) or a mapping entry without a key
	KeyNotScalar                        // a key that is a mapping, a list or null; Node is the key
	DuplicateKey                        // a key given twice in one mapping; Text is the key, First where it was first given
)

// Problem is one thing in the YAML that the tree cannot hold. The value it
// concerns is left out of the tree (a bad key drops its whole entry; a
// duplicate key keeps the first).
type Problem struct {
	Kind  ProblemKind
	At    Pos
	Text  string // see ProblemKind; as written, not cut
	Node  *Node  // KeyNotScalar: the key
	First Pos    // DuplicateKey: the first time the key was given
	// Msg and Hint word the problem, e.g. "merge keys (<<) are not
	// supported" and "write the keys out instead of merging (<<)", with
	// Text shown by Options.Cut. A caller that words some kinds its own
	// way rewrites them.
	Msg, Hint string
}

// Options are the differences between the callers' readers.
type Options struct {
	// MaxDepth bounds nesting: a value deeper than MaxDepth levels is a
	// TooDeep problem.
	MaxDepth int
	// FirstOnly stops after the first document that is not empty; later
	// documents are neither converted nor checked.
	FirstOnly bool
	// Files is what the caller's files are called in the TooDeep hint,
	// "<Files> are a few levels deep", e.g. "scenario files"; "" for
	// "YAML files here".
	Files string
	// Cut shows the user's text in a Problem's Msg (an alias name; a key,
	// which Msg then Go-quotes), e.g. cut to 40 characters; nil shows it
	// whole.
	Cut func(string) string
}

// SyntaxError is data that is not YAML, with the parser's place for it.
type SyntaxError struct {
	// Msg is the parser's message without its place when FromParser,
	// else Err.Error().
	Msg        string
	FromParser bool // Err is a goccy yaml.Error
	At         Pos  // zero when the parser gave no place
	Err        error
}

// Error returns the parser's error text.
func (e *SyntaxError) Error() string { return e.Err.Error() }

// Unwrap returns the parser's error.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Parse reads data (YAML, so JSON too) and returns one Node per document
// that is not empty (null, or only comments), in file order; with
// opt.FirstOnly at most one. Anchors defined in one document can be used
// in later ones. Problems are in the order they were found. A syntax error
// is returned as a *SyntaxError, with no documents.
func Parse(data []byte, opt Options) ([]*Node, []Problem, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		se := &SyntaxError{Msg: err.Error(), Err: err}
		var ye yaml.Error
		if errors.As(err, &ye) {
			se.Msg, se.FromParser, se.At = ye.GetMessage(), true, TokenPos(ye.GetToken())
		}
		return nil, nil, se
	}
	c := &converter{opt: opt, anchors: map[string]*Node{}}
	var docs []*Node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, ok := d.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		n := c.convert(d.Body, 0)
		if n == nil || n.Kind == Null {
			continue
		}
		docs = append(docs, n)
		if opt.FirstOnly {
			break
		}
	}
	return docs, c.problems, nil
}

// TokenPos is the place of a goccy token; zero for nil or a token without
// a position.
func TokenPos(tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{}
	}
	return Pos{tk.Position.Line, tk.Position.Column}
}

// NodePos is the place of a goccy AST node: a mapping's first key, the
// start of a sequence, tag, anchor, alias or block literal, else its token.
// Zero for nil.
func NodePos(n ast.Node) Pos {
	switch v := n.(type) {
	case nil:
		return Pos{}
	case *ast.MappingNode:
		if len(v.Values) > 0 && v.Values[0].Key != nil {
			return NodePos(v.Values[0].Key)
		}
		return TokenPos(v.Start)
	case *ast.MappingValueNode:
		return NodePos(v.Key)
	case *ast.SequenceNode:
		return TokenPos(v.Start)
	case *ast.TagNode:
		return TokenPos(v.Start)
	case *ast.AnchorNode:
		return TokenPos(v.Start)
	case *ast.AliasNode:
		return TokenPos(v.Start)
	case *ast.LiteralNode:
		return TokenPos(v.Start)
	}
	return TokenPos(n.GetToken())
}

// TokenText is a goccy token's source text; "" for nil.
func TokenText(tk *token.Token) string {
	if tk == nil {
		return ""
	}
	return tk.Value
}

type converter struct {
	opt      Options
	anchors  map[string]*Node
	problems []Problem
}

func (c *converter) report(p Problem) { c.problems = append(c.problems, p) }

func (c *converter) cut(s string) string {
	if c.opt.Cut == nil {
		return s
	}
	return c.opt.Cut(s)
}

func (c *converter) files() string {
	if c.opt.Files == "" {
		return "YAML files here"
	}
	return c.opt.Files
}

// convert returns nil for a value left out of the tree (a problem was
// reported).
func (c *converter) convert(n ast.Node, depth int) *Node {
	if n == nil {
		return &Node{Kind: Null}
	}
	at := NodePos(n)
	if depth > c.opt.MaxDepth {
		c.report(Problem{Kind: TooDeep, At: at, Msg: fmt.Sprintf("nested more than %d levels", c.opt.MaxDepth), Hint: c.files() + " are a few levels deep"})
		return nil
	}
	switch v := n.(type) {
	case *ast.NullNode:
		return &Node{Kind: Null, At: at, Tag: "null"}
	case *ast.StringNode:
		q := false
		if v.Token != nil {
			q = v.Token.Type == token.SingleQuoteType || v.Token.Type == token.DoubleQuoteType
		}
		return &Node{Kind: Scalar, At: at, Text: v.Value, Quoted: q, Tag: "string"}
	case *ast.LiteralNode:
		s := ""
		if v.Value != nil {
			s = v.Value.Value
		}
		return &Node{Kind: Scalar, At: at, Text: s, Quoted: true, Tag: "string"}
	case *ast.IntegerNode:
		return &Node{Kind: Scalar, At: at, Text: TokenText(v.Token), Tag: "int"}
	case *ast.FloatNode:
		return &Node{Kind: Scalar, At: at, Text: TokenText(v.Token), Tag: "float"}
	case *ast.InfinityNode, *ast.NanNode:
		return &Node{Kind: Scalar, At: at, Text: TokenText(n.GetToken()), Tag: "float"}
	case *ast.BoolNode:
		return &Node{Kind: Scalar, At: at, Text: TokenText(v.Token), Tag: "bool"}
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
		c.report(Problem{Kind: UnknownAlias, At: at, Text: name, Msg: "unknown alias *" + c.cut(name), Hint: "define the anchor before using it"})
		return nil
	case *ast.MappingNode:
		m := &Node{Kind: Map, At: at}
		for _, mv := range v.Values {
			c.addPair(m, mv, depth)
		}
		return m
	case *ast.MappingValueNode:
		m := &Node{Kind: Map, At: at}
		c.addPair(m, v, depth)
		return m
	case *ast.SequenceNode:
		s := &Node{Kind: Seq, At: at}
		for _, it := range v.Values {
			if x := c.convert(it, depth+1); x != nil {
				s.Items = append(s.Items, x)
			}
		}
		return s
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &Node{Kind: Null, At: at}
	}
	c.report(Problem{Kind: Unsupported, At: at, Text: n.Type().String(),
		Msg: "unsupported YAML construct (" + n.Type().String() + ")", Hint: "write plain keys, values, lists and mappings"})
	return nil
}

func (c *converter) addPair(m *Node, mv *ast.MappingValueNode, depth int) {
	if mv == nil {
		return
	}
	if mv.Key == nil || mv.Key.IsMergeKey() {
		c.report(Problem{Kind: MergeKey, At: NodePos(mv), Msg: "merge keys (<<) are not supported", Hint: "write the keys out instead of merging (<<)"})
		return
	}
	k := c.convert(mv.Key, depth+1)
	if k == nil {
		return
	}
	if k.Kind != Scalar {
		// k is no scalar: Describe does not show its text.
		c.report(Problem{Kind: KeyNotScalar, At: k.At, Node: k, Msg: "a key must be a word, not " + k.Describe(nil, nil), Hint: "keys are plain words such as duration or rps"})
		return
	}
	val := c.convert(mv.Value, depth+1)
	if val == nil {
		return
	}
	if val.Kind == Null && val.At == (Pos{}) {
		val.At = k.At
	}
	for _, prev := range m.Keys {
		if prev.Text == k.Text {
			c.report(Problem{Kind: DuplicateKey, At: k.At, Text: k.Text, First: prev.At,
				Msg: fmt.Sprintf("key %q given twice (first at line %d)", c.cut(k.Text), prev.At.Line), Hint: "remove one of the two"})
			return
		}
	}
	m.Keys = append(m.Keys, k)
	m.Vals = append(m.Vals, val)
}
