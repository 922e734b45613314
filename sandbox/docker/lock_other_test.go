//go:build windows

package docker_test

func lockDockerTests() func() { return func() {} }
