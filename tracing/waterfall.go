package tracing

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// WaterfallOptions choose how a waterfall is drawn.
type WaterfallOptions struct {
	// ASCII draws with ASCII characters only: '#' bars, '.' back-off,
	// "+-", "\-" and "| " tree lines, "->" arrows and words for event
	// marks (the CLI sets it under NO_COLOR, or with --ascii). Otherwise Unicode block
	// and box-drawing characters and a few symbols (⚡ ejection,
	// ✗ timeout) are used.
	ASCII bool
	// Color adds ANSI SGR colours: failed spans and codes red, 2xx green,
	// events and back-off yellow, tree lines and offsets dim.
	Color bool
}

// DefaultWidth is the width Waterfall uses when given width ≤ 0, in
// terminal columns.
const DefaultWidth = 100

// MinWidth is the narrowest waterfall drawn, in terminal columns; a
// smaller width is raised to it.
const MinWidth = 48

// MaxWidth is the widest waterfall drawn, in terminal columns; a larger
// width is lowered to it (every line is padded to the width, so an
// unbounded one would allocate without bound).
const MaxWidth = 1000

// MaxDepth is the deepest tree level drawn, in levels below the root:
// a span nested deeper is indented as at MaxDepth, behind a "…" marker
// ("." with ASCII) instead of one more guide per level, so a crafted
// parent chain thousands of spans deep draws in time and memory linear
// in its spans.
const MaxDepth = 40

// Waterfall draws t as a waterfall, one line per span (after a column
// header line), exactly width terminal columns wide (DefaultWidth when
// width ≤ 0, at least MinWidth), e.g. (testdata/retried-120.golden):
//
//	  start    took  span                                          │0        40.00ms│
//	 0.00ms 40.00ms  loadgen GET / 200                             │████████████████│
//	 1.40ms 36.20ms  └ payments_sidecar outbound currency 200      │ ██◆████████████│
//	 2.10ms  4.30ms    ├ attempt 1 → currency_v2 500  ⚡ ejection  │ █◆             │
//	31.40ms  6.00ms    └ attempt 2 → currency_v1 200  backoff 25ms │  ░░░░░░░░░███  │
//
// Columns: the span's start offset from the trace's start and its
// duration, both in ms (below 100 columns without the unit); the span,
// indented by depth under its parent (one column per level instead of
// two when a deep trace does not fit), with its service when it differs
// from its parent's, its name (an upstream attempt — a client span with
// meshgym.attempt — as "attempt N → ENDPOINT CODE"), its HTTP status
// code, then its facts: "backoff Nms" when an attempt waited, and its
// events (⚡ ejection, ✗ timeout, ⊘ retry budget exhausted / limit
// exceeded / rate limited, ↯ fault or error injected, with their detail
// in parentheses when there is room); and a time bar scaled to the
// trace's duration, with the back-off before an attempt shaded (░) and
// events marked (◆). The bar keeps at least a fifth of the width (8 to
// 24 columns): facts that do not fit beside the span's name go on a
// continuation line of their own, indented under it, with blank time
// columns (testdata/retried-80.golden); only when the names themselves
// do not fit is the bar narrowed, then left out, and then names wrapped
// at spaces. Nothing is cut except a single word wider than the label
// column. ASCII trees use "+-", "\-" and "| ". The only error returned is
// w's.
func Waterfall(w io.Writer, t Trace, width int, opts WaterfallOptions) error {
	var b bytes.Buffer
	render(&b, t, width, opts)
	_, err := w.Write(b.Bytes())
	return err
}

// WaterfallString is Waterfall into a string (for a bubbletea view).
func WaterfallString(t Trace, width int, opts WaterfallOptions) string {
	var b bytes.Buffer
	render(&b, t, width, opts)
	return b.String()
}

