//go:build unix

package plugins

// ProcAlive is procAlive for the external tests (package plugins_test).
var ProcAlive = procAlive
