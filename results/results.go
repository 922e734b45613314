// Package results is the local results store: the run directories that
// `meshgym run` leaves under .meshgym/runs (one per run, named
// <YYYYMMDD-HHMMSS>-<scenario>, each holding the engine.Result as
// result.json). It lists runs newest first, finds one by ID, unique ID
// prefix or "last", and loads it back. It reads only; it never writes or
// deletes a run, and it knows nothing about how a run is rendered.
package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"meshgym/engine"
	"meshgym/verdict"
)

// EnvDir names the environment variable that overrides the default store
// directory (Open with dir "").
const EnvDir = "MESHGYM_RESULTS"

// DefaultDir is where engine.Run creates run directories when no
// Options.RunDir is given (relative to the working directory).
const DefaultDir = ".meshgym/runs"

// ResultFile is the name of the serialised engine.Result in a run directory.
const ResultFile = "result.json"

// Last is the reference that means the newest readable run.
const Last = "last"

// timeLayout is the time prefix of a run directory's name (engine.Run's
// newRunDir), in local time.
const timeLayout = "20060102-150405"

// maxCandidates bounds the IDs a RefError lists.
const maxCandidates = 8

// MaxResultBytes bounds the size of a result.json that List and Load read
// (64 MB; a real run's result.json is well under 1 MB). A larger file is
// skipped by List and a *LoadError for Load, so one oversized or hostile
// file cannot stall the listing or exhaust memory.
const MaxResultBytes = 64 << 20

// maxResultBytes is MaxResultBytes; tests lower it.
var maxResultBytes int64 = MaxResultBytes

// Store is a directory of run directories.
type Store struct {
	// Dir is the directory that holds the run directories.
	Dir string
}

// Open returns the store in dir; "" means $MESHGYM_RESULTS, or DefaultDir
// (.meshgym/runs) when that is unset. Open does not touch the disk: a
// missing directory is an empty store.
func Open(dir string) *Store {
	if dir == "" {
		dir = os.Getenv(EnvDir)
	}
	if dir == "" {
		dir = filepath.FromSlash(DefaultDir)
	}
	return &Store{Dir: dir}
}

// Summary is one run as the listing shows it.
type Summary struct {
	// ID is the run directory's name, e.g. 20261129-140538-canary.
	ID string `json:"id"`
	// Dir is the run directory's path.
	Dir string `json:"dir"`
	// Started is when the run started: the before phase's start time, or
	// the time in the directory's name when the run stopped before that
	// (local time, second resolution).
	Started time.Time `json:"started"`
	// Scenario is the scenario's name; Source where it came from.
	Scenario string `json:"scenario"`
	Source   string `json:"source,omitempty"`
	// Mesh is the mesh plugin that applied the pattern and Profile its
	// semantics profile ("istio@1.27"); empty in runs made before the
	// engine recorded them.
	Mesh    string `json:"mesh,omitempty"`
	Profile string `json:"profile,omitempty"`
	// Platform ran the topology ("local").
	Platform string `json:"platform"`
	// Passed is true when no condition failed (engine.Result.Passed).
	Passed bool `json:"passed"`
	// Error says why the run stopped early; "" when it completed.
	Error string `json:"error,omitempty"`
	// Pass, Fail and Warn count the verdicts by status.
	Pass int `json:"pass"`
	Fail int `json:"fail"`
	Warn int `json:"warn"`
}

// Outcome is the one-word result of the run: STOPPED when the user
// interrupted it (Ctrl-C, SIGTERM), ERROR when it stopped early for another
// reason, else PASS or FAIL.
func (s Summary) Outcome() string {
	switch {
	case strings.HasPrefix(s.Error, "interrupted"):
		return "STOPPED"
	case s.Error != "":
		return "ERROR"
	case s.Passed:
		return "PASS"
	}
	return "FAIL"
}

// Skipped is a run directory the listing left out, and why (a crashed run
// that wrote no result.json, a file that is not valid JSON …).
type Skipped struct {
	ID     string `json:"id"`     // the directory's name
	Reason string `json:"reason"` // one line
}

// List returns every readable run, newest first (by Started, then ID).
// Directories without a readable result.json are left out; Scan says which
// and why. A missing store directory is an empty list; only a store
// directory that exists but cannot be read (a file, a symlink loop, no
// permission) is an error, a *DirError.
func (s *Store) List() ([]Summary, error) {
	sums, _, err := s.Scan()
	return sums, err
}

// Scan is List plus the run directories it skipped, in name order.
func (s *Store) Scan() ([]Summary, []Skipped, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, nil, err
	}
	var sums []Summary
	var skipped []Skipped
	for _, id := range ids {
		sum, err := s.summary(id)
		if err != nil {
			skipped = append(skipped, Skipped{ID: id, Reason: err.Error()})
			continue
		}
		sums = append(sums, sum)
	}
	sort.SliceStable(sums, func(i, j int) bool {
		if !sums[i].Started.Equal(sums[j].Started) {
			return sums[i].Started.After(sums[j].Started)
		}
		return sums[i].ID > sums[j].ID
	})
	return sums, skipped, nil
}

