//go:build race

package sim

// Under the race detector (CI's `go test -race ./...`) a history runs about
// eight times slower: the default seed sets shrink to keep the package near
// a minute. Without -race they are 5,000, 5,000 and 200.
const (
	defaultHistories = 500
	defaultOracle    = 500
	defaultRedis     = 100
)
