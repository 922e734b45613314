package results

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/scenarios"
	"meshgym/verdict"
)

// run builds a finished run of a built-in scenario; errRate is the share
// (0–1) of 500s the client saw in the after phase, so the verdicts differ.
func run(t *testing.T, scenario string, started time.Time, errRate float64) *engine.Result {
	t.Helper()
	sc, err := scenarios.Builtin(scenario)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Conditions) > 2 {
		// The payments conditions only: 100% 200s, 0% others.
		sc.Conditions = sc.Conditions[:2]
	}
	phase := func(name string, errs int64) *engine.PhaseResult {
		cv := load.ClientView{Count: 1000, Errors: errs, StatusCodes: map[int]int64{200: 1000 - errs, 500: errs},
			MinS: 0.001, MaxS: 0.05, MeanS: 0.004, P50S: 0.003, P90S: 0.006, P99S: 0.02, P999S: 0.04,
			ActualRPS: 50, PlannedRPS: 50, DurationS: 20, LatencyFrom: load.LatencyFromActualStart}
		snap := &metrics.Snapshot{Client: cv, Requests: []metrics.RequestCount{
			{Name: "payments", StatusCode: 200, Attempt: 1, Count: float64(1000 - errs)},
			{Name: "payments", StatusCode: 500, Attempt: 1, Count: float64(errs)},
		}}
		return &engine.PhaseResult{Name: name, Pattern: "off", Started: started, Ended: started.Add(20 * time.Second),
			Load: &load.Result{Client: cv}, Snapshot: snap}
	}
	res := &engine.Result{Scenario: sc, Source: sc.Source, Platform: "local", Mesh: "builtin", Profile: "istio@1.27", Seed: 7}
	res.Before = phase(engine.PhaseBefore, 250)
	res.After = phase(engine.PhaseAfter, int64(errRate*1000))
	res.Verdicts = verdict.EvaluateAll(sc.Conditions, res.Before.Snapshot, res.After.Snapshot)
	res.Passed = true
	for _, v := range res.Verdicts {
		if v.Status == verdict.Fail {
			res.Passed = false
		}
	}
	return res
}

// write stores res as engine.Run does (indented JSON in <dir>/<id>/result.json).
func write(t *testing.T, dir, id string, res *engine.Result) {
	t.Helper()
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeRaw(t, dir, id, b)
}

