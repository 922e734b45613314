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
	// "|-" tree lines, "->" arrows and words for event marks (the CLI
	// sets it under NO_COLOR, or with --ascii). Otherwise Unicode block
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
// duration, both in ms; the span, indented by depth under its parent
// (one column per level instead of two when a deep trace does not fit),
// with its service when it differs from its parent's, its name (an
// upstream attempt — a client span with meshgym.attempt — as "attempt N
// → ENDPOINT CODE", then "backoff Nms" when it waited), its HTTP status
// code, and its events inline (⚡ ejection, ✗ timeout, ⊘ retry budget
// exhausted / limit exceeded / rate limited, ↯ fault or error injected,
// with their detail in parentheses when there is room); and a time bar
// scaled to the trace's duration, with the back-off before an attempt
// shaded (░) and events marked (◆). Labels longer than their column drop
// their details, then are cut with "…". The only error returned is w's.
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
	events                           map[string]string
	otherEvent                       string
}

var unicodeGlyphs = glyphs{
	fill: "█", backoff: "░", empty: " ", mark: "◆", edge: "│",
	tee: "├ ", last: "└ ", pipe: "│ ", blank: "  ",
	arrow: "→", ellipsis: "…",
	events: map[string]string{
		"ejection": "⚡", "timeout": "✗", "retry_budget_exhausted": "⊘",
		"rate_limited": "⊘", "fault_injected": "↯", "backoff": "…",
		"retry_limit_exceeded": "⊘", "error_injected": "↯",
	},
	otherEvent: "•",
}

var asciiGlyphs = glyphs{
	fill: "#", backoff: ".", empty: " ", mark: "*", edge: "|",
	tee: "|-", last: "`-", pipe: "| ", blank: "  ",
	arrow: "->", ellipsis: "...",
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
	label        line // without the tree lines
}

// prefix is the row's tree lines, two columns per level, or one when
// compact (deep traces on a narrow terminal).
func (r row) prefix(g glyphs, compact bool) string {
	if r.parent == nil {
		return ""
	}
	cut := func(s string) string {
		if compact {
			_, size := utf8.DecodeRuneInString(s)
			return s[:size]
		}
		return s
	}
	var b strings.Builder
	for _, more := range r.guides {
		if more {
			b.WriteString(cut(g.pipe))
		} else {
			b.WriteString(cut(g.blank))
		}
	}
	if r.last {
		b.WriteString(cut(g.last))
	} else {
		b.WriteString(cut(g.tee))
	}
	return b.String()
}

// Bar widths, in columns: the bar gets at least barMin (a fifth of the
// width, 10 to 24) and at most barMax; the label column takes the rest.
const (
	barMax   = 60
	labelMin = 12
)

func render(b *bytes.Buffer, t Trace, width int, opts WaterfallOptions) {
	if width <= 0 {
		width = DefaultWidth
	}
	width = max(width, MinWidth)
	g := unicodeGlyphs
	if opts.ASCII {
		g = asciiGlyphs
	}
	if t.Root == nil {
		fmt.Fprintf(b, "trace %s has no spans\n", sanitize(t.ID))
		return
	}
	var rows []row
	var walk func(n, parent *Node, guides []bool, last bool)
	walk = func(n, parent *Node, guides []bool, last bool) {
		rows = append(rows, row{node: n, parent: parent, guides: guides, last: last, label: spanLabel(n, parent, g)})
		var childGuides []bool
		if parent != nil {
			childGuides = append(append([]bool(nil), guides...), !last)
		}
		for i, c := range n.Children {
			walk(c, n, childGuides, i == len(n.Children)-1)
		}
	}
	walk(t.Root, nil, nil, true)

	// Column widths: offsets and durations as wide as their widest value.
	startW, durW := textWidth("start"), textWidth("took")
	for _, r := range rows {
		startW = max(startW, len(fmtMS(r.node.Start.Sub(t.Start))))
		durW = max(durW, len(fmtMS(r.node.Duration())))
	}
	fixed := startW + 1 + durW + 2 + 1 + 2 // gaps, and the bar's edges
	barMin := min(max(width/5, 10), 24)
	need := func(compact, essential bool) int {
		n := textWidth("span")
		for _, r := range rows {
			l := r.label
			if essential {
				l = l.essential()
			}
			n = max(n, textWidth(r.prefix(g, compact))+l.width())
		}
		return n
	}
	// The label column takes what the labels need, details included when
	// they fit; the bar gets the rest (at least barMin, or down to
	// barFloor when even the essential labels need the room). Deep traces
	// whose essential labels do not fit get one column per tree level
	// instead of two.
	const barFloor = 10
	avail := width - fixed - barMin
	maxDepth := 0
	for _, r := range rows {
		maxDepth = max(maxDepth, len(r.guides)+1)
	}
	compact := false
	labelNeed := need(false, false)
	switch {
	case labelNeed <= avail:
	case need(false, true) <= avail || maxDepth < 6:
		labelNeed = need(false, true)
	default:
		compact = true
		if labelNeed = need(true, false); labelNeed > avail {
			labelNeed = need(true, true)
		}
	}
	labelW := max(min(labelNeed, width-fixed-barFloor), labelMin)
	barW := max(min(width-fixed-labelW, barMax), 6)
	labelW = width - fixed - barW

	// Header: column names and the time axis.
	axisL, axisR := "0", fmtMS(t.Duration)
	axis := axisL + strings.Repeat(" ", max(barW-len(axisL)-len(axisR), 1)) + axisR
	if len(axis) > barW {
		axis = strings.Repeat(" ", max(barW-len(axisR), 0)) + axisR
		if len(axis) > barW {
			axis = axis[:barW]
		}
	}
	hdr := line{
		{padLeft("start", startW) + " " + padLeft("took", durW) + "  ", sgrDim, false},
	}
	hdr = append(hdr, line{{"span", sgrDim, false}}.fit(labelW, g.ellipsis)...)
	hdr = append(hdr, seg{" " + g.edge + axis + g.edge, sgrDim, false})
	hdr.write(b, opts.Color)
	b.WriteByte('\n')

	for _, r := range rows {
		n := r.node
		l := line{{padLeft(fmtMS(n.Start.Sub(t.Start)), startW) + " " + padLeft(fmtMS(n.Duration()), durW) + "  ", sgrDim, false}}
		label := append(line{{r.prefix(g, compact), sgrDim, false}}, r.label...)
		l = append(l, label.fit(labelW, g.ellipsis)...)
		l = append(l, seg{" " + g.edge, sgrDim, false})
		l = append(l, bar(t, n, barW, g)...)
		l = append(l, seg{g.edge, sgrDim, false})
		l.write(b, opts.Color)
		b.WriteByte('\n')
	}
}

// spanLabel is the text of a span's row after the tree lines.
func spanLabel(n *Node, parent *Node, g glyphs) line {
	if n.Synthetic {
		// The note is long; the orphans' rows say "(parent not recorded)".
		return line{{"? incomplete trace", sgrYellow, false}}
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
		l = append(l, seg{"  ", sgrNone, false}, seg{"backoff " + fmtBackoff(ms), sgrYellow, false})
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
		l = append(l, seg{"  ", sgrNone, false}, seg{text, sgrYellow, false})
		if detail != "" {
			l = append(l, seg{" (" + detail + ")", sgrYellow, true})
		}
	}
	if n.Orphan {
		l = append(l, seg{"  (parent not recorded)", sgrDim, true})
	}
	return l
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
