package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"meshgym/internal/yamlnode"
)

// MaxFileSize is the largest scenario file Load and LoadBytes read, in
// bytes. Scenario files are a few kilobytes; the YAML parser's cost grows
// faster than linearly with nesting, documents and anchors, so the loader
// also bounds those before parsing (see precheck).
const MaxFileSize = 128 << 10

// Bounds checked before parsing (far above any real scenario file).
const (
	maxFlowOpens = 1000 // '[' and '{' in the whole file
	maxDocuments = 100  // '---' separators
	maxAnchors   = 1000 // '&' characters
)

// precheck rejects inputs that would make the YAML parser slow.
func precheck(p *problems, data []byte) bool {
	const hint = sizeHint
	if len(data) > MaxFileSize {
		p.add(pos{}, "", hint, "file is too large (%d bytes; at most %d)", len(data), MaxFileSize)
		return false
	}
	opens := bytes.Count(data, []byte("[")) + bytes.Count(data, []byte("{"))
	if opens > maxFlowOpens {
		p.add(pos{}, "", hint, "too many [ and { (%d; at most %d)", opens, maxFlowOpens)
		return false
	}
	docs := bytes.Count(data, []byte("\n---"))
	if bytes.HasPrefix(data, []byte("---")) {
		docs++
	}
	if docs > maxDocuments {
		p.add(pos{}, "", hint, "too many YAML documents (%d; at most %d)", docs, maxDocuments)
		return false
	}
	if n := bytes.Count(data, []byte("&")); n > maxAnchors {
		p.add(pos{}, "", hint, "too many & characters (%d; at most %d)", n, maxAnchors)
		return false
	}
	return true
}

// Load reads a scenario file in either spelling (book shorthand or long
// form), expands it and validates it. Every problem is reported at once as
// an Errors value (one line per problem, each with file:line:column).
//
// Only regular files are read (CheckFile): a named pipe, a device, a socket
// or a directory is refused without reading it, and at most MaxFileSize+1
// bytes are ever read.
func Load(path string) (*Scenario, error) {
	data, err := readScenarioFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, data)
}

// CheckFile reports whether path names something Load would read: nil for
// a regular file (symbolic links followed) of at most MaxFileSize bytes,
// otherwise an Errors with one problem saying what path is, e.g.
//
//	f.yaml: not a regular file (a named pipe); hint: give the path of a scenario file
//
// It never opens the file, so it cannot block on a named pipe.
func CheckFile(path string) error {
	_, err := checkFile(path)
	return err
}

func checkFile(path string) (fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, Errors{fileError(path, err)}
	}
	if !st.Mode().IsRegular() {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("not a regular file (%s)", fileKind(st.Mode())), Hint: "give the path of a scenario file"}}
	}
	if st.Size() > MaxFileSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("file is too large (%d bytes; at most %d)", st.Size(), MaxFileSize), Hint: sizeHint}}
	}
	return st, nil
}

// readScenarioFile reads a scenario file: only a regular file, and never more than
// MaxFileSize+1 bytes of it.
func readScenarioFile(path string) ([]byte, error) {
	st, err := checkFile(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{fileError(path, err)}
	}
	defer f.Close()
	// The path may have been replaced between Stat and Open.
	if fst, err := f.Stat(); err != nil || !fst.Mode().IsRegular() || !os.SameFile(st, fst) {
		return nil, Errors{{File: path, Msg: "the file changed while it was opened", Hint: "load it again"}}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, Errors{fileError(path, err)}
	}
	if len(data) > MaxFileSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("file is too large (more than %d bytes)", MaxFileSize), Hint: sizeHint}}
	}
	return data, nil
}

const sizeHint = "scenario files are a few kilobytes of plain YAML"

// fileError describes an error of the file system about path.
func fileError(path string, err error) *Error {
	e := &Error{File: path, Msg: "cannot read the file: " + errText(err), Hint: "check the path"}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.Msg = "no such file"
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		if _, ok := builtinFile(base); ok {
			e.Hint = fmt.Sprintf("%q is also a built-in scenario: use the name without a path or extension", base)
		} else {
			e.Hint = "check the path; the built-in scenarios are " + strings.Join(builtinList(), ", ")
		}
	case errors.Is(err, fs.ErrPermission):
		e.Hint = "check the file's permissions"
	case isSymlinkLoop(err):
		e.Hint = "the path is a loop of symbolic links: point it at a scenario file"
	}
	return e
}

