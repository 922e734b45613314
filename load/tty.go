package load

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// TTYProgress returns a Spec.Progress function that writes one line per
// update to w. When w is a terminal the line is rewritten in place with a
// carriage return and ends with a newline on the last update; otherwise
// each update is its own line (for logs and CI).
func TTYProgress(w io.Writer) func(Progress) {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return func(p Progress) {
		line := FormatProgress(p)
		switch {
		case tty && p.Done:
			fmt.Fprintf(w, "\r\x1b[K%s\n", line)
		case tty:
			fmt.Fprintf(w, "\r\x1b[K%s", line)
		default:
			fmt.Fprintln(w, line)
		}
	}
}

// FormatProgress renders p as one line, e.g.
// "load  12s/30s  1201 req  3 err  100.1 req/s".
func FormatProgress(p Progress) string {
	state := ""
	if p.Done {
		state = "  done"
	}
	return fmt.Sprintf("load %5s/%s  %d req  %d err  %.1f req/s%s",
		p.Elapsed.Truncate(time.Second), p.Total, p.Requests, p.Errors, p.RPS, state)
}
