package yamlnode

import (
	"cmp"
	"slices"
	"strings"
)

// The helpers below serve the lists of positioned problems that callers
// report (scenarios.Errors, smp.Errors): each caller keeps its own error
// type and wording, and shares the list's plumbing.

// ErrorLines returns the text of each error of es, one a line ("" for an
// empty list). It is the Error method of a problem list.
func ErrorLines[E error](es []E) string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Errs returns es as a []error, in order. It is the Unwrap method of a
// problem list, which gives the problems to errors.Is and errors.As.
func Errs[E error](es []E) []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// SortByPos sorts list by the place at gives each element: by line, then
// column; elements at one place keep their order (a stable sort).
func SortByPos[E any](list []E, at func(E) Pos) {
	slices.SortStableFunc(list, func(a, b E) int {
		pa, pb := at(a), at(b)
		return cmp.Or(cmp.Compare(pa.Line, pb.Line), cmp.Compare(pa.Col, pb.Col))
	})
}
