// Package kubename turns scenario names into Kubernetes object names, the
// one rule plugins/meshconfig, plugins/kubemesh and the kind platform
// share so their objects meet ("currency_v1" → "currency-v1").
package kubename

import "strings"

// Name is s as an RFC 1123 label: lower case, every character outside
// [a-z0-9-] becomes '-', no leading or trailing '-'
// (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
// Label values may keep '_', so pods still carry the scenario's own names.
func Name(s string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('-')
		}
	}
	return strings.Trim(sb.String(), "-")
}
