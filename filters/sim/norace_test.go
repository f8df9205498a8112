//go:build !race

package sim

// The default seed sets (see race_test.go for the -race build).
const (
	defaultHistories = 5000
	defaultOracle    = 5000
	defaultRedis     = 200
)