// Headline is a one-line summary of a trace, in ASCII:
// "trace 4bf9…4736  12.40 ms  200  retried at currency  after phase  11 spans".
// Failed traces say "500 failed" (or "error failed" without a code); an
// incomplete trace (synthetic root) says so.
func (t Trace) Headline() string {
	parts := []string{"trace " + t.ID, fmt.Sprintf("%.2f ms", float64(t.Duration)/float64(time.Millisecond))}
	status := "no status"
	if t.StatusCode != 0 {
		status = fmt.Sprint(t.StatusCode)
	} else if t.Failed {
		status = "error"
	}
	if t.Failed {
		status += " failed"
	}
	parts = append(parts, status)
	if t.Retried {
		if len(t.RetriedAt) > 0 {
			parts = append(parts, "retried at "+strings.Join(t.RetriedAt, ", "))
		} else {
			parts = append(parts, "retried")
		}
	}
	if t.Phase != "" {
		parts = append(parts, t.Phase+" phase")
	}
	parts = append(parts, plural(len(t.Spans), "span"))
	if t.Root != nil && t.Root.Synthetic {
		parts = append(parts, "incomplete")
	}
	return sanitize(strings.Join(parts, "  "))
}

// HeadlineLines is Headline broken into lines of at most width terminal
// columns (DefaultWidth when width ≤ 0), at the two spaces between its
// parts; later lines are indented two spaces.
func (t Trace) HeadlineLines(width int) []string {
	return WrapText(t.Headline(), width, "  ")
}

