// Package clocktest gives tests a clock they drive, so that nothing waits
// for time to pass: a breaker's cool-down, a quarantine, a TTL, a replay
// backoff or a dead-letter age is reached by Advance, not by sleeping.
//
// Hand Clock.Now to whatever takes a clock (proxy.WithClock,
// filters.Options.Now, breaker.New, spool.ReplayOptions.Now, …). Two kinds:
//
//   - Frozen: time stands still until Advance. Use it whenever everything
//     that reads time reads this clock.
//   - Running: runs with the wall clock from a given start, plus whatever
//     Advance added. Use it when a part keeps time with a timer or outside
//     the process — Redis expires keys (PXAT) on its own clock, so a shared
//     breaker record written from a frozen clock that fell behind would
//     vanish early — or when a loop must see time pass by itself (a retry
//     backoff of a few milliseconds).
//
// Timers and sockets still run on the wall clock: after Advance, wake what
// sleeps on a timer (e.g. spool.Replayer.Kick) instead of waiting for it.
package clocktest

import (
	"sync"
	"time"
)

// Epoch is where Frozen clocks of tests that do not care start: a fixed
// instant, so failures reproduce.
var Epoch = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// Clock is a test clock; safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	base    time.Time // Frozen: the current time; Running: the time at start
	start   time.Time // Running: the wall clock (monotonic) at start
	running bool
}

// Frozen returns a clock standing at t until Advance.
func Frozen(t time.Time) *Clock { return &Clock{base: t} }

// Running returns a clock that starts at t and runs with the wall clock;
// Advance jumps it ahead. Running(time.Now()) is the wall clock plus
// Advance.
func Running(t time.Time) *Clock {
	return &Clock{base: t.Round(0), start: time.Now(), running: true}
}

// Now returns the clock's time (a method value, c.Now, is a clock func).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return c.base.Add(time.Since(c.start))
	}
	return c.base
}

// Advance moves the clock ahead by d (d < 0 is ignored: time does not go
// back).
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.base = c.base.Add(d)
	c.mu.Unlock()
}
