// Package version holds meshgym's version, set at build time with
// -ldflags "-X meshgym/internal/version.Version=v0.1.0".
package version

import "runtime/debug"

// Version is the release version; "dev" for builds from a checkout.
var Version = "dev"

// String returns the version plus the VCS revision when the binary carries one.
func String() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}
