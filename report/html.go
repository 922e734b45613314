package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"meshgym/engine"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/verdict"
)

// HTML writes one self-contained page for a run: a header (scenario,
// mesh/profile, platform, seed, PASS/FAIL), the conditions with their
// before and after values and verdicts, the client's summary, and inline
// SVG plots made here: requests per component and status class before vs
// after (horizontal stacked bars), client latency percentiles p50, p90,
// p99 and p99.9 before vs after (grouped bars, ms), and per phase a
// timeline of requests/s and errors/s with ejection marks when the engine
// recorded one. The page loads nothing (no scripts, stylesheets, fonts or
// images from anywhere) and so works offline; every value from the run is
// escaped by html/template. The error is the writer's.
func HTML(w io.Writer, res *engine.Result) error {
	return htmlTmpl.Execute(w, newHTMLPage(res))
}

// Colours of status classes and phases (the Okabe–Ito palette's blue and
// orange for before/after, readable by colour-blind people).
const (
	colour2xx      = "#2e7d32"
	colour3xx      = "#1565c0"
	colour4xx      = "#f9a825"
	colour5xx      = "#c62828"
	colourNoAnswer = "#757575"
	colourBefore   = "#0072b2"
	colourAfter    = "#e69f00"
	colourErrors   = "#c62828"
)

type htmlPage struct {
	Title, Scenario, Description, Source string
	Mesh, Platform, ID, Started          string
	Seed                                 int64
	Outcome, OutcomeClass                string
	Error                                string
	EntryURL, LoadText, RunDir           string
	AfterTitle                           string
	Verdicts                             []htmlVerdict
	Unevaluated                          int // conditions of a run that stopped before the verdicts
	Counts                               struct{ Pass, Fail, Warn, Total int }
	Summary                              []htmlRow
	Traffic                              *svgPlot
	Latency                              *svgPlot
	Timelines                            []htmlTimeline
	Versions                             []htmlRow
	Notes                                []string
}

type htmlVerdict struct {
	N                         int
	Condition, Before, After  string
	Target, Status, Reason    string
	StatusClass, BeforeStatus string
	BeforeClass               string
}

type htmlRow struct{ Label, Before, After string }

type htmlTimeline struct {
	Phase string
	Plot  *svgPlot // nil: no timeline recorded
}

// svgPlot is a plot as shapes; the template writes it as inline SVG.
type svgPlot struct {
	W, H   float64
	Label  string // aria-label
	Rects  []svgRect
	Lines  []svgLine
	Polys  []svgPoly
	Texts  []svgText
	Legend []svgLegend
}

type svgRect struct {
	X, Y, W, H float64
	Fill       string
	Title      string
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Stroke         string
	Dash           bool
	Title          string
}

type svgPoly struct {
	Points string
	Stroke string
	Title  string
}

type svgText struct {
	X, Y   float64
	Anchor string // start, middle, end
	Text   string
	Class  string
}

type svgLegend struct{ Colour, Label string }

