//go:build !race

package ratelimit

// raceEnabled is true under -race, whose instrumentation can allocate and
// so would make allocation counts meaningless.
const raceEnabled = false