// fileKind names what a path that is not a regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	}
	return "a special file"
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// checkText refuses data that is not UTF-8 text: binary data (a NUL byte
// or invalid UTF-8) up front, and a control character other than tab,
// newline and carriage return at its place. Offsets count from 1.
func checkText(p *problems, data []byte) bool {
	bad := bytes.IndexByte(data, 0)
	for i := 0; i < len(data); {
		if bad >= 0 && i >= bad {
			break
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			bad = i
			break
		}
		i += size
	}
	if bad >= 0 {
		p.add(pos{}, "", "scenario files are YAML text (UTF-8)", "not a text file (binary data at byte %d)", bad+1)
		return false
	}
	line, col := 1, 1
	for _, r := range string(data) {
		switch {
		case r == '\n':
			line, col = line+1, 1
			continue
		case r == '\t', r == '\r':
		case unicode.IsControl(r):
			p.add(pos{Line: line, Col: col}, "", "scenario files are plain YAML text: delete the character", "control character %s in the text", quote(string(r)))
			return false
		}
		col++
	}
	return true
}

// LoadBytes is Load for a file already read; name is used in messages and
// for the scenario's name when the file does not give one.
func LoadBytes(name string, data []byte) (s *Scenario, err error) {
	defer func() {
		if r := recover(); r != nil {
			s = nil
			err = Errors{{File: name, Msg: fmt.Sprintf("internal error while reading the scenario: %v", r), Hint: "please report this file as a meshgym bug"}}
		}
	}()
	p := &problems{file: name}
	if len(data) <= MaxFileSize && !checkText(p, data) {
		return nil, p.err()
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a BOM from Windows editors
	if !precheck(p, data) {
		return nil, p.err()
	}
	docs := parseYAML(p, data)
	if len(p.list) > 0 {
		return nil, p.err()
	}
	if len(docs) == 0 {
		p.add(pos{Line: 1, Col: 1}, "", "write a scenario: see docs/scenarios.md, or `meshgym explain retries` for an example", "the file is empty")
		return nil, p.err()
	}
	root := docs[0]
	for _, d := range docs {
		if d.Kind != yamlnode.Map {
			p.add(d.At, "", "a scenario is a mapping of keys such as deployment: and performance_test:", "expected a mapping at the top, found %s", describe(d))
			return nil, p.err()
		}
	}
	if len(docs) > 1 {
		// Book exercise files may print deployment: and performance_test:
		// as two documents; read them as one mapping.
		merged := &node{Kind: yamlnode.Map, At: docs[0].At}
		for _, d := range docs {
			for i, k := range d.Keys {
				if pk, _ := merged.Lookup(k.Text); pk != nil {
					p.add(k.At, "", "remove one of the two", "key %s given twice (first at line %d)", quote(k.Text), pk.At.Line)
					continue
				}
				merged.Keys = append(merged.Keys, k)
				merged.Vals = append(merged.Vals, d.Vals[i])
			}
		}
		root = merged
	}
	d := newDecoder(p)
	if len(docs) > 1 {
		d.note("the file has %d YAML documents: read as one scenario", len(docs))
	}
	var sc *Scenario
	if k, _ := root.Lookup("apiVersion"); k != nil {
		d.long = true
		sc = decodeLong(d, root)
	} else if k, _ := root.Lookup("kind"); k != nil {
		d.long = true
		sc = decodeLong(d, root)
	} else if isBook(root) {
		sc = decodeBook(d, root, scenarioName(name))
	} else {
		var keys []string
		for i, k := range root.Keys {
			if i == 5 {
				keys = append(keys, fmt.Sprintf("and %d more", len(root.Keys)-i))
				break
			}
			keys = append(keys, clip(k.Text))
		}
		p.add(root.At, "", "a long-form file starts with apiVersion: "+APIVersion+" and kind: Scenario; a book file has deployment: and performance_test:", "not a scenario: unknown top-level keys %s", strings.Join(keys, ", "))
		return nil, p.err()
	}
	sc.Source = name
	type placed struct {
		at    pos
		field string
		v     violation
	}
	var found []placed
	for _, v := range validate(sc) {
		if d.failed(v.path) {
			continue
		}
		at, field := d.where(v.path)
		found = append(found, placed{at, field, v})
	}
	for _, f := range found {
		if f.v.secondary && slices.ContainsFunc(found, func(o placed) bool { return !o.v.secondary && o.at == f.at && o.field == f.field }) {
			continue // the same problem, said better by the other
		}
		p.add(f.at, f.field, f.v.hint, "%s", f.v.msg)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	for i, c := range sc.Conditions {
		if c.Share {
			base := Condition{Metric: c.Metric, Matchers: sc.Topology.ShareBase(c)}
			_, field := d.where(fmt.Sprintf("conditions[%d]", i))
			d.note("%s: %s is the count of %s ÷ the count of %s", field, c.ValueString(), c.Selector(), base.Selector())
		}
	}
	sc.Notes = d.notes
	return sc, nil
}

// scenarioName derives a scenario name from a file name: its base name
// without extension, with characters outside [A-Za-z0-9_.-] replaced by -.
func scenarioName(file string) string {
	base := filepath.Base(file)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	var b strings.Builder
	for _, r := range base {
		if isNameRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-.")
	if s == "" {
		return "scenario"
	}
	return s
}

// ---- decoder helpers shared by the book and long-form decoders ----

// srcRef is where a model field came from: its place and the user's name
// for it.
type srcRef struct {
	at    pos
	field string
}

type decoder struct {
	p     *problems
	notes []string
	src   map[string]srcRef // model path → where it was written
	bad   map[string]bool   // model paths with a decode problem
	// wrong holds the nodes that should have been a mapping and were not:
	// their missing keys are not reported on top.
	wrong map[*node]bool
	long  bool // reading the long form (fewer notes)
}

func newDecoder(p *problems) *decoder {
	return &decoder{p: p, src: map[string]srcRef{}, bad: map[string]bool{}, wrong: map[*node]bool{}}
}

func (d *decoder) note(format string, args ...any) {
	d.notes = append(d.notes, fmt.Sprintf(format, args...))
}

// ref records that model path came from node n, written as field.
func (d *decoder) ref(path string, n *node, field string) {
	if n == nil {
		return
	}
	d.src[path] = srcRef{n.At, field}
}

// fail reports a problem at n (field as written) and marks model path bad.
func (d *decoder) fail(path string, n *node, field, hint, format string, args ...any) {
	at := pos{}
	if n != nil {
		at = n.At
	}
	d.p.add(at, field, hint, format, args...)
	if path != "" {
		d.bad[path] = true
	}
}

// failed reports whether path or a parent or child of it had a decode problem.
func (d *decoder) failed(path string) bool {
	for p := range d.bad {
		if p == path || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

// where resolves a model path to the place and field name the user wrote,
// walking up to the nearest recorded parent.
func (d *decoder) where(path string) (pos, string) {
	for p := path; p != ""; p = parentPath(p) {
		if r, ok := d.src[p]; ok {
			if p == path {
				return r.at, r.field
			}
			return r.at, r.field + strings.TrimPrefix(path, p)
		}
	}
	return pos{}, path
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// key describes one allowed key of a mapping: its canonical name and any
// synonyms accepted for it.
type key struct {
	name     string
	synonyms []string
}

// entry is a key found in a mapping.
type entry struct {
	key  *node // the key as written
	val  *node
	name string // canonical name
}

// fields reads mapping n (whose user path is field), reporting unknown keys
// and a key given twice under two synonyms. It returns the entries by
// canonical name. A null n is an empty mapping. example is the hint when n
// is not a mapping (e.g. "write load: {duration: 200s, rps: 100}"); the
// keys require then finds missing are not reported on top.
func (d *decoder) fields(n *node, path, field, example string, allowed ...key) map[string]entry {
	out := map[string]entry{}
	if n == nil || n.Kind == yamlnode.Null {
		return out
	}
	if n.Kind != yamlnode.Map {
		d.fail(path, n, field, example, "expected a mapping, found %s", describe(n))
		d.wrong[n] = true
		return out
	}
	var names []string
	for _, k := range allowed {
		names = append(names, k.name)
	}
	for i, k := range n.Keys {
		canon := ""
		for _, a := range allowed {
			if k.Text == a.name {
				canon = a.name
			}
			for _, s := range a.synonyms {
				if k.Text == s {
					canon = a.name
				}
			}
		}
		sub := joinField(field, fieldKey(k.Text))
		if canon == "" {
			hint := "known keys here: " + strings.Join(names, ", ")
			if s := suggest(k.Text, names); s != "" {
				hint = "did you mean " + s + "? " + hint
			}
			d.p.add(k.At, sub, hint, "unknown key %s", quote(k.Text))
			continue
		}
		if prev, ok := out[canon]; ok {
			d.p.add(k.At, sub, "keep one of them", "%s and %s mean the same; %s is given at line %d", k.Text, prev.key.Text, prev.key.Text, prev.key.At.Line)
			continue
		}
		if k.Text != canon {
			d.note("%s: read as %s", sub, canon)
		}
		out[canon] = entry{key: k, val: n.Vals[i], name: canon}
	}
	return out
}

func joinField(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

// require reports a missing key name of mapping parent (written as field);
// path is the model path of the value the key would have given. Nothing is
// reported when parent was not a mapping at all (fields said so).
func (d *decoder) require(m map[string]entry, parent *node, path, field, name, hint string) bool {
	if _, ok := m[name]; ok {
		return true
	}
	if parent != nil && d.wrong[parent] {
		d.bad[path] = true
		return false
	}
	at := pos{}
	if parent != nil {
		at = parent.At
	}
	d.p.add(at, field, hint, "missing %s", name)
	d.bad[path] = true
	return false
}

// scalar reads a single value (want says what, for the message; hint how
// to write it).
func (d *decoder) scalar(n *node, path, field, want, hint string) (string, bool) {
	if n == nil || n.Kind != yamlnode.Scalar {
		what := "nothing"
		if n != nil {
			what = describe(n)
		}
		d.fail(path, n, field, hint, "expected %s, found %s", want, what)
		return "", false
	}
	return n.Text, true
}

// str reads a text value; typographic quotes around it are removed.
func (d *decoder) str(n *node, path, field string) (string, bool) {
	return d.text(n, path, field, "write one word or quoted text here, not a list or a mapping")
}

func (d *decoder) text(n *node, path, field, hint string) (string, bool) {
	s, ok := d.scalar(n, path, field, "text", hint)
	if !ok {
		return "", false
	}
	t, stripped := stripTypographic(s)
	if stripped {
		d.note("%s: typographic quotes around %q removed", field, t)
	}
	d.ref(path, n, field)
	return t, true
}

// ident reads a name made of letters, digits, _ - and .
func (d *decoder) ident(n *node, path, field string) (string, bool) {
	const hint = "names are words such as payments or currency_v2"
	s, ok := d.text(n, path, field, hint)
	if !ok {
		return "", false
	}
	if s == "" {
		d.fail(path, n, field, hint, "must not be empty")
		return "", false
	}
	for _, r := range s {
		if !isNameRune(r) {
			d.fail(path, n, field, "names use letters, digits, _ - and .", "name %s has the character %s", quote(s), quote(string(r)))
			return "", false
		}
	}
	return s, true
}

func (d *decoder) boolean(n *node, path, field string) (bool, bool) {
	s, ok := d.scalar(n, path, field, "true or false", "write true or false")
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		d.ref(path, n, field)
		return true, true
	case "false", "no", "off":
		d.ref(path, n, field)
		return false, true
	}
	d.fail(path, n, field, "write true or false", "expected true or false, found %s", describe(n))
	return false, false
}

// integer reads a whole number.
func (d *decoder) integer(n *node, path, field string) (int, bool) {
	s, ok := d.scalar(n, path, field, "a whole number", "write a whole number such as 3")
	if !ok {
		return 0, false
	}
	t, _ := stripTypographic(s)
	v, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 10, 32)
	if err != nil || t == "" {
		f, ferr := strconv.ParseFloat(t, 64)
		if ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<31 {
			v, err = int64(f), nil
		}
	}
	if err != nil {
		if t != "" && strings.Trim(strings.TrimPrefix(t, "-"), "0123456789") == "" {
			d.fail(path, n, field, "write a smaller number", "%s is out of range", clip(t))
			return 0, false
		}
		d.fail(path, n, field, "write a whole number such as 3", "expected a whole number, found %s", describe(n))
		return 0, false
	}
	d.ref(path, n, field)
	return int(v), true
}

// number reads a plain number.
func (d *decoder) number(n *node, path, field string) (float64, bool) {
	const hint = "write a number such as 100"
	s, ok := d.scalar(n, path, field, "a number", hint)
	if !ok {
		return 0, false
	}
	t, _ := stripTypographic(s)
	v, err := parseFloat(t)
	if err != nil {
		if _, ferr := strconv.ParseFloat(t, 64); errors.Is(ferr, strconv.ErrRange) {
			d.fail(path, n, field, "write a smaller number", "expected a number, found %s, which is out of range", describe(n))
			return 0, false
		}
		d.fail(path, n, field, hint, "expected a number, found %s", describe(n))
		return 0, false
	}
	d.ref(path, n, field)
	return v, true
}

// parseFloat reads a finite decimal number (no hex, inf or nan).
func parseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "xXpPiInN_") {
		return 0, fmt.Errorf("not a number")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("not a number")
	}
	return v, nil
}

// percent reads a percentage written 50, 50% or "50%": a bare number is a
// percent (0.5 is half a percent, not a half). The result is 0–100 scale.
func (d *decoder) percent(n *node, path, field string) (float64, bool) {
	const hint = "write a percentage such as 50 or 50%"
	s, ok := d.scalar(n, path, field, "a percentage", hint)
	if !ok {
		return 0, false
	}
	t, _ := stripTypographic(s)
	t = strings.TrimSpace(t)
	hasPct := strings.HasSuffix(t, "%")
	v, err := parseFloat(strings.TrimSuffix(t, "%"))
	if err != nil {
		d.fail(path, n, field, hint, "expected a percentage, found %s", describe(n))
		return 0, false
	}
	if !hasPct && (!d.long || (v > 0 && v < 1)) {
		extra := ""
		if v > 0 && v < 1 {
			extra = "; not a fraction: write it as a percent"
		}
		d.note("%s: %s read as %s%% (a bare number is a percent%s)", field, t, formatNumber(v), extra)
	}
	d.ref(path, n, field)
	return v, true
}

// duration reads "200s", "3m", "100ms"; a bare number is seconds (noted).
func (d *decoder) duration(n *node, path, field string) (Duration, bool) {
	const hint = "write a duration with a unit, such as 200s, 3m or 100ms"
	s, ok := d.scalar(n, path, field, "a duration such as 200s or 3m", hint)
	if !ok {
		return 0, false
	}
	t, _ := stripTypographic(s)
	t = strings.TrimSpace(t)
	tooLong := func() (Duration, bool) {
		d.fail(path, n, field, "durations are at most "+Duration(maxDuration).String()+" (a week)", "duration %s is too long (at most %s)", clip(t), Duration(maxDuration))
		return 0, false
	}
	if v, err := parseFloat(t); err == nil {
		if math.Abs(v) > maxDuration.Seconds() {
			return tooLong()
		}
		d.note("%s: %s read as %s (a bare number is seconds)", field, t, Duration(time.Duration(v*float64(time.Second))))
		d.ref(path, n, field)
		return Duration(time.Duration(v * float64(time.Second))), true
	}
	v, err := time.ParseDuration(t)
	if err != nil {
		if secs, ok := durationSeconds(t); ok && math.Abs(secs) > maxDuration.Seconds() {
			return tooLong() // too long for time.Duration itself
		}
		d.fail(path, n, field, hint, "expected a duration, found %s", describe(n))
		return 0, false
	}
	if v > maxDuration || v < -maxDuration {
		return tooLong()
	}
	d.ref(path, n, field)
	return Duration(v), true
}

// durationSeconds reads a Go duration ("9223372036854775807s", "1.5h30m")
// as float seconds, without time.ParseDuration's range limit; ok is false
// when s is not written as a duration.
func durationSeconds(s string) (float64, bool) {
	units := map[string]float64{"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
	sign := 1.0
	if s != "" && (s[0] == '-' || s[0] == '+') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	total := 0.0
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		j := i
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		v, err := strconv.ParseFloat(s[:i], 64)
		unit, known := units[s[i:j]]
		if i == 0 || err != nil || !known {
			return 0, false
		}
		total += v * unit
		s = s[j:]
	}
	return sign * total, true
}

// maxDuration bounds every duration in a scenario file.
const maxDuration = 7 * 24 * time.Hour

// list reads a sequence; a null is an empty list.
func (d *decoder) list(n *node, path, field string) ([]*node, bool) {
	if n == nil || n.Kind == yamlnode.Null {
		return nil, true
	}
	if n.Kind != yamlnode.Seq {
		d.fail(path, n, field, "write a list: - item per line, or [a, b]", "expected a list, found %s", describe(n))
		return nil, false
	}
	d.ref(path, n, field)
	return n.Items, true
}

// formatDuration writes d with the largest unit that keeps a whole number;
// minutes and hours only from 2m and 2h ("60s", "200s", "3m").
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	sign := ""
	if d < 0 {
		sign = "-"
		if d == math.MinInt64 {
			return d.String()
		}
		d = -d
	}
	switch {
	case d%time.Hour == 0 && d >= 2*time.Hour:
		return sign + strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0 && d >= 2*time.Minute:
		return sign + strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return sign + strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return sign + strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	case d%time.Microsecond == 0:
		return sign + strconv.FormatInt(int64(d/time.Microsecond), 10) + "us"
	}
	return sign + strconv.FormatInt(int64(d), 10) + "ns"
}