// WrapText breaks the one-line text s into lines of at most width
// terminal columns (DefaultWidth when width ≤ 0), the second and later
// lines starting with indent. It breaks at double spaces (between the
// parts of a headline) where it can, else at spaces; a word longer than
// a line stays whole on its own line.
func WrapText(s string, width int, indent string) []string {
	if width <= 0 {
		width = DefaultWidth
	}
	if textWidth(s) <= width {
		return []string{s}
	}
	var out []string
	cur := ""
	add := func(piece, sep string) {
		switch {
		case cur == "":
			if len(out) > 0 {
				cur = indent
			}
			cur += piece
		case textWidth(cur)+textWidth(sep)+textWidth(piece) <= width:
			cur += sep + piece
		default:
			out = append(out, cur)
			cur = indent + piece
		}
	}
	for _, part := range strings.Split(s, "  ") {
		if textWidth(indent)+textWidth(part) <= width {
			add(part, "  ")
			continue
		}
		for i, word := range strings.Fields(part) {
			sep := " "
			if i == 0 {
				sep = "  "
			}
			add(word, sep)
		}
	}
	return append(out, cur)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// glyphs are the drawing characters of one style.
type glyphs struct {
	fill, backoff, empty, mark, edge string
	tee, last, pipe, blank           string
	arrow, ellipsis                  string
	// deeper stands for the levels beyond MaxDepth, two columns.
	deeper string
	// wideBranch keeps the branch two columns wide ("+-", "\-") in a
	// compact tree, where only the guides shrink to one column: a lone
	// "+" or "\" does not read as a branch.
	wideBranch bool
	events     map[string]string
	otherEvent string
}

var unicodeGlyphs = glyphs{
	fill: "█", backoff: "░", empty: " ", mark: "◆", edge: "│",
	tee: "├ ", last: "└ ", pipe: "│ ", blank: "  ",
	arrow: "→", ellipsis: "…", deeper: "… ",
	events: map[string]string{
		"ejection": "⚡", "timeout": "✗", "retry_budget_exhausted": "⊘",
		"rate_limited": "⊘", "fault_injected": "↯", "backoff": "…",
		"retry_limit_exceeded": "⊘", "error_injected": "↯",
	},
	otherEvent: "•",
}

var asciiGlyphs = glyphs{
	fill: "#", backoff: ".", empty: " ", mark: "*", edge: "|",
	tee: "+-", last: "\\-", pipe: "| ", blank: "  ",
	arrow: "->", ellipsis: "...", deeper: ". ", wideBranch: true,
	events: map[string]string{
		"ejection": "!", "timeout": "x", "retry_budget_exhausted": "!",
		"rate_limited": "!", "fault_injected": "!", "backoff": "~",
		"retry_limit_exceeded": "!", "error_injected": "!",
	},
	otherEvent: "*",
}

// ANSI SGR parameters.
const (
	sgrNone    = ""
	sgrDim     = "2"
	sgrBold    = "1"
	sgrRed     = "31"
	sgrGreen   = "32"
	sgrYellow  = "33"
	sgrCyan    = "36"
	sgrBoldRed = "1;31"
)

// seg is a piece of a line with its colour.
type seg struct {
	text, sgr string
	// opt marks a detail dropped first when the label does not fit.
	opt bool
}

// line is a row of segments.
type line []seg

func (l line) width() int {
	n := 0
	for _, s := range l {
		n += textWidth(s.text)
	}
	return n
}

// essential is l without its optional segments.
func (l line) essential() line {
	var out line
	for _, s := range l {
		if !s.opt {
			out = append(out, s)
		}
	}
	return out
}

// fit makes l exactly w columns: padded with spaces, or, when too long,
// without its optional segments and then cut (ending in ellipsis).
func (l line) fit(w int, ellipsis string) line {
	if l.width() > w {
		l = l.essential()
	}
	if l.width() <= w {
		return append(l, seg{strings.Repeat(" ", w-l.width()), sgrNone, false})
	}
	ew := textWidth(ellipsis)
	room := w - ew
	var out line
	for _, s := range l {
		if room <= 0 {
			break
		}
		if sw := textWidth(s.text); sw <= room {
			out = append(out, s)
			room -= sw
			continue
		}
		var b strings.Builder
		for _, r := range s.text {
			rw := runeWidth(r)
			if rw > room {
				break
			}
			b.WriteRune(r)
			room -= rw
		}
		out = append(out, seg{b.String(), s.sgr, false})
		break
	}
	out = append(out, seg{ellipsis, sgrDim, false})
	if pad := w - out.width(); pad > 0 {
		out = append(out, seg{strings.Repeat(" ", pad), sgrNone, false})
	}
	return out
}

func (l line) write(b *bytes.Buffer, color bool) {
	for _, s := range l {
		if color && s.sgr != "" && s.text != "" && strings.TrimSpace(s.text) != "" {
			b.WriteString("\x1b[" + s.sgr + "m" + s.text + "\x1b[0m")
			continue
		}
		b.WriteString(s.text)
	}
}

// row is one span ready to draw: its node, its parent (nil for the
// root) and, per ancestor level below the root, whether that ancestor
// has later siblings (a guide line runs down past this row).
type row struct {
	node, parent *Node
	guides       []bool
	last         bool
	// deep: the span is nested deeper than MaxDepth; guides holds the
	// first MaxDepth levels only and g.deeper stands for the rest.
	deep bool
	// head is the span's service, name (or attempt) and status; facts
	// are what follows it (back-off, events, notes), each with its
	// optional detail.
	head  line
	facts []line
}

// full is the row's label with every fact and detail; essential leaves
// out the details.
func (r row) full() line {
	l := append(line(nil), r.head...)
	for _, f := range r.facts {
		l = append(append(l, seg{"  ", sgrNone, false}), f...)
	}
	return l
}

func (r row) essential() line { return r.full().essential() }

// level returns one tree level's piece in the style: two columns, or
// its first column when compact.
func level(s string, compact bool) string {
	if compact {
		_, size := utf8.DecodeRuneInString(s)
		return s[:size]
	}
	return s
}

// guides writes the row's guide lines (at most MaxDepth levels, then
// the deeper marker) to b.
func (r row) writeGuides(b *strings.Builder, g glyphs, compact bool) {
	for _, more := range r.guides {
		if more {
			b.WriteString(level(g.pipe, compact))
		} else {
			b.WriteString(level(g.blank, compact))
		}
	}
	if r.deep {
		b.WriteString(level(g.deeper, compact))
	}
}

// prefix is the row's tree lines, two columns per level, or one when
// compact (deep traces on a narrow terminal); at most MaxDepth levels
// and the deeper marker.
func (r row) prefix(g glyphs, compact bool) string {
	if r.parent == nil {
		return ""
	}
	var b strings.Builder
	r.writeGuides(&b, g, compact)
	branch := g.tee
	if r.last {
		branch = g.last
	}
	b.WriteString(level(branch, compact && !g.wideBranch))
	return b.String()
}

// contPrefix is the tree lines of a row's continuation line (its facts
// on a line of their own): the guides running past the row, and one
// level deeper, so the facts sit under the span's name (the caller adds
// a space before them).
func (r row) contPrefix(g glyphs, compact bool) string {
	var b strings.Builder
	if r.parent != nil {
		r.writeGuides(&b, g, compact)
		if r.last {
			b.WriteString(level(g.blank, compact))
		} else {
			b.WriteString(level(g.pipe, compact))
		}
	}
	if len(r.node.Children) > 0 {
		b.WriteString(level(g.pipe, compact))
	} else {
		b.WriteString(level(g.blank, compact))
	}
	return b.String()
}

// Layout bounds, in columns: the bar gets at least a fifth of the width
// (barLow to barHigh) while labels fit, never more than barMax; labels
// whose facts do not fit put them on continuation lines; a bar narrower
// than barFloor is not drawn (the facts matter more than the picture).
const (
	barLow   = 8
	barHigh  = 24
	barMax   = 60
	barFloor = 8
	// narrowWidth: below it the time columns leave out the unit "ms"
	// (the axis and the headline still say it).
	narrowWidth = 100
)

// labelMode is how much of the labels the label column is sized for.
type labelMode int

const (
	modeFull      labelMode = iota // every fact and detail inline
	modeEssential                  // facts inline, details left out
	modeHead                       // facts on continuation lines where needed
)

func render(b *bytes.Buffer, t Trace, width int, opts WaterfallOptions) {
	if width <= 0 {
		width = DefaultWidth
	}
	width = min(max(width, MinWidth), MaxWidth)
	g := unicodeGlyphs
	if opts.ASCII {
		g = asciiGlyphs
	}
	if t.Root == nil {
		fmt.Fprintf(b, "trace %s has no spans\n", sanitize(t.ID))
		return
	}
	var rows []row
	// Rows below MaxDepth share their ancestor's guides (no copy per
	// level), so a deep chain stays linear.
	var walk func(n, parent *Node, guides []bool, deep, last bool)
	walk = func(n, parent *Node, guides []bool, deep, last bool) {
		head, facts := spanLabel(n, parent, g)
		rows = append(rows, row{node: n, parent: parent, guides: guides, deep: deep, last: last, head: head, facts: facts})
		childGuides, childDeep := guides, deep
		switch {
		case parent == nil:
			childGuides = nil
		case len(guides) >= MaxDepth:
			childDeep = true
		default:
			childGuides = append(append([]bool(nil), guides...), !last)
		}
		for i, c := range n.Children {
			walk(c, n, childGuides, childDeep, i == len(n.Children)-1)
		}
	}
	walk(t.Root, nil, nil, false, true)

	// Time columns: offsets and durations as wide as their widest value;
	// on a narrow terminal without the unit.
	ms := fmtMS
	if width < narrowWidth {
		ms = fmtMSBare
	}
	startW, durW := textWidth("start"), textWidth("took")
	for _, r := range rows {
		startW = max(startW, len(ms(r.node.Start.Sub(t.Start))))
		durW = max(durW, len(ms(r.node.Duration())))
	}
	fixed := startW + 1 + durW + 2
	const frame = 3 // " │" before the bar, "│" after it
	need := func(compact bool, m labelMode) int {
		n := textWidth("span")
		for _, r := range rows {
			var l line
			switch m {
			case modeFull:
				l = r.full()
			case modeEssential:
				l = r.essential()
			default:
				l = r.head
			}
			n = max(n, textWidth(r.prefix(g, compact))+l.width())
		}
		return n
	}
	// The label column takes what the labels need, facts and details
	// inline when they fit beside a bar of at least barMin; else deep
	// trees get one column per level instead of two; else the facts go
	// on continuation lines. Only when even the span names do not fit is
	// the bar narrowed (to barFloor) and then left out, before any name
	// is cut.
	barMin := min(max(width/5, barLow), barHigh)
	avail := width - fixed - frame - barMin
	compact, labelW := true, 0
	for _, c := range []struct {
		compact bool
		m       labelMode
	}{{false, modeFull}, {false, modeEssential}, {true, modeFull}, {true, modeEssential}, {true, modeHead}} {
		if n := need(c.compact, c.m); n <= avail {
			compact, labelW = c.compact, n
			if c.m == modeHead {
				labelW = avail // room for as many facts inline as fit
			}
			break
		}
	}
	barW := 0
	switch {
	case labelW > 0:
		barW = min(width-fixed-frame-labelW, barMax)
		labelW = width - fixed - frame - barW
	case need(true, modeHead) <= width-fixed-frame-barFloor:
		labelW = need(true, modeHead) // facts on continuation lines
		barW = width - fixed - frame - labelW
	default:
		labelW = width - fixed // no bar; names cut with "…" if still too long
	}

	// Header: column names and the time axis.
	hdr := line{
		{padLeft("start", startW) + " " + padLeft("took", durW) + "  ", sgrDim, false},
	}
	hdr = append(hdr, line{{"span", sgrDim, false}}.fit(labelW, g.ellipsis)...)
	if barW > 0 {
		axisL, axisR := "0", fmtMS(t.Duration)
		axis := axisL + strings.Repeat(" ", max(barW-len(axisL)-len(axisR), 1)) + axisR
		if len(axis) > barW {
			axis = strings.Repeat(" ", max(barW-len(axisR), 0)) + axisR
			if len(axis) > barW {
				axis = axis[:barW]
			}
		}
		hdr = append(hdr, seg{" " + g.edge + axis + g.edge, sgrDim, false})
	}
	hdr.write(b, opts.Color)
	b.WriteByte('\n')

	blankTimes := strings.Repeat(" ", fixed)
	for _, r := range rows {
		n := r.node
		pre := r.prefix(g, compact)
		room := labelW - textWidth(pre)
		label, rest := r.full(), []line(nil)
		switch {
		case label.width() <= room:
		case r.essential().width() <= room:
			label = r.essential()
		default:
			contW := labelW - textWidth(r.contPrefix(g, compact)) - 1
			label = r.head
			if label.width() > room {
				// Even the name does not fit (a deep trace on a very
				// narrow terminal): wrap it at spaces.
				heads := wrapWords(r.head, room, contW)
				label, rest = heads[0], heads[1:]
			}
			rest = append(rest, packFacts(r.facts, contW)...)
		}
		l := line{{padLeft(ms(n.Start.Sub(t.Start)), startW) + " " + padLeft(ms(n.Duration()), durW) + "  ", sgrDim, false}}
		l = append(l, append(line{{pre, sgrDim, false}}, label...).fit(labelW, g.ellipsis)...)
		if barW > 0 {
			l = append(l, seg{" " + g.edge, sgrDim, false})
			l = append(l, bar(t, n, barW, g)...)
			l = append(l, seg{g.edge, sgrDim, false})
		}
		l.write(b, opts.Color)
		b.WriteByte('\n')
		for _, facts := range rest {
			l := line{{blankTimes, sgrNone, false}}
			l = append(l, append(line{{r.contPrefix(g, compact) + " ", sgrDim, false}}, facts...).fit(labelW, g.ellipsis)...)
			if barW > 0 {
				l = append(l, seg{" " + g.edge, sgrDim, false}, seg{strings.Repeat(g.empty, barW), sgrNone, false}, seg{g.edge, sgrDim, false})
			}
			l.write(b, opts.Color)
			b.WriteByte('\n')
		}
	}
}

// wrapWords breaks l at spaces into lines of at most first columns (the
// first line) and rest columns (the others), keeping each word's colour.
// A word wider than its line is left for fit to cut.
func wrapWords(l line, first, rest int) []line {
	var out []line
	var cur line
	w, limit := 0, first
	for _, s := range l {
		for i, word := range strings.Split(s.text, " ") {
			if i > 0 && len(cur) > 0 {
				// the space before this word, unless it starts a line
				if w+1 <= limit {
					cur = append(cur, seg{" ", sgrNone, false})
					w++
				}
			}
			if word == "" {
				continue
			}
			ww := textWidth(word)
			if w+ww > limit && len(cur) > 0 {
				out = append(out, trimRight(cur))
				cur, w, limit = nil, 0, rest
			}
			cur = append(cur, seg{word, s.sgr, s.opt})
			w += ww
		}
	}
	return append(out, trimRight(cur))
}

// trimRight drops trailing space segments of l.
func trimRight(l line) line {
	for len(l) > 0 && strings.TrimSpace(l[len(l)-1].text) == "" {
		l = l[:len(l)-1]
	}
	return l
}

// packFacts lays facts out on continuation lines of at most w columns,
// as many per line as fit (two spaces apart), each with its detail when
// that fits too. A fact wider than w alone is cut by the caller.
func packFacts(facts []line, w int) []line {
	var out []line
	var cur line
	for _, f := range facts {
		if f.width() > w {
			if f = f.essential(); len(f) == 0 {
				continue // only a detail, and it does not fit
			}
		}
		switch {
		case len(cur) == 0:
			cur = append(line(nil), f...)
		case cur.width()+2+f.width() <= w:
			cur = append(append(cur, seg{"  ", sgrNone, false}), f...)
		default:
			out = append(out, cur)
			cur = append(line(nil), f...)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// spanLabel is the text of a span's row after the tree lines: its head
// (service where it changes, name or attempt, status) and its facts
// (back-off, events with their details, the orphan note).
func spanLabel(n *Node, parent *Node, g glyphs) (head line, facts []line) {
	if n.Synthetic {
		// The note is long; the orphans' rows say "(parent not recorded)".
		return line{{"? incomplete trace", sgrYellow, false}}, nil
	}
	var l line
	if parent == nil || parent.Synthetic || parent.Service != n.Service {
		l = append(l, seg{sanitize(n.Service) + " ", sgrBold, false})
	}
	code := StatusCode(n.Span)
	codeText, codeSGR := "", sgrNone
	switch {
	case code != 0:
		codeText = fmt.Sprint(code)
		codeSGR = sgrGreen
		if code < 200 || code > 299 {
			codeSGR = sgrBoldRed
		}
	case n.Status == "error":
		codeText = "error"
		if et, ok := attrString(n.Attributes, AttrErrorType); ok && et != "" {
			codeText += " " + et
		}
		codeSGR = sgrBoldRed
	}
	// An upstream attempt: a client span with meshgym.attempt (server
	// spans carry it too, as the x-envoy-attempt-count they received).
	if attempt, ok := attrInt(n.Attributes, AttrAttempt); ok && n.Kind != "server" {
		text := fmt.Sprintf("attempt %d", attempt)
		if ep, ok := attrString(n.Attributes, AttrEndpoint); ok && ep != "" {
			text += " " + g.arrow + " " + sanitize(ep)
		} else if c := Cluster(n.Span); c != "" {
			text += " " + g.arrow + " " + sanitize(c)
		}
		l = append(l, seg{text, sgrNone, false})
		if codeText == "" {
			codeText, codeSGR = "no response", sgrBoldRed
		}
	} else {
		l = append(l, seg{sanitize(n.Name), sgrNone, false})
	}
	if codeText != "" {
		l = append(l, seg{" ", sgrNone, false}, seg{codeText, codeSGR, false})
	}
	hasBackoffAttr := false
	if ms, ok := attrFloat(n.Attributes, AttrBackoffMS); ok && ms > 0 {
		hasBackoffAttr = true
		facts = append(facts, line{{"backoff " + fmtBackoff(ms), sgrYellow, false}})
	}
	// A back-off event on a sidecar's outbound span repeats what the
	// next attempt's row says; its mark stays in the bar.
	childBackoff := false
	for _, c := range n.Children {
		if ms, ok := attrFloat(c.Attributes, AttrBackoffMS); ok && ms > 0 {
			childBackoff = true
		}
	}
	for _, ev := range n.Events {
		if ev.Name == "backoff" && (hasBackoffAttr || childBackoff) {
			continue
		}
		text, detail := eventText(ev, n.Span, g)
		f := line{{text, sgrYellow, false}}
		if detail != "" {
			f = append(f, seg{" (" + detail + ")", sgrYellow, true})
		}
		facts = append(facts, f)
	}
	if n.Orphan {
		facts = append(facts, line{{"(parent not recorded)", sgrDim, true}})
	}
	return l, facts
}

// eventText is "⚡ ejection currency_v2" and a detail: the event's glyph,
// its name in words and the endpoint it names (left out when it is the
// span's own); the detail is meshgym.detail, or the kind of timeout or
// fault ("" when none).
func eventText(ev SpanEvent, s Span, g glyphs) (text, detail string) {
	glyph, ok := g.events[ev.Name]
	if !ok {
		glyph = g.otherEvent
	}
	if ev.Name == "backoff" {
		if ms, ok := attrFloat(ev.Attributes, AttrBackoffMS); ok {
			return glyph + " backoff " + fmtBackoff(ms), ""
		}
	}
	text = glyph + " " + strings.ReplaceAll(sanitize(ev.Name), "_", " ")
	if v, ok := attrString(ev.Attributes, AttrEndpoint); ok && v != "" {
		if ep, _ := attrString(s.Attributes, AttrEndpoint); v != ep {
			text += " " + sanitize(v)
		}
	}
	for _, k := range []string{AttrDetail, "meshgym.timeout", "meshgym.kind", "meshgym.fault", "meshgym.reason", AttrErrorType} {
		if v, ok := attrString(ev.Attributes, k); ok && v != "" {
			return text, strings.ReplaceAll(sanitize(v), "_", " ")
		}
	}
	return text, ""
}

// bar is a span's time bar, barW cells: the span's interval filled, the
// back-off before an attempt shaded, events marked.
func bar(t Trace, n *Node, barW int, g glyphs) line {
	cells := make([]string, barW)
	sgrs := make([]string, barW)
	for i := range cells {
		cells[i] = g.empty
	}
	total := t.Duration
	if total <= 0 {
		total = time.Nanosecond
	}
	pos := func(at time.Time, up bool) int {
		f := float64(at.Sub(t.Start)) / float64(total) * float64(barW)
		var c float64
		if up {
			c = math.Ceil(f - 1e-9)
		} else {
			c = math.Floor(f + 1e-9)
		}
		return min(max(int(c), 0), barW)
	}
	spanSGR := sgrCyan
	if spanFailed(n.Span) {
		spanSGR = sgrRed
	}
	if n.Synthetic {
		spanSGR = sgrDim
	}
	if ms, ok := attrFloat(n.Attributes, AttrBackoffMS); ok && ms > 0 {
		from := n.Start.Add(-time.Duration(ms * float64(time.Millisecond)))
		a, z := pos(from, false), pos(n.Start, false)
		for i := a; i < z && i < barW; i++ {
			cells[i], sgrs[i] = g.backoff, sgrYellow
		}
	}
	a, z := pos(n.Start, false), pos(n.End, true)
	if a >= barW {
		a = barW - 1
	}
	if z <= a {
		z = a + 1
	}
	fill := g.fill
	if n.Synthetic {
		fill = g.backoff
	}
	for i := a; i < z; i++ {
		cells[i], sgrs[i] = fill, spanSGR
	}
	for _, ev := range n.Events {
		i := min(pos(ev.Time, false), barW-1)
		cells[i], sgrs[i] = g.mark, sgrYellow
	}
	var l line
	for i := 0; i < barW; i++ {
		if len(l) > 0 && l[len(l)-1].sgr == sgrs[i] {
			l[len(l)-1].text += cells[i]
			continue
		}
		l = append(l, seg{cells[i], sgrs[i], false})
	}
	return l
}

// fmtMS is d in milliseconds with two decimals and the unit: "12.40ms".
func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// fmtMSBare is fmtMS without the unit: "12.40".
func fmtMSBare(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

// fmtBackoff is a back-off in ms without needless decimals: "25ms",
// "12.5ms".
func fmtBackoff(ms float64) string {
	if ms == math.Trunc(ms) {
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}

func padLeft(s string, w int) string {
	if n := textWidth(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

// sanitize makes recorded text safe for one terminal line: control
// characters (escapes, newlines, tabs) become spaces, invalid UTF-8 '?'.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteByte('?')
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func textWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// runeWidth is the terminal columns a rune takes: 0 for combining marks,
// 2 for East Asian wide characters and emoji shown as pictures (⚡
// included), 1 otherwise. It is an approximation of UAX #11 good for the
// glyphs the waterfall draws and for service names.
func runeWidth(r rune) int {
	switch {
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || r == 0x200B:
		return 0
	case r == 0x26A1, // ⚡ (emoji presentation)
		r >= 0x1100 && r <= 0x115F,
		r >= 0x2E80 && r <= 0xA4CF && r != 0x303F,
		r >= 0xAC00 && r <= 0xD7A3,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0xFE30 && r <= 0xFE4F,
		r >= 0xFF00 && r <= 0xFF60,
		r >= 0xFFE0 && r <= 0xFFE6,
		r >= 0x1F300 && r <= 0x1FAFF,
		r >= 0x20000 && r <= 0x3FFFD:
		return 2
	}
	return 1
}
