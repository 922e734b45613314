package yamlnode

import (
	"errors"
	"strconv"
	"testing"
)

func parseOne(t *testing.T, src string) *Node {
	t.Helper()
	docs, probs, err := Parse([]byte(src), Options{MaxDepth: 8})
	if err != nil || len(probs) != 0 || len(docs) != 1 {
		t.Fatalf("Parse(%q) = %d docs, problems %v, err %v", src, len(docs), probs, err)
	}
	return docs[0]
}

// Keys and values carry their own 1-based line and column.
func TestPositions(t *testing.T) {
	src := "a: 1\nb:\n  - x\n  - \"y\"\nc:\nd: {e: true}\n"
	root := parseOne(t, src)
	tests := []struct {
		key            string
		keyAt, valueAt Pos
		kind           Kind
	}{
		{"a", Pos{1, 1}, Pos{1, 4}, Scalar},
		{"b", Pos{2, 1}, Pos{3, 3}, Seq},
		{"c", Pos{5, 1}, Pos{5, 3}, Null}, // no value: after its key
		{"d", Pos{6, 1}, Pos{6, 5}, Map},  // a mapping: its first key
	}
	for _, tt := range tests {
		k, v := root.Lookup(tt.key)
		if k == nil {
			t.Fatalf("Lookup(%q) found nothing", tt.key)
		}
		if k.At != tt.keyAt || v.At != tt.valueAt || v.Kind != tt.kind {
			t.Errorf("%s: key at %v, value at %v kind %v; want %v, %v, %v", tt.key, k.At, v.At, v.Kind, tt.keyAt, tt.valueAt, tt.kind)
		}
	}
	_, b := root.Lookup("b")
	if len(b.Items) != 2 || b.Items[1].At != (Pos{4, 5}) || b.Items[1].Text != "y" || !b.Items[1].Quoted || b.Items[0].Quoted {
		t.Errorf("items of b: %+v %+v", b.Items[0], b.Items[1])
	}
	if k, v := root.Lookup("missing"); k != nil || v != nil {
		t.Errorf("Lookup(missing) = %v, %v", k, v)
	}
	if k, _ := b.Lookup("x"); k != nil {
		t.Errorf("Lookup on a list found %v", k)
	}
}

func TestDescribe(t *testing.T) {
	clip := func(s string) string { return "<" + s + ">" }
	str := func(s string) string { return "text " + strconv.Quote(s) }
	tests := []struct{ src, want string }{
		{"v: {a: 1}", "a mapping"},
		{"v: [1]", "a list"},
		{"v:", "nothing"},
		{"v: null", "nothing"},
		{"v: 5", "the number <5>"},
		{"v: 2.5", "the number <2.5>"},
		{"v: .inf", "the number <.inf>"},
		{"v: true", "the boolean <true>"},
		{"v: 'hi'", `text "hi"`},
		{"v: hi there", `text "hi there"`},
		{"v: !!str 5", "the number <5>"}, // tags are dropped
	}
	for _, tt := range tests {
		_, v := parseOne(t, tt.src).Lookup("v")
		if got := v.Describe(clip, str); got != tt.want {
			t.Errorf("%q: Describe = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name, src string
		want      Problem
	}{
		// The parser refuses keys it sees twice; an alias key gets through.
		{"duplicate key", "x: &k a\n*k : 2\na: 3\n", Problem{Kind: DuplicateKey, At: Pos{3, 1}, Text: "a", First: Pos{1, 7}, Msg: `key "a" given twice (first at line 1)`}},
		{"unknown alias", "a: *nope\n", Problem{Kind: UnknownAlias, At: Pos{1, 4}, Text: "nope", Msg: "unknown alias *nope"}},
		{"merge key", "base: &b {x: 1}\nc:\n  <<: *b\n", Problem{Kind: MergeKey, At: Pos{3, 3}, Msg: "merge keys (<<) are not supported"}},
		{"too deep", "a: [[[[[[[[[1]]]]]]]]]\n", Problem{Kind: TooDeep, At: Pos{1, 12}, Msg: "nested more than 8 levels"}},
	}
	for _, tt := range tests {
		_, probs, err := Parse([]byte(tt.src), Options{MaxDepth: 8})
		if err != nil || len(probs) != 1 {
			t.Errorf("%s: problems %+v, err %v; want one", tt.name, probs, err)
			continue
		}
		if got := probs[0]; got.Kind != tt.want.Kind || got.At != tt.want.At || got.Text != tt.want.Text || got.First != tt.want.First || got.Msg != tt.want.Msg || got.Hint == "" {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
	// A null key drops its entry and names the key.
	docs, probs, _ := Parse([]byte("null: 1\nb: 2\n"), Options{MaxDepth: 8})
	if len(probs) != 1 || probs[0].Kind != KeyNotScalar || probs[0].At != (Pos{1, 1}) || probs[0].Node == nil || probs[0].Node.Kind != Null || probs[0].Msg != "a key must be a word, not nothing" {
		t.Errorf("null key: problems %+v", probs)
	} else if len(docs) != 1 || len(docs[0].Keys) != 1 || docs[0].Keys[0].Text != "b" {
		t.Errorf("null key: entries: %+v", docs)
	}
}

func TestDocuments(t *testing.T) {
	src := "a: &x 1\n---\nnull\n---\nb: *x\n" // the null document is left out
	docs, probs, err := Parse([]byte(src), Options{MaxDepth: 8})
	if err != nil || len(probs) != 0 || len(docs) != 2 {
		t.Fatalf("docs %d, problems %v, err %v", len(docs), probs, err)
	}
	if _, v := docs[1].Lookup("b"); v == nil || v.Text != "1" || v.At != (Pos{1, 7}) {
		t.Errorf("alias across documents: %+v", v)
	}
	// FirstOnly neither returns nor checks later documents.
	docs, probs, _ = Parse([]byte("a: 1\n---\nb: *nope\n"), Options{MaxDepth: 8, FirstOnly: true})
	if len(docs) != 1 || len(probs) != 0 {
		t.Errorf("FirstOnly: %d docs, problems %v", len(docs), probs)
	}
}

func TestSyntaxError(t *testing.T) {
	_, _, err := Parse([]byte("a: 1\nb: [1, 2\nc: 3\n"), Options{MaxDepth: 8})
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *SyntaxError", err)
	}
	if !se.FromParser || se.At.Line < 2 || se.At.Col == 0 || se.Msg == "" || se.Msg == se.Err.Error() {
		t.Errorf("SyntaxError %+v: want the parser's message and a place from line 2 on", se)
	}
	_, _, err = Parse([]byte("a: b: c\n"), Options{MaxDepth: 8})
	if !errors.As(err, &se) || se.At != (Pos{1, 4}) || se.Msg != "mapping value is not allowed in this context" {
		t.Errorf("a: b: c: %v at %+v, want 1:4", err, se)
	}
}
