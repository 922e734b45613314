package docker

// SetBeforeNetworkCreate sets a function Deploy runs just before it
// creates the network (nil: none), for tests that cancel a deploy there.
func SetBeforeNetworkCreate(f func()) { beforeNetworkCreate = f }
