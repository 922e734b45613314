// Package images builds, lists, saves and loads the container images the
// Docker platform runs: meshgym's own sample app and sidecar, built locally
// FROM scratch out of the lean static executables meshgym-app and
// meshgym-sidecar (no registry needed), tagged with meshgym's version, and
// the optional upstream fake-service image. It talks to the Docker Engine API
// through the moby client it is given and knows nothing of topologies.
package images

import (
	"strings"

	"meshgym/internal/version"
)

// Repository names of meshgym's own images.
const (
	AppRepo     = "meshgym/sample-app"
	SidecarRepo = "meshgym/sidecar"
)

// Upstream is the upstream fake-service image (Nic Jackson's, the book's
// sample app), the optional app image of `--image-source upstream`
// (https://github.com/nicholasjackson/fake-service, release v0.26.2).
const Upstream = "nicholasjackson/fake-service:v0.26.2"

// Label keys set on meshgym's images (containers made from them inherit
// them, which is harmless).
const (
	// LabelImage marks an image meshgym built; the value is the
	// component ("app" or "sidecar").
	LabelImage = "dev.meshgym.image"
	// LabelExeSHA256 is the hex SHA-256 of the executable inside: an image
	// whose label differs from the executable on disk is rebuilt.
	LabelExeSHA256 = "dev.meshgym.exe-sha256"
)

// Tag is the image tag for meshgym's version: the version without a leading
// "v" and with characters Docker does not allow in tags replaced by "-"
// ("v0.4.0-dev" → "0.4.0-dev", "dev" → "dev").
func Tag() string {
	v := strings.TrimPrefix(version.Version, "v")
	var b strings.Builder
	for i, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' ||
			(i > 0 && (r == '.' || r == '-'))
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	t := b.String()
	if t == "" {
		t = "dev"
	}
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

// Refs returns the references of meshgym's own images for this version,
// e.g. "meshgym/sample-app:0.4.0-dev" and "meshgym/sidecar:0.4.0-dev".
func Refs() (app, sidecar string) {
	t := Tag()
	return AppRepo + ":" + t, SidecarRepo + ":" + t
}
