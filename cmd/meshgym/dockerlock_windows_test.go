//go:build windows

package main

func lockDockerTests() func() { return func() {} }
