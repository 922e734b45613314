package common

import (
	"fmt"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
)

// Keys are every key binding of the TUI. Views enable the ones valid at
// the moment (key.Binding.SetEnabled) so the help bar shows only those.
type Keys struct {
	Up, Down, Open, Quit, ForceQuit, Help, Back   key.Binding
	Next, Prev, Choose, Run, Hint, Solve, Observe key.Binding
	KnobUp, KnobDown, KnobLess, KnobMore, Reset   key.Binding
	Yes, No, ScrollUp, ScrollDown                 key.Binding
	Stop                                          key.Binding
}

// DefaultKeys are the TUI's bindings (the key map).
func DefaultKeys() Keys {
	return Keys{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Open:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Quit:       key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit:  key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
		Back:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "labs")),
		Next:       key.NewBinding(key.WithKeys("n", "right"), key.WithHelp("n/→", "next")),
		Prev:       key.NewBinding(key.WithKeys("p", "left"), key.WithHelp("p/←", "back")),
		Choose:     key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1–9", "answer")),
		Run:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run")),
		Hint:       key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "hint")),
		Solve:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "solution")),
		Observe:    key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "before/after")),
		KnobUp:     key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "knob")),
		KnobDown:   key.NewBinding(key.WithKeys("down"), key.WithHelp("↓", "next knob")),
		KnobLess:   key.NewBinding(key.WithKeys("left", "-"), key.WithHelp("←/→", "value")),
		KnobMore:   key.NewBinding(key.WithKeys("right", "+", "="), key.WithHelp("→/+", "raise value")),
		Reset:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reset lab")),
		Yes:        key.NewBinding(key.WithKeys("y", "enter"), key.WithHelp("y", "yes")),
		No:         key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "no")),
		ScrollUp:   key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup/pgdn", "scroll")),
		ScrollDown: key.NewBinding(key.WithKeys("pgdown", " ", "f"), key.WithHelp("pgdn", "scroll down")),
		Stop:       key.NewBinding(key.WithKeys("esc", "ctrl+c"), key.WithHelp("esc", "stop the run")),
	}
}

// HelpMap is a help.KeyMap over a fixed list of bindings: the short help
// is the list, the full help splits it into columns of four. Disabled
// bindings are left out by bubbles/help.
type HelpMap []key.Binding

// ShortHelp implements help.KeyMap.
func (h HelpMap) ShortHelp() []key.Binding { return h }

// FullHelp implements help.KeyMap.
func (h HelpMap) FullHelp() [][]key.Binding {
	var out [][]key.Binding
	var col []key.Binding
	for _, b := range h {
		if !b.Enabled() {
			continue
		}
		col = append(col, b)
		if len(col) == 4 {
			out = append(out, col)
			col = nil
		}
	}
	if len(col) > 0 {
		out = append(out, col)
	}
	return out
}

// On returns b enabled or disabled (bindings are values, so a view can
// build the help it needs now without changing the shared key map).
func On(b key.Binding, on bool) key.Binding {
	b.SetEnabled(on)
	return b
}

// HelpView renders the help bar of km: the full help when h.ShowAll,
// else one line of the enabled keys that fit h.Width, ending in "…" when
// some were left out. (bubbles/help v1.0.0 overflows the width when its
// ellipsis does not fit, so the line is cut here.)
func HelpView(h help.Model, km HelpMap) string {
	if h.ShowAll {
		return h.FullHelpView(km.FullHelp())
	}
	var bs []key.Binding
	for _, b := range km {
		if b.Enabled() {
			bs = append(bs, b)
		}
	}
	w := h.Width
	h.Width = 0
	for n := len(bs); n > 0; n-- {
		s := h.ShortHelpView(bs[:n])
		if n < len(bs) {
			s += " …"
		}
		if w <= 0 || lipgloss.Width(s) <= w {
			return s
		}
	}
	return ""
}

// HelpKey is the ? binding as the help bar shows it: "? more keys" while
// the short help shows, "? close help" while the full help is open.
func HelpKey(open bool) key.Binding {
	if open {
		return key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "close help"))
	}
	return key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys"))
}

// ChooseKey is the answer binding of a predict step with n choices:
// "1–5 answer" (digits above n are not bound).
func ChooseKey(n int) key.Binding {
	n = min(max(n, 1), 9)
	var ks []string
	for i := 1; i <= n; i++ {
		ks = append(ks, string(rune('0'+i)))
	}
	return key.NewBinding(key.WithKeys(ks...), key.WithHelp(fmt.Sprintf("1–%d", n), "answer"))
}
