package metrics

import (
	"regexp"
	"strings"
)

// SidecarSuffix ends the component name of a sidecar process (api_sidecar).
const SidecarSuffix = "_sidecar"

var versionSuffix = regexp.MustCompile(`^(.+)_v[0-9]+$`)

// MatchName reports whether component name is selected by selector, the
// value of a name= matcher. A selector selects the component of that exact
// name, and a service name without version selects all its versions:
// "payments" selects "payments", "payments_v1", "payments_v2". Sidecars are
// components of their own: "payments" does not select "payments_sidecar",
// while "payments_sidecar" selects "payments_sidecar",
// "payments_v1_sidecar" and "payments_v2_sidecar" by the same rule.
func MatchName(selector, name string) bool {
	sideSel, sideName := strings.HasSuffix(selector, SidecarSuffix), strings.HasSuffix(name, SidecarSuffix)
	if sideSel != sideName {
		return false
	}
	if sideSel {
		selector, name = strings.TrimSuffix(selector, SidecarSuffix), strings.TrimSuffix(name, SidecarSuffix)
	}
	return name == selector || strings.HasPrefix(name, selector+"_")
}

// ServiceOf returns the service a component belongs to: the name without
// its _vN version suffix ("currency_v1" → "currency"); a name without a
// version is its own service.
func ServiceOf(name string) string {
	if m := versionSuffix.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return name
}
