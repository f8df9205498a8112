//go:build race

package sim

// Under the race detector (CI's `go test -race ./...`) a history runs about
// eight times slower: the default seed sets shrink so the package stays
// well under a minute. Without -race they are 5,000 histories each.
const (
	defaultHistories = 1000
	defaultOracle    = 500
)