// ids returns the names of the run directories, sorted.
func (s *Store) ids() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &DirError{Dir: s.Dir, Err: pathCause(err)}
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// summaryFields is the part of result.json a Summary needs; decoding into
// it skips the large phase records.
type summaryFields struct {
	Scenario *struct {
		Name string `json:"name"`
	} `json:"scenario"`
	Source   string `json:"source"`
	Platform string `json:"platform"`
	Mesh     string `json:"mesh"`
	Profile  string `json:"profile"`
	Passed   bool   `json:"passed"`
	Error    string `json:"error"`
	Before   *struct {
		Started time.Time `json:"started"`
	} `json:"before"`
	Verdicts []struct {
		Status verdict.Status `json:"status"`
	} `json:"verdicts"`
}

func (s *Store) summary(id string) (Summary, error) {
	data, err := s.read(id)
	if err != nil {
		return Summary{}, err
	}
	if err := check(data); err != nil {
		return Summary{}, err
	}
	var f summaryFields
	if err := json.Unmarshal(data, &f); err != nil {
		return Summary{}, notResult(err)
	}
	sum := Summary{ID: id, Dir: filepath.Join(s.Dir, id), Source: f.Source, Platform: f.Platform,
		Mesh: f.Mesh, Profile: f.Profile, Passed: f.Passed, Error: f.Error}
	if f.Scenario != nil {
		sum.Scenario = f.Scenario.Name
	}
	if f.Before != nil {
		sum.Started = f.Before.Started
	}
	if sum.Started.IsZero() {
		sum.Started = startedFromID(id)
	}
	for _, v := range f.Verdicts {
		switch v.Status {
		case verdict.Pass:
			sum.Pass++
		case verdict.Fail:
			sum.Fail++
		case verdict.Warn:
			sum.Warn++
		}
	}
	return sum, nil
}

// startedFromID reads the time prefix of a run directory's name (local
// time); zero when the name has none.
func startedFromID(id string) time.Time {
	if len(id) < len(timeLayout) {
		return time.Time{}
	}
	t, err := time.ParseInLocation(timeLayout, id[:len(timeLayout)], time.Local)
	if err != nil {
		return time.Time{}
	}
	return t
}

// read returns a run's result.json, with an error that says what is wrong
// in one line. It reads only regular files of at most maxResultBytes: a
// directory, FIFO or device named result.json is refused before it is
// opened (opening a FIFO would block).
func (s *Store) read(id string) ([]byte, error) {
	path := filepath.Join(s.Dir, id, ResultFile)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no %s (the run stopped before writing it, or the directory is not a meshgym run)", ResultFile)
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %v", ResultFile, pathCause(err))
	case fi.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a file", ResultFile)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file (%s)", ResultFile, fi.Mode().Type())
	case fi.Size() > maxResultBytes:
		return nil, tooLarge(fi.Size())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", ResultFile, pathCause(err))
	}
	defer f.Close()
	// The limit holds even if the file grows after the Stat.
	data, err := io.ReadAll(io.LimitReader(f, maxResultBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %v", ResultFile, pathCause(err))
	case int64(len(data)) > maxResultBytes:
		return nil, tooLarge(int64(len(data)))
	case len(bytes.TrimSpace(data)) == 0:
		return nil, fmt.Errorf("%s is empty (the run was cut off while writing it)", ResultFile)
	}
	return data, nil
}

func tooLarge(n int64) error {
	return fmt.Errorf("%s is too large (%s; the limit is %s)", ResultFile, sizeText(n), sizeText(maxResultBytes))
}