func writeRaw(t *testing.T, dir, id string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
		t.Fatal(err)
	}
	if data != nil {
		if err := os.WriteFile(filepath.Join(dir, id, ResultFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var t0 = time.Date(2026, 11, 29, 14, 5, 38, 0, time.UTC)

// store holds three good runs, a crashed one (no result.json), a broken
// one (truncated JSON), an empty file and a stray file.
func store(t *testing.T) *Store {
	dir := t.TempDir()
	write(t, dir, "20261129-140538-retries", run(t, "retries", t0, 0))
	write(t, dir, "20261129-150000-retries", run(t, "retries", t0.Add(time.Hour), 0.3))
	write(t, dir, "20261130-090000-canary", run(t, "canary", t0.Add(19*time.Hour), 0))
	writeRaw(t, dir, "20261130-100000-crashed", nil)
	writeRaw(t, dir, "20261130-110000-broken", []byte(`{"scenario": {"name": "ret`))
	writeRaw(t, dir, "20261130-120000-empty", []byte("\n"))
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Open(dir)
}

func TestListNewestFirstAndSkipsBrokenRuns(t *testing.T) {
	s := store(t)
	sums, skipped, err := s.Scan()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range sums {
		ids = append(ids, x.ID)
	}
	want := []string{"20261130-090000-canary", "20261129-150000-retries", "20261129-140538-retries"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	first := sums[2]
	if first.Scenario != "retries" || first.Mesh != "builtin" || first.Profile != "istio@1.27" || first.Platform != "local" ||
		!first.Started.Equal(t0) || first.Dir != filepath.Join(s.Dir, first.ID) {
		t.Errorf("summary = %+v", first)
	}
	if !first.Passed || first.Outcome() != "PASS" || first.Pass != 2 || first.Fail != 0 {
		t.Errorf("passing run: %+v", first)
	}
	failing := sums[1]
	if failing.Passed || failing.Outcome() != "FAIL" || failing.Fail != 2 || failing.Pass != 0 {
		t.Errorf("failing run: %+v", failing)
	}
	if got := failing.Pass + failing.Fail + failing.Warn; got != len(run(t, "retries", t0, 0).Verdicts) {
		t.Errorf("verdict counts add up to %d", got)
	}
	reasons := map[string]string{}
	for _, sk := range skipped {
		reasons[sk.ID] = sk.Reason
	}
	for id, want := range map[string]string{
		"20261130-100000-crashed": "no result.json",
		"20261130-110000-broken":  "not a meshgym result",
		"20261130-120000-empty":   "is empty",
	} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("skipped[%s] = %q, want it to mention %q", id, reasons[id], want)
		}
	}
	if len(skipped) != 3 {
		t.Errorf("skipped = %v", skipped)
	}
	plain, err := s.List()
	if err != nil || len(plain) != 3 {
		t.Errorf("List = %d runs, %v", len(plain), err)
	}
}

func TestListMissingDirIsEmpty(t *testing.T) {
	sums, err := Open(filepath.Join(t.TempDir(), "nope")).List()
	if err != nil || len(sums) != 0 {
		t.Fatalf("List = %v, %v", sums, err)
	}
	_, err = Open(filepath.Join(t.TempDir(), "nope")).Load("last")
	var re *RefError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "holds no runs") {
		t.Fatalf("Load(last) on empty store: %v", err)
	}
}

func TestListStartedFromIDWhenNoPhase(t *testing.T) {
	dir := t.TempDir()
	res := run(t, "retries", t0, 0)
	res.Before, res.After, res.Verdicts = nil, nil, nil
	res.Error = "deploy: currency_v1 exited"
	write(t, dir, "20261201-080910-retries", res)
	sums, err := Open(dir).List()
	if err != nil || len(sums) != 1 {
		t.Fatal(sums, err)
	}
	want := time.Date(2026, 12, 1, 8, 9, 10, 0, time.Local)
	if !sums[0].Started.Equal(want) || sums[0].Outcome() != "ERROR" || sums[0].Error != res.Error {
		t.Errorf("summary = %+v", sums[0])
	}
}

func TestOpenDefaults(t *testing.T) {
	t.Setenv(EnvDir, "")
	if got := Open("").Dir; got != filepath.FromSlash(DefaultDir) {
		t.Errorf("Open(\"\").Dir = %q", got)
	}
	t.Setenv(EnvDir, "/tmp/elsewhere")
	if got := Open("").Dir; got != "/tmp/elsewhere" {
		t.Errorf("with $%s: %q", EnvDir, got)
	}
	if got := Open("x").Dir; got != "x" {
		t.Errorf("Open(x).Dir = %q", got)
	}
}

func TestLoad(t *testing.T) {
	s := store(t)
	orig := run(t, "retries", t0.Add(time.Hour), 0.3)
	tests := []struct {
		name, ref, wantID string
		wantErr           string // substring; "" = success
		ambiguous         bool
	}{
		{name: "exact id", ref: "20261129-150000-retries", wantID: "20261129-150000-retries"},
		{name: "unique prefix", ref: "20261130-09", wantID: "20261130-090000-canary"},
		{name: "last is newest readable", ref: "last", wantID: "20261130-090000-canary"},
		{name: "ambiguous prefix", ref: "20261129-1", wantErr: `run "20261129-1" is ambiguous: it matches 20261129-150000-retries, 20261129-140538-retries`, ambiguous: true},
		{name: "unknown", ref: "2025", wantErr: `no run "2025" in ` + s.Dir + `; recent runs: 20261130-120000-empty, 20261130-110000-broken`},
		{name: "empty", ref: "", wantErr: `no run ""`},
		{name: "path escape", ref: "../x", wantErr: `no run "../x"`},
		{name: "crashed run", ref: "20261130-100000-crashed", wantErr: filepath.Join(s.Dir, "20261130-100000-crashed") + ": no result.json"},
		{name: "broken run", ref: "20261130-11", wantErr: filepath.Join(s.Dir, "20261130-110000-broken") + ": result.json is not a meshgym result"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Load(tc.ref)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				var re *RefError
				if errors.As(err, &re) && re.Ambiguous != tc.ambiguous {
					t.Errorf("Ambiguous = %v", re.Ambiguous)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.ID != tc.wantID {
				t.Errorf("ID = %q, want %q", res.ID, tc.wantID)
			}
		})
	}
	// The loaded result is the stored one: same verdicts, phases and counts.
	got, err := s.Load("20261129-150000-retries")
	if err != nil {
		t.Fatal(err)
	}
	if got.Passed != orig.Passed || len(got.Verdicts) != len(orig.Verdicts) || got.Seed != 7 ||
		got.After.Load.Client.StatusCodes[500] != 300 || got.Scenario.Name != "retries" || got.Scenario.Source != orig.Source {
		t.Errorf("loaded result differs: passed=%v verdicts=%d seed=%d 500s=%d", got.Passed, len(got.Verdicts), got.Seed, got.After.Load.Client.StatusCodes[500])
	}
	for i := range got.Verdicts {
		if got.Verdicts[i].Status != orig.Verdicts[i].Status || got.Verdicts[i].Condition.Text != orig.Verdicts[i].Condition.Text {
			t.Errorf("verdict %d: %+v, want %+v", i, got.Verdicts[i], orig.Verdicts[i])
		}
	}
}

func TestRefErrorListsAtMostEightCandidates(t *testing.T) {
	dir := t.TempDir()
	res := run(t, "retries", t0, 0)
	for i := 0; i < 11; i++ {
		write(t, dir, "20261129-1400"+string(rune('a'+i))+"-retries", res)
	}
	_, err := Open(dir).Resolve("20261129")
	var re *RefError
	if !errors.As(err, &re) || len(re.Candidates) != maxCandidates || re.More != 3 || !strings.Contains(err.Error(), "and 3 more") {
		t.Fatalf("err = %v (%+v)", err, re)
	}
}

// TestNotAResult: valid JSON that is not a meshgym result is skipped by
// Scan and a one-line *LoadError from Load, never a Result with a nil
// Scenario; unreadable files are the same.
func TestNotAResult(t *testing.T) {
	const noScenario = "result.json is not a meshgym result (no scenario recorded)"
	tests := []struct {
		name string
		data string // "" with dir: result.json is a directory
		dir  bool
		want string // the whole reason
		// prefix: want is only the start of the reason
		prefix bool
	}{
		{name: "null", data: "null", want: noScenario},
		{name: "null with spaces", data: "  null\n", want: noScenario},
		{name: "empty object", data: "{}", want: noScenario},
		{name: "no scenario", data: `{"platform": "local", "passed": true, "run_dir": "x"}`, want: noScenario},
		{name: "null scenario", data: `{"scenario": null, "passed": true}`, want: noScenario},
		{name: "scenario without name", data: `{"scenario": {}}`, want: noScenario},
		{name: "array", data: `[{"scenario": {"name": "retries"}}]`, want: "result.json is not a meshgym result (a JSON array, not an object)"},
		{name: "number", data: `42`, want: "result.json is not a meshgym result (a JSON scalar, not an object)"},
		{name: "string", data: `"retries"`, want: "result.json is not a meshgym result (a JSON scalar, not an object)"},
		{name: "not json", data: "hello", want: "result.json is not a meshgym result: invalid character 'h' looking for beginning of value"},
		{name: "scenario is a string", data: `{"scenario": "retries"}`, want: "result.json is not a meshgym result: json: cannot unmarshal string into Go struct field", prefix: true},
		{name: "empty", data: "", want: "result.json is empty (the run was cut off while writing it)"},
		{name: "directory", dir: true, want: "result.json is a directory, not a file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const id = "20261201-080910-x"
			if tc.dir {
				if err := os.MkdirAll(filepath.Join(dir, id, ResultFile), 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				writeRaw(t, dir, id, []byte(tc.data))
			}
			s := Open(dir)
			sums, skipped, err := s.Scan()
			if err != nil || len(sums) != 0 || len(skipped) != 1 || skipped[0].ID != id {
				t.Fatalf("Scan = %+v, %+v, %v; want the run skipped", sums, skipped, err)
			}
			if got := skipped[0].Reason; got != tc.want && !(tc.prefix && strings.HasPrefix(got, tc.want)) {
				t.Errorf("skipped reason = %q, want %q", got, tc.want)
			}
			res, err := s.Load(id)
			var le *LoadError
			if !errors.As(err, &le) || res != nil {
				t.Fatalf("Load = %v, %v; want a *LoadError", res, err)
			}
			if want := filepath.Join(dir, id) + ": " + tc.want; err.Error() != want && !(tc.prefix && strings.HasPrefix(err.Error(), want)) {
				t.Errorf("Load err = %q, want %q", err, want)
			}
			// last skips it: the store holds no readable run.
			var re *RefError
			if _, err := s.Load(Last); !errors.As(err, &re) || re.Unreadable != 1 ||
				err.Error() != `no run "last": `+dir+` holds no readable runs (1 skipped; 'meshgym results list' says why)` {
				t.Errorf("Load(last) = %v, want a *RefError", err)
			}
		})
	}
}

// TestFIFONotOpened: a named pipe called result.json is refused without
// opening it (opening would block until a writer came).
func TestFIFONotOpened(t *testing.T) {
	dir := t.TempDir()
	const id = "20261201-080910-x"
	if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, id, ResultFile), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	_, skipped, err := Open(dir).Scan()
	if err != nil || len(skipped) != 1 || !strings.Contains(skipped[0].Reason, "result.json is not a regular file") {
		t.Fatalf("Scan: skipped = %+v, %v", skipped, err)
	}
}

