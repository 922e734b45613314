package scenarios

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"meshgym/internal/yamlnode"
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
	Msg   string // what is wrong; text quoted from the file is cut to 40 characters
	Hint  string // how to fix it; every problem the loaders report has one
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
func (es Errors) Error() string { return yamlnode.ErrorLines(es) }

// Unwrap gives the problems to errors.Is and errors.As.
func (es Errors) Unwrap() []error { return yamlnode.Errs(es) }

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// problems collects errors while a file is read.
type problems struct {
	file string
	list Errors
}

func (p *problems) add(at pos, field, hint, format string, args ...any) {
	p.list = append(p.list, &Error{File: p.file, Line: at.Line, Column: at.Col, Field: field, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	yamlnode.SortByPos(p.list, func(e *Error) pos { return pos{Line: e.Line, Col: e.Column} })
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

// maxQuoted is how many characters of the user's text a message quotes.
const maxQuoted = 40

// quote writes text from the file for a message: Go-quoted (control
// characters and invalid UTF-8 escaped) and cut to maxQuoted characters,
// with … before the closing quote when cut.
func quote(s string) string {
	cut, ok := cutAt(s, maxQuoted)
	if ok {
		return strconv.Quote(s)
	}
	q := strconv.Quote(cut)
	return q[:len(q)-1] + "…\""
}

// clip is quote for text shown without quotes (names, numbers): cut to
// maxQuoted characters with …; text with characters that are not
// printable is quoted instead.
func clip(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return quote(s)
		}
	}
	if cut, ok := cutAt(s, maxQuoted); !ok {
		return cut + "…"
	}
	return s
}

// fieldKey is a key as it appears in a field path: itself when it is
// printable and of a reasonable length (condition selectors are keys),
// quoted and cut otherwise.
func fieldKey(s string) string {
	if _, ok := cutAt(s, 2*maxQuoted); ok && !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || !unicode.IsPrint(r) }) {
		return s
	}
	return quote(s)
}

// cutAt returns the first n characters of s and whether that is all of s.
// Invalid UTF-8 bytes count as one character each and are kept as bytes.
func cutAt(s string, n int) (string, bool) {
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return s, true
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i], i >= len(s)
}

// quotedInMsg finds Go- or YAML-style double-quoted text in a message of
// the YAML parser.
var quotedInMsg = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// clipMessage bounds a message that embeds the user's text (the YAML
// parser's): quoted text is cut as quote does, and the whole message to a
// few lines' worth.
func clipMessage(msg string) string {
	msg = quotedInMsg.ReplaceAllStringFunc(msg, func(q string) string {
		if _, ok := cutAt(q, maxQuoted+2); ok {
			return q
		}
		if u, err := strconv.Unquote(q); err == nil {
			return quote(u)
		}
		return quote(q[1 : len(q)-1])
	})
	if cut, ok := cutAt(msg, 4*maxQuoted); !ok {
		msg = cut + "…"
	}
	return strings.ToValidUTF8(msg, "\ufffd")
}
