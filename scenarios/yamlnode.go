package scenarios

import (
	"fmt"
	"strings"

	"meshgym/internal/yamlnode"
)

// The two decoders (book shorthand, long form) walk the positioned tree of
// package yamlnode; this file words its problems for scenario files.

// node is one YAML value with its place in the file.
type node = yamlnode.Node

// pos is a 1-based place in the file being read.
type pos = yamlnode.Pos

// describe names a value for a message: "nothing", "a mapping", "a list",
// "the number 5", "the boolean true", `the text "x"`.
func describe(n *node) string {
	return n.Describe(clip, func(s string) string { return "the text " + quote(s) })
}

const maxDepth = 64

// parseYAML parses data into one node per non-empty document.
func parseYAML(p *problems, data []byte) []*node {
	docs, probs, err := yamlnode.Parse(data, yamlnode.Options{MaxDepth: maxDepth, Files: "scenario files", Cut: clip})
	if err != nil {
		p.list = append(p.list, yamlError(p.file, err.(*yamlnode.SyntaxError)))
		return nil
	}
	for _, q := range probs {
		switch q.Kind {
		case yamlnode.UnknownAlias:
			q.Hint = "define the anchor (&" + clip(q.Text) + ") before using it"
		case yamlnode.DuplicateKey:
			q.Msg = fmt.Sprintf("key %s given twice (first at line %d)", quote(q.Text), q.First.Line)
		}
		p.add(q.At, "", q.Hint, "%s", q.Msg)
	}
	return docs
}

// yamlError turns a parse error into an *Error with its position.
func yamlError(file string, se *yamlnode.SyntaxError) *Error {
	return &Error{File: file, Line: se.At.Line, Column: se.At.Col, Msg: "not valid YAML: " + clipMessage(se.Msg),
		Hint: "check indentation and quoting around the place shown; values with ': ' or '#' need quotes"}
}

// stripTypographic returns s trimmed, without the quotes around it when
// one of them is typographic (the book prints ”payments"), and whether it
// removed them.
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
