//go:build race

package tagging

// raceEnabled is true under -race, whose instrumentation (and sync.Pool dropping items at random) can allocate and
// so would make allocation counts meaningless.
const raceEnabled = true