func TestTooLarge(t *testing.T) {
	dir := t.TempDir()
	good := run(t, "retries", t0, 0)
	write(t, dir, "20261129-140538-retries", good)
	b, err := os.ReadFile(filepath.Join(dir, "20261129-140538-retries", ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	big := run(t, "retries", t0.Add(time.Hour), 0)
	big.Scenario.Name = strings.Repeat("n", 3*len(b))
	write(t, dir, "20261129-150000-big", big)

	defer func(n int64) { maxResultBytes = n }(maxResultBytes)
	maxResultBytes = int64(2 * len(b)) // the good run fits, the big one does not
	s := Open(dir)
	sums, skipped, err := s.Scan()
	if err != nil || len(sums) != 1 || sums[0].ID != "20261129-140538-retries" {
		t.Fatalf("Scan = %+v, %v", sums, err)
	}
	if len(skipped) != 1 || skipped[0].ID != "20261129-150000-big" ||
		!strings.HasPrefix(skipped[0].Reason, "result.json is too large (") || !strings.HasSuffix(skipped[0].Reason, "; the limit is "+sizeText(maxResultBytes)+")") {
		t.Fatalf("skipped = %+v", skipped)
	}
	_, err = s.Load("20261129-150000-big")
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "result.json is too large") {
		t.Fatalf("Load = %v", err)
	}
	if _, err := s.Load("last"); err != nil {
		t.Errorf("Load(last) = %v; the big run should be skipped, not fatal", err)
	}

	for n, want := range map[int64]string{12: "12 bytes", 2048: "2 KB", 64 << 20: "64 MB", 200<<20 + 5: "200 MB"} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBadStoreDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		file: "results directory " + file + ": not a directory",
		loop: "results directory " + loop + ": too many levels of symbolic links",
	} {
		s := Open(path)
		for name, call := range map[string]func() error{
			"List":      func() error { _, err := s.List(); return err },
			"Load":      func() error { _, err := s.Load("2026"); return err },
			"Load last": func() error { _, err := s.Load(Last); return err },
		} {
			err := call()
			var de *DirError
			if !errors.As(err, &de) || err.Error() != want {
				t.Errorf("%s(%s) = %v, want *DirError %q", name, path, err, want)
			}
		}
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		s    Summary
		want string
	}{
		{Summary{Passed: true}, "PASS"},
		{Summary{}, "FAIL"},
		{Summary{Error: "interrupted (interrupt signal received); everything meshgym started was stopped"}, "STOPPED"},
		{Summary{Error: "component currency_v2-0 (pid 7) exited: signal: killed"}, "ERROR"},
	} {
		if got := tc.s.Outcome(); got != tc.want {
			t.Errorf("Outcome(%q, passed %v) = %s, want %s", tc.s.Error, tc.s.Passed, got, tc.want)
		}
	}
}
