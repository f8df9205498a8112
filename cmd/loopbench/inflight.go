package main

import "time"

// inflightSettle is how long after a case loopguard may take to give back
// the body bytes of its last requests.
const (
	inflightSettle = 2 * time.Second
	inflightPoll   = 20 * time.Millisecond
)

// idleInflight is loopguard_inflight_body_bytes once a case's requests are
// all answered: it waits (up to inflightSettle) for it to reach zero and
// returns what is still reserved then. A value above zero is a reservation
// never given back: limits.max_inflight_body_bytes is process-wide, so
// such bytes pile up until every request with a body is answered 503.
func idleInflight(lg *sidecar) (float64, error) {
	deadline := time.Now().Add(inflightSettle)
	for {
		sc, err := lg.scrape()
		if err != nil || sc.inflight <= 0 || time.Now().After(deadline) {
			return sc.inflight, err
		}
		time.Sleep(inflightPoll)
	}
}