// sizeText is n bytes in MB, KB or bytes, rounded down.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// pathCause is the cause of a *fs.PathError without the path (the caller
// names the file), or err itself.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// check says whether data, a non-empty result.json, is a meshgym result:
// a JSON object with a scenario that has a name (engine.Run always records
// one). JSON null, {}, an array or a scalar is not.
func check(data []byte) error {
	data = bytes.TrimSpace(data)
	if !json.Valid(data) {
		var v any
		return notResult(json.Unmarshal(data, &v))
	}
	switch data[0] {
	case '{':
	case 'n':
		return errNoScenario
	case '[':
		return fmt.Errorf("%s is not a meshgym result (a JSON array, not an object)", ResultFile)
	default:
		return fmt.Errorf("%s is not a meshgym result (a JSON scalar, not an object)", ResultFile)
	}
	var f struct {
		Scenario *struct {
			Name string `json:"name"`
		} `json:"scenario"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return notResult(err)
	}
	if f.Scenario == nil || strings.TrimSpace(f.Scenario.Name) == "" {
		return errNoScenario
	}
	return nil
}

var errNoScenario = fmt.Errorf("%s is not a meshgym result (no scenario recorded)", ResultFile)

func notResult(err error) error {
	return fmt.Errorf("%s is not a meshgym result: %s", ResultFile, oneLine(err.Error()))
}

// RefError is a reference that names no run, or more than one. Its
// Error() is one line that lists the candidates.
type RefError struct {
	Ref string
	// Ambiguous is true when several runs match (Candidates are those
	// runs); false when none does (Candidates are the newest runs).
	Ambiguous  bool
	Candidates []string
	// More counts the candidates left out of the list.
	More int
	// Dir is the store's directory.
	Dir string
	// Unreadable counts the run directories Scan skipped, for "last" in a
	// store that holds only broken runs.
	Unreadable int
}

func (e *RefError) Error() string {
	list := strings.Join(e.Candidates, ", ")
	if e.More > 0 {
		list += fmt.Sprintf(" and %d more", e.More)
	}
	switch {
	case e.Ambiguous:
		return fmt.Sprintf("run %q is ambiguous: it matches %s; give more of the ID", e.Ref, list)
	case len(e.Candidates) == 0 && e.Unreadable > 0:
		return fmt.Sprintf("no run %q: %s holds no readable runs (%d skipped; 'meshgym results list' says why)", e.Ref, e.Dir, e.Unreadable)
	case len(e.Candidates) == 0:
		return fmt.Sprintf("no run %q: %s holds no runs; hint: 'meshgym run SCENARIO' makes one, --results-dir points elsewhere", e.Ref, e.Dir)
	}
	return fmt.Sprintf("no run %q in %s; recent runs: %s (see 'meshgym results list')", e.Ref, e.Dir, list)
}

// LoadError is a run that exists but whose result.json cannot be loaded:
// missing, not a regular file, larger than MaxResultBytes, empty, not
// valid JSON, or valid JSON that is not a meshgym result (null, {}, an
// array, no scenario). Its Error() is one line, "DIR/ID: REASON", the
// same line `results list` prints for a run it skips.
type LoadError struct {
	ID string
	// Dir is the store's directory; "" gives "run ID: REASON".
	Dir    string
	Reason string
}

func (e *LoadError) Error() string {
	if e.Dir == "" {
		return fmt.Sprintf("run %s: %s", e.ID, e.Reason)
	}
	return fmt.Sprintf("%s: %s", filepath.Join(e.Dir, e.ID), e.Reason)
}

// DirError is a store directory that exists but cannot be listed: a file,
// a symlink loop, no permission. Its Error() is one line naming the
// directory and the cause.
type DirError struct {
	Dir string
	Err error // the cause, e.g. syscall.ENOTDIR
}

func (e *DirError) Error() string {
	return fmt.Sprintf("results directory %s: %v", e.Dir, e.Err)
}

func (e *DirError) Unwrap() error { return e.Err }

// Resolve returns the ID that ref names: an exact ID, a prefix of exactly
// one ID, or Last ("last": the newest readable run). It returns a
// *RefError when ref names no run or several.
func (s *Store) Resolve(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == Last {
		sums, skipped, err := s.Scan()
		if err != nil {
			return "", err
		}
		if len(sums) == 0 {
			return "", &RefError{Ref: ref, Dir: s.Dir, Unreadable: len(skipped)}
		}
		return sums[0].ID, nil
	}
	ids, err := s.ids()
	if err != nil {
		return "", err
	}
	if ref == "" || strings.ContainsAny(ref, `/\`) || ref == "." || ref == ".." {
		return "", s.unknown(ref, ids)
	}
	var matches []string
	for _, id := range ids {
		if id == ref {
			return id, nil
		}
		if strings.HasPrefix(id, ref) {
			matches = append(matches, id)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", s.unknown(ref, ids)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	e := &RefError{Ref: ref, Ambiguous: true, Dir: s.Dir}
	e.Candidates, e.More = cut(matches)
	return "", e
}

func (s *Store) unknown(ref string, ids []string) error {
	newest := append([]string(nil), ids...)
	sort.Sort(sort.Reverse(sort.StringSlice(newest)))
	e := &RefError{Ref: ref, Dir: s.Dir}
	e.Candidates, e.More = cut(newest)
	return e
}

func cut(ids []string) ([]string, int) {
	if len(ids) > maxCandidates {
		return ids[:maxCandidates], len(ids) - maxCandidates
	}
	return ids, 0
}

// Load returns the run that ref names (see Resolve) with Result.ID set to
// its ID. Errors: *RefError for a ref that names no run or several,
// *LoadError for a run whose result.json is missing, too large, not valid
// JSON or not a meshgym result (then the returned Result always has a
// non-nil Scenario), *DirError for a store directory that cannot be read.
func (s *Store) Load(ref string) (*engine.Result, error) {
	id, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	data, err := s.read(id)
	if err == nil {
		err = check(data)
	}
	if err != nil {
		return nil, &LoadError{ID: id, Dir: s.Dir, Reason: err.Error()}
	}
	var res engine.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, &LoadError{ID: id, Dir: s.Dir, Reason: notResult(err).Error()}
	}
	if res.Scenario == nil {
		// check saw a scenario; keep the guarantee even so.
		return nil, &LoadError{ID: id, Dir: s.Dir, Reason: errNoScenario.Error()}
	}
	res.ID = id
	if res.Scenario != nil && res.Scenario.Source == "" {
		res.Scenario.Source = res.Source
	}
	return &res, nil
}

// Path returns the run directory of an ID.
func (s *Store) Path(id string) string { return filepath.Join(s.Dir, id) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
