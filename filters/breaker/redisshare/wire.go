package redisshare

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/loopguard/loopguard/filters/breaker"
)

// wireVersion is the version of the stored and published breaker record.
const wireVersion = 1

// maxEnumScan bounds the search for a state or reason by name; the breaker
// package has far fewer of each.
const maxEnumScan = 64

// wire is one breaker's shared state, stored (while open) and published (on
// every change) as JSON. Names, not numbers, carry the state and reason so
// that replicas of different versions agree.
type wire struct {
	V        int    `json:"v"`
	Origin   string `json:"o"`           // Share instance that published it
	Provider string `json:"p"`           // breaker.Key.Provider
	Account  string `json:"a"`           // breaker.Key.Account
	State    string `json:"s"`           // breaker.State.String()
	Reason   string `json:"r,omitempty"` // breaker.Reason.String()
	Detail   string `json:"d,omitempty"`
	Until    int64  `json:"u,omitempty"` // OpenUntil, Unix ns
	Since    int64  `json:"t,omitempty"` // Since, Unix ns
}

func encodeWire(st breaker.Status, origin string) ([]byte, error) {
	w := wire{
		V: wireVersion, Origin: origin,
		Provider: st.Key.Provider, Account: st.Key.Account,
		State: st.State.String(), Reason: st.Reason.String(), Detail: st.Detail,
		Until: unixNano(st.OpenUntil), Since: unixNano(st.Since),
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode breaker record: %w", err)
	}
	return b, nil
}

func decodeWire(b []byte) (wire, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return wire{}, fmt.Errorf("decode breaker record: %w", err)
	}
	if w.V != wireVersion {
		return wire{}, fmt.Errorf("decode breaker record: version %d, want %d", w.V, wireVersion)
	}
	if _, ok := parseState(w.State); !ok || (w.State == breaker.Open.String() && w.Until == 0) {
		return wire{}, errors.New("decode breaker record: bad state or missing open_until")
	}
	return w, nil
}

// status is the breaker.Status a remote record stands for. Quota and rate
// fields are not shared (each replica reads the upstream's quota headers
// itself) and read as unknown.
func (w wire) status() breaker.Status {
	st, _ := parseState(w.State)
	return breaker.Status{
		Key:          w.key(),
		State:        st,
		Reason:       parseReason(w.Reason),
		Detail:       w.Detail,
		Limit:        breaker.Unknown,
		Remaining:    breaker.Unknown,
		UsedFraction: -1,
		OpenUntil:    fromNano(w.Until),
		Since:        fromNano(w.Since),
	}
}

func (w wire) key() breaker.Key { return breaker.Key{Provider: w.Provider, Account: w.Account} }

// parseState maps a State name back to the State.
func parseState(s string) (breaker.State, bool) {
	for st := range breaker.State(maxEnumScan) {
		if st.String() == s {
			return st, true
		}
	}
	return breaker.Closed, false
}

// parseReason maps a Reason name back to the Reason; an unknown name (a
// newer replica's reason) reads as Manual, which keeps the breaker open.
func parseReason(s string) breaker.Reason {
	for r := range breaker.Reason(maxEnumScan) {
		if r.String() == s {
			return r
		}
	}
	return breaker.Manual
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