func newHTMLPage(res *engine.Result) *htmlPage {
	p := &htmlPage{Source: res.Source, Platform: res.Platform, Seed: res.Seed, ID: res.ID,
		EntryURL: res.EntryURL, RunDir: res.RunDir, Error: res.Error, AfterTitle: "after"}
	if sc := res.Scenario; sc != nil {
		p.Scenario, p.Description = sc.Name, sc.Description
		p.LoadText = fmt.Sprintf("%s per phase, %s on %s", sc.Load.Duration.D(), rateText(sc.Load.RPS), plural(sc.Load.Connections, "connection"))
		p.AfterTitle = "after (" + patternName(sc) + ")"
	}
	if p.Scenario == "" {
		p.Scenario = res.Source
	}
	p.Title = "meshgym · " + p.Scenario
	p.Mesh = res.Mesh
	if res.Profile != "" {
		p.Mesh += " · " + res.Profile
	}
	if res.Before != nil && !res.Before.Started.IsZero() {
		p.Started = res.Before.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	switch {
	case res.Error != "":
		p.Outcome, p.OutcomeClass = "ERROR", "fail"
	case res.Passed:
		p.Outcome, p.OutcomeClass = "PASS", "pass"
	default:
		p.Outcome, p.OutcomeClass = "FAIL", "fail"
	}
	for i, v := range res.Verdicts {
		hv := htmlVerdict{N: i + 1, Condition: v.Condition.Text, Before: value(v.Before), After: value(v.After),
			Target: target(v.Condition), Status: string(v.Status), StatusClass: statusClass(v.Status),
			BeforeStatus: string(v.BeforeStatus), BeforeClass: statusClass(v.BeforeStatus), Reason: v.Reason}
		p.Verdicts = append(p.Verdicts, hv)
		switch v.Status {
		case verdict.Pass:
			p.Counts.Pass++
		case verdict.Fail:
			p.Counts.Fail++
		case verdict.Warn:
			p.Counts.Warn++
		}
	}
	p.Counts.Total = len(res.Verdicts)
	if len(res.Verdicts) == 0 && res.Error != "" && res.Scenario != nil {
		p.Unevaluated = len(res.Scenario.Conditions)
	}
	p.Summary = summaryRows(res)
	p.Traffic = trafficPlot(res)
	p.Latency = latencyPlot(res)
	for _, ph := range []*engine.PhaseResult{res.Before, res.After} {
		if ph == nil {
			continue
		}
		p.Timelines = append(p.Timelines, htmlTimeline{Phase: ph.Name, Plot: timelinePlot(ph)})
	}
	keys := make([]string, 0, len(res.Versions))
	for k := range res.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Versions = append(p.Versions, htmlRow{Label: k, Before: res.Versions[k]})
	}
	for i, c := range []*load.ClientView{clientOf(res.Before), clientOf(res.After)} {
		if c != nil && c.FellBehind {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: the load generator fell behind its planned rate: %s", []string{"before", "after"}[i], c.FellBehindReason))
		}
	}
	return p
}

func statusClass(s verdict.Status) string {
	switch s {
	case verdict.Pass:
		return "pass"
	case verdict.Fail:
		return "fail"
	case verdict.Warn:
		return "warn"
	}
	return "na"
}

func summaryRows(res *engine.Result) []htmlRow {
	b, a := clientOf(res.Before), clientOf(res.After)
	if b == nil && a == nil {
		return nil
	}
	row := func(label string, f func(c *load.ClientView) string) htmlRow {
		return htmlRow{Label: label, Before: orDash(b, f), After: orDash(a, f)}
	}
	return []htmlRow{
		row("Requests", func(c *load.ClientView) string { return strconv.FormatInt(c.Count, 10) }),
		row("Errors (non-2xx)", func(c *load.ClientView) string {
			return fmt.Sprintf("%d (%.2f%%)", c.Errors, 100*c.ErrorShare())
		}),
		row("Status codes", func(c *load.ClientView) string { return statusText(c.StatusCodes) }),
		row("Requests/s", func(c *load.ClientView) string {
			s := fmt.Sprintf("%.1f", c.ActualRPS)
			if c.PlannedRPS > 0 {
				s += fmt.Sprintf(" (planned %g)", c.PlannedRPS)
			}
			return s
		}),
		row("Latency p50 / p90 / p99", func(c *load.ClientView) string {
			return fmt.Sprintf("%s / %s / %s", msShort(c.P50S), msShort(c.P90S), msShort(c.P99S))
		}),
		row("Fastest / slowest", func(c *load.ClientView) string { return msShort(c.MinS) + " / " + msShort(c.MaxS) }),
		row("Duration", func(c *load.ClientView) string { return fmt.Sprintf("%.2f s", c.DurationS) }),
	}
}

// statusClasses are the bar segments of the traffic plot, in order.
var statusClasses = []struct {
	label, colour string
	in            func(code int) bool
}{
	{"2xx", colour2xx, func(c int) bool { return c >= 200 && c < 300 }},
	{"3xx", colour3xx, func(c int) bool { return c >= 300 && c < 400 }},
	{"4xx", colour4xx, func(c int) bool { return c >= 400 && c < 500 }},
	{"5xx", colour5xx, func(c int) bool { return c >= 500 && c < 600 }},
	{"no response", colourNoAnswer, func(c int) bool { return c < 100 || c >= 600 }},
}

// trafficRow is one component's requests by status class in both phases.
type trafficRow struct {
	name          string
	before, after []float64 // per statusClasses; nil = phase not measured
}

