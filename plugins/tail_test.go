package plugins

import (
	"bytes"
	"strings"
	"testing"
)

func TestOutputTailSummary(t *testing.T) {
	long := strings.Repeat("é", 250)
	tests := []struct {
		name   string
		writes []string // to the "stderr" stream
		want   string
	}{
		{"nothing", nil, ""},
		{"last non-empty line", []string{"one\ntwo\n\n  \n"}, "two"},
		{"a last line without newline counts", []string{"one\ntw", "o-partial"}, "two-partial"},
		{"first panic line wins", []string{"log\npanic: first\n\ngoroutine 1 [running]:\npanic: second\nmain.main()\n"}, "panic: first"},
		{"fatal error", []string{"fatal error: concurrent map writes\n\ngoroutine 7\n"}, "fatal error: concurrent map writes"},
		{"truncated to 200 runes", []string{long + "\n"}, strings.Repeat("é", 200) + "…"},
		{"control characters flattened", []string{"a\tb\x1b[31mred\r\n"}, "a b [31mred"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newOutputTail("p", nil)
			w := tl.stream("stderr")
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := tl.summary(); got != tt.want {
				t.Errorf("summary = %q, want %q", got, tt.want)
			}
		})
	}
}

// The tail keeps about the last 8 KB, but the first panic line for good;
// streams assemble lines separately; out gets each line prefixed.
func TestOutputTailBoundsAndStreams(t *testing.T) {
	var out bytes.Buffer
	tl := newOutputTail("evil", &out)
	errw, outw := tl.stream("stderr"), tl.stream("stdout")
	_, _ = errw.Write([]byte("panic: early\n"))
	for i := 0; i < 2000; i++ {
		_, _ = errw.Write([]byte("spam spam spam spam\n"))
	}
	if kept := len(tl.String()); kept > tailBytes || kept < tailBytes-100 {
		t.Errorf("kept %d bytes, want about %d", kept, tailBytes)
	}
	if strings.Contains(tl.String(), "panic: early") {
		t.Error("the first line should have been dropped from the tail")
	}
	if got := tl.summary(); got != "panic: early" {
		t.Errorf("summary = %q, want the first panic line", got)
	}
	_, _ = errw.Write([]byte("half of a "))
	_, _ = outw.Write([]byte("stdout line\n"))
	_, _ = errw.Write([]byte("stderr line\n"))
	if !strings.HasSuffix(out.String(), "[plugin evil] stdout line\n[plugin evil] half of a stderr line\n") {
		t.Errorf("out ends with %q", out.String()[max(0, out.Len()-120):])
	}
	// A line longer than tailLineBytes is cut, not kept whole.
	_, _ = errw.Write([]byte(strings.Repeat("x", 3*tailLineBytes) + "\n"))
	lines := strings.Split(tl.String(), "\n")
	if last := lines[len(lines)-1]; len(last) != tailLineBytes {
		t.Errorf("long line kept as %d bytes, want %d", len(last), tailLineBytes)
	}
}
