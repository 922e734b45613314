package images

import (
	"strings"
	"testing"

	"meshgym/internal/version"
)

func TestRefsTag(t *testing.T) {
	old := version.Version
	defer func() { version.Version = old }()
	for _, tc := range []struct{ version, tag string }{
		{"v0.4.0-dev", "0.4.0-dev"},
		{"dev", "dev"},
		{"v1.2.3+meta", "1.2.3-meta"},
		{"", "dev"},
	} {
		version.Version = tc.version
		app, sc := Refs()
		if app != AppRepo+":"+tc.tag || sc != SidecarRepo+":"+tc.tag {
			t.Errorf("version %q: Refs() = %s, %s; want tag %s", tc.version, app, sc, tc.tag)
		}
	}
	version.Version = strings.Repeat("x", 200)
	if len(Tag()) != 128 {
		t.Errorf("a 200-character version gives a %d-character tag; Docker allows 128", len(Tag()))
	}
}