func classCounts(by map[int]float64) []float64 {
	out := make([]float64, len(statusClasses))
	for code, n := range by {
		for i, c := range statusClasses {
			if c.in(code) {
				out[i] += n
				break
			}
		}
	}
	return out
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

// trafficPlot draws, per component (the client first, then the topology's
// versions in order), the requests before and after as horizontal bars
// stacked by status class.
func trafficPlot(res *engine.Result) *svgPlot {
	bs, as := snapOf(res.Before), snapOf(res.After)
	var rows []trafficRow
	clientRow := trafficRow{name: "client (load generator)"}
	for i, c := range []*load.ClientView{clientOf(res.Before), clientOf(res.After)} {
		if c == nil {
			continue
		}
		by := map[int]float64{}
		for code, n := range c.StatusCodes {
			by[code] += float64(n)
		}
		if i == 0 {
			clientRow.before = classCounts(by)
		} else {
			clientRow.after = classCounts(by)
		}
	}
	if clientRow.before != nil || clientRow.after != nil {
		rows = append(rows, clientRow)
	}
	for _, name := range componentOrder(res, bs, as) {
		r := trafficRow{name: name}
		for i, s := range []*metrics.Snapshot{bs, as} {
			if s == nil {
				continue
			}
			by := map[int]float64{}
			for _, rc := range s.Requests {
				if rc.Name == name {
					by[rc.StatusCode] += rc.Count
				}
			}
			if i == 0 {
				r.before = classCounts(by)
			} else {
				r.after = classCounts(by)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	const left, barW, barH, gap, top = 190.0, 470.0, 13.0, 14.0, 34.0
	maxTotal := 1.0
	for _, r := range rows {
		maxTotal = math.Max(maxTotal, math.Max(sum(r.before), sum(r.after)))
	}
	pl := &svgPlot{W: left + barW + 80, Label: "requests per component and status class, before and after"}
	for _, c := range statusClasses {
		pl.Legend = append(pl.Legend, svgLegend{Colour: c.colour, Label: c.label})
	}
	y := top
	for _, r := range rows {
		pl.Texts = append(pl.Texts, svgText{X: left - 16, Y: y + barH + 4, Anchor: "end", Text: r.name})
		for i, counts := range [][]float64{r.before, r.after} {
			phase := []string{"before", "after"}[i]
			by := y + float64(i)*(barH+2)
			pl.Texts = append(pl.Texts, svgText{X: left - 2, Y: by + barH - 3, Anchor: "end", Text: phase[:1], Class: "small"})
			if counts == nil {
				pl.Texts = append(pl.Texts, svgText{X: left + 4, Y: by + barH - 3, Anchor: "start", Text: "not measured", Class: "small"})
				continue
			}
			x := left
			for j, n := range counts {
				if n <= 0 {
					continue
				}
				w := n / maxTotal * barW
				pl.Rects = append(pl.Rects, svgRect{X: x, Y: by, W: math.Max(w, 0.5), H: barH, Fill: statusClasses[j].colour,
					Title: fmt.Sprintf("%s %s: %.0f %s (%.1f%%)", r.name, phase, n, statusClasses[j].label, 100*n/sum(counts))})
				x += w
			}
			pl.Texts = append(pl.Texts, svgText{X: x + 4, Y: by + barH - 3, Anchor: "start", Text: fmt.Sprintf("%.0f", sum(counts)), Class: "small"})
		}
		y += 2*barH + 2 + gap
	}
	pl.H = y
	return pl
}

// componentOrder lists the components with request counts: the topology's
// versions in order, then any others by name.
func componentOrder(res *engine.Result, snaps ...*metrics.Snapshot) []string {
	have := map[string]bool{}
	for _, s := range snaps {
		if s == nil {
			continue
		}
		for _, r := range s.Requests {
			have[r.Name] = true
		}
	}
	var out []string
	if res.Scenario != nil {
		for _, svc := range res.Scenario.Topology.Services {
			for _, v := range svc.Versions {
				if have[v.Name] {
					out = append(out, v.Name)
					delete(have, v.Name)
				}
			}
		}
	}
	var rest []string
	for n := range have {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// latencyPlot draws the client latency percentiles before and after as
// grouped vertical bars (ms).
func latencyPlot(res *engine.Result) *svgPlot {
	b, a := clientOf(res.Before), clientOf(res.After)
	if (b == nil || b.Count == 0) && (a == nil || a.Count == 0) {
		return nil
	}
	type pct struct {
		label string
		get   func(c *load.ClientView) float64
	}
	pcts := []pct{
		{"p50", func(c *load.ClientView) float64 { return c.P50S }},
		{"p90", func(c *load.ClientView) float64 { return c.P90S }},
		{"p99", func(c *load.ClientView) float64 { return c.P99S }},
		{"p99.9", func(c *load.ClientView) float64 { return c.P999S }},
	}
	maxMS := 0.0
	for _, c := range []*load.ClientView{b, a} {
		if c == nil {
			continue
		}
		for _, p := range pcts {
			maxMS = math.Max(maxMS, p.get(c)*1000)
		}
	}
	top, step := niceScale(maxMS)
	const left, plotW, plotH, y0, groupW, barW = 60.0, 480.0, 200.0, 30.0, 120.0, 40.0
	pl := &svgPlot{W: left + plotW + 20, H: y0 + plotH + 30, Label: "client latency percentiles before and after, in milliseconds",
		Legend: []svgLegend{{colourBefore, "before"}, {colourAfter, "after"}}}
	base := y0 + plotH
	for v := 0.0; v <= top+step/2; v += step {
		y := base - v/top*plotH
		pl.Lines = append(pl.Lines, svgLine{X1: left, Y1: y, X2: left + plotW, Y2: y, Stroke: "#ddd"})
		pl.Texts = append(pl.Texts, svgText{X: left - 6, Y: y + 4, Anchor: "end", Text: fmtNum(v) + " ms", Class: "small"})
	}
	for i, p := range pcts {
		gx := left + float64(i)*groupW + (groupW-2*barW)/2
		for j, c := range []*load.ClientView{b, a} {
			if c == nil || c.Count == 0 {
				continue
			}
			v := p.get(c) * 1000
			h := v / top * plotH
			x := gx + float64(j)*barW
			phase := []string{"before", "after"}[j]
			pl.Rects = append(pl.Rects, svgRect{X: x, Y: base - h, W: barW - 4, H: h, Fill: []string{colourBefore, colourAfter}[j],
				Title: fmt.Sprintf("%s %s: %s", p.label, phase, msShort(v/1000))})
			pl.Texts = append(pl.Texts, svgText{X: x + (barW-4)/2, Y: base - h - 4, Anchor: "middle", Text: msShort(v / 1000), Class: "small"})
		}
		pl.Texts = append(pl.Texts, svgText{X: left + float64(i)*groupW + groupW/2, Y: base + 18, Anchor: "middle", Text: p.label})
	}
	pl.Lines = append(pl.Lines, svgLine{X1: left, Y1: base, X2: left + plotW, Y2: base, Stroke: "#333"})
	return pl
}

// niceScale returns an axis top ≥ max and a tick step (1, 2, 2.5 or 5 × 10^k)
// giving 4–5 ticks.
func niceScale(max float64) (top, step float64) {
	if max <= 0 {
		return 1, 0.25
	}
	raw := max / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	top = math.Ceil(max/step-1e-9) * step
	return top, step
}

func fmtNum(v float64) string { return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) }

// timelinePlot draws one phase's requests/s and errors/s per second with
// a mark at each second with outlier ejections; nil without a timeline.
func timelinePlot(ph *engine.PhaseResult) *svgPlot {
	if len(ph.Timeline) == 0 {
		return nil
	}
	maxT, maxY := 1.0, 0.0
	for _, tp := range ph.Timeline {
		maxT = math.Max(maxT, tp.Offset)
		maxY = math.Max(maxY, math.Max(tp.RPS, tp.ErrorsPerSecond))
	}
	top, step := niceScale(maxY)
	tTop, tStep := niceScale(maxT)
	const left, plotW, plotH, y0 = 60.0, 480.0, 150.0, 30.0
	pl := &svgPlot{W: left + plotW + 20, H: y0 + plotH + 34, Label: "requests and errors per second during the " + ph.Name + " phase",
		Legend: []svgLegend{{colourBefore, "requests/s"}, {colourErrors, "errors/s"}, {"#6a1b9a", "ejection"}}}
	base := y0 + plotH
	x := func(t float64) float64 { return left + t/tTop*plotW }
	y := func(v float64) float64 { return base - v/top*plotH }
	for v := 0.0; v <= top+step/2; v += step {
		pl.Lines = append(pl.Lines, svgLine{X1: left, Y1: y(v), X2: left + plotW, Y2: y(v), Stroke: "#ddd"})
		pl.Texts = append(pl.Texts, svgText{X: left - 6, Y: y(v) + 4, Anchor: "end", Text: fmtNum(v), Class: "small"})
	}
	for t := 0.0; t <= tTop+tStep/2; t += tStep {
		pl.Texts = append(pl.Texts, svgText{X: x(t), Y: base + 16, Anchor: "middle", Text: fmtNum(t) + " s", Class: "small"})
	}
	var rps, errs []string
	for _, tp := range ph.Timeline {
		rps = append(rps, fmt.Sprintf("%.1f,%.1f", x(tp.Offset), y(tp.RPS)))
		errs = append(errs, fmt.Sprintf("%.1f,%.1f", x(tp.Offset), y(tp.ErrorsPerSecond)))
		if tp.Ejections > 0 {
			pl.Lines = append(pl.Lines, svgLine{X1: x(tp.Offset), Y1: y0, X2: x(tp.Offset), Y2: base, Stroke: "#6a1b9a", Dash: true,
				Title: fmt.Sprintf("%s: %d ejection(s)", (time.Duration(tp.Offset * float64(time.Second))).String(), tp.Ejections)})
		}
	}
	pl.Polys = append(pl.Polys, svgPoly{Points: strings.Join(rps, " "), Stroke: colourBefore, Title: "requests/s"},
		svgPoly{Points: strings.Join(errs, " "), Stroke: colourErrors, Title: "errors/s"})
	pl.Lines = append(pl.Lines, svgLine{X1: left, Y1: base, X2: left + plotW, Y2: base, Stroke: "#333"})
	return pl
}

var htmlTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"f": func(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:980px;margin:0 auto;padding:20px}
header{display:flex;flex-wrap:wrap;align-items:center;gap:12px;border-bottom:1px solid #ddd;padding-bottom:12px}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:28px 0 8px}
.badge{font-weight:700;padding:3px 10px;border-radius:4px;color:#fff}
.badge.pass{background:#2e7d32}.badge.fail{background:#c62828}
.meta{color:#555;margin:6px 0 0}
.meta span{margin-right:16px}
.error{background:#fdecea;border:1px solid #c62828;padding:8px 12px;border-radius:4px;margin-top:12px}
.note{background:#fff8e1;border:1px solid #f9a825;padding:6px 12px;border-radius:4px;margin-top:8px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e5e5e5;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600}
td.num{font-variant-numeric:tabular-nums}
.st{font-weight:700}.st.pass{color:#2e7d32}.st.fail{color:#c62828}.st.warn{color:#b26a00}.st.na{color:#757575}
.reason{color:#555;font-size:12px}
figure{margin:0;background:#fff;border:1px solid #e5e5e5;padding:8px;overflow-x:auto}
figcaption{color:#555;font-size:12px;margin-top:4px}
svg text{font:12px system-ui,sans-serif;fill:#222}
svg text.small{font-size:11px;fill:#444}
.legend{display:flex;gap:14px;font-size:12px;margin-bottom:4px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.muted{color:#757575}
footer{color:#777;font-size:12px;margin-top:28px;border-top:1px solid #ddd;padding-top:8px}
</style>
</head>
<body>
<main>
<header>
<h1>{{.Scenario}}</h1>
<span class="badge {{.OutcomeClass}}">{{.Outcome}}</span>
{{if .Counts.Total}}<span>{{.Counts.Pass}} passed, {{.Counts.Fail}} failed, {{.Counts.Warn}} undecided of {{.Counts.Total}} conditions</span>{{end}}
</header>
{{if .Description}}<p>{{.Description}}</p>{{end}}
<p class="meta">
{{if .Mesh}}<span>mesh <b>{{.Mesh}}</b></span>{{end}}
<span>platform <b>{{.Platform}}</b></span>
<span>seed <b>{{.Seed}}</b></span>
{{if .ID}}<span>run <b>{{.ID}}</b></span>{{end}}
{{if .Started}}<span>started {{.Started}}</span>{{end}}
</p>
<p class="meta">
<span>source {{.Source}}</span>
{{if .LoadText}}<span>load {{.LoadText}}</span>{{end}}
{{if .EntryURL}}<span>entry {{.EntryURL}}</span>{{end}}
</p>
{{if .Error}}<div class="error"><b>The run stopped early:</b> {{.Error}}</div>{{end}}
{{range .Notes}}<div class="note">{{.}}</div>{{end}}

<h2>Conditions</h2>
{{if .Verdicts}}<table>
<thead><tr><th>#</th><th>Condition</th><th>Before (pattern off)</th><th>After</th><th>Target</th><th>Verdict</th></tr></thead>
<tbody>
{{range .Verdicts}}<tr class="verdict">
<td>{{.N}}</td><td><code>{{.Condition}}</code>{{if and .Reason (ne .Status "PASS")}}<div class="reason">{{.Reason}}</div>{{end}}</td>
<td class="num">{{.Before}} <span class="st {{.BeforeClass}}">{{.BeforeStatus}}</span></td>
<td class="num">{{.After}}</td>
<td class="num">{{.Target}}</td>
<td><span class="st {{.StatusClass}}" title="{{.Reason}}">{{.Status}}</span></td>
</tr>
{{end}}</tbody>
</table>{{else if .Unevaluated}}<p class="muted">Not evaluated: the run stopped early (the scenario has {{.Unevaluated}} success conditions).</p>{{else}}<p class="muted">The scenario has no success conditions.</p>{{end}}

{{if .Summary}}<h2>What the client saw</h2>
<table>
<thead><tr><th></th><th>Before (pattern off)</th><th>{{.AfterTitle}}</th></tr></thead>
<tbody>
{{range .Summary}}<tr><th>{{.Label}}</th><td class="num">{{.Before}}</td><td class="num">{{.After}}</td></tr>
{{end}}</tbody>
</table>{{end}}

<h2>Requests per component, by status class</h2>
{{with .Traffic}}<figure>
{{template "legend" .}}{{template "svg" .}}
<figcaption>Each component's inbound requests (the client's responses in the first row): upper bar before (b), lower bar after (a). Hover a bar for its count.</figcaption>
</figure>{{else}}<p class="muted">No requests were counted.</p>{{end}}

<h2>Client latency percentiles</h2>
{{with .Latency}}<figure>
{{template "legend" .}}{{template "svg" .}}
<figcaption>Latency the load generator measured from each request's actual send, before and after.</figcaption>
</figure>{{else}}<p class="muted">No latency was measured.</p>{{end}}

<h2>Timeline</h2>
{{range .Timelines}}<h3>{{.Phase}}</h3>
{{with .Plot}}<figure>
{{template "legend" .}}{{template "svg" .}}
<figcaption>Requests and errors per second; dashed marks are seconds with outlier ejections.</figcaption>
</figure>{{else}}<p class="muted">no timeline recorded</p>{{end}}
{{else}}<p class="muted">no timeline recorded</p>
{{end}}

<footer>
{{range .Versions}}<span>{{.Label}} {{.Before}}</span> · {{end}}
{{if .RunDir}}run directory {{.RunDir}} · {{end}}written by meshgym; this page loads nothing from the network.
</footer>
</main>
</body>
</html>
{{define "legend"}}<div class="legend">{{range .Legend}}<span><span class="sw" style="background:{{.Colour}}"></span>{{.Label}}</span>{{end}}</div>{{end}}
{{define "svg"}}<svg width="{{f .W}}" height="{{f .H}}" viewBox="0 0 {{f .W}} {{f .H}}" role="img" aria-label="{{.Label}}">
{{range .Lines}}<line x1="{{f .X1}}" y1="{{f .Y1}}" x2="{{f .X2}}" y2="{{f .Y2}}" stroke="{{.Stroke}}"{{if .Dash}} stroke-dasharray="4 3" stroke-width="2"{{end}}>{{if .Title}}<title>{{.Title}}</title>{{end}}</line>
{{end}}{{range .Rects}}<rect x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Polys}}<polyline points="{{.Points}}" fill="none" stroke="{{.Stroke}}" stroke-width="2"><title>{{.Title}}</title></polyline>
{{end}}{{range .Texts}}<text x="{{f .X}}" y="{{f .Y}}" text-anchor="{{.Anchor}}"{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</text>
{{end}}</svg>{{end}}
`))
