package kind

import "time"

// SetPlatformPollsForTest shortens the platform's poll intervals (died
// watch, teardown wait, summary cache) and returns a restore func.
func SetPlatformPollsForTest(died, gone, ttl time.Duration) (restore func()) {
	d, g, s := diedPoll, gonePoll, summaryTTL
	diedPoll, gonePoll, summaryTTL = died, gone, ttl
	return func() { diedPoll, gonePoll, summaryTTL = d, g, s }
}
