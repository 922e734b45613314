//go:build !unix

package dockerlock

// Lock is a no-op on platforms without flock(2) (Windows, plan9, js, wasip1):
// it returns at once, and the returned unlock does nothing.
func Lock() (unlock func()) { return func() {} }
