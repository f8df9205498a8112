package sim

import (
	"net/http"
	"net/url"
	"time"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ratelimit"
)

// The outbound side of the adapter: what proxy/write.go, write_batch.go
// and quota.go do around each of the app's calls to the provider's API —
// the guard learns the account, the account's breaker admits the call (a
// half-open breaker lets one probe through), a write is tagged and refused
// while its record is quarantined; the answer is fed to the breaker (the
// probe's success closes it) and a 2xx write is recorded and told to the
// guard.

// outCall is one call's state between write and wrote (proxy's outCall).
type outCall struct {
	key   breaker.Key
	probe bool
	write *filters.Write // a matched write (nil: a read, or a batch)
	multi *filters.Multi // a batch write
}

// admit is quota.admit: a write (a read too, with block_reads) asks the
// account's breaker; refused, it is answered 429 until the time returned.
func (j *lgJudge) admit(account string, write bool) (*outCall, time.Time, bool) {
	c := &outCall{key: breaker.Key{Provider: j.p.Name, Account: account}}
	if !write && !j.blockReads {
		return c, time.Time{}, true
	}
	ok, probe, retry, _ := j.breakers.Allow(c.key)
	if !ok {
		return nil, j.w.now.Add(retry), false
	}
	c.probe = probe
	return c, time.Time{}, true
}

// observe is quota.observe: the provider's answer (it sends no rate-limit
// headers) counts for the burn rate and settles a probe.
func (j *lgJudge) observe(c *outCall, status int) {
	s := ratelimit.Parse(status, http.Header{}, j.w.now, j.rlOpts)
	j.breakers.Observe(c.key, breaker.Observation{Limit: s.Limit, Remaining: s.Remaining, Reset: s.Reset,
		RetryAfter: s.RetryAfter, Throttled: s.Throttled, StatusCode: status}, c.probe)
}

// write is writer.begin: the account, its breaker, match, tag, quarantine.
func (j *lgJudge) write(aw *appWrite, body []byte, ctype string) ([]byte, map[string]string, time.Time, bool) {
	aw.judged = nil
	route, ps, isWrite := j.p.MatchWrite(aw.method, aw.path)
	h := http.Header{"Content-Type": {ctype}}
	account := j.p.AccountOf(apiHost, &url.URL{Path: aw.path}, h, &ps)
	j.guard.SawAccount(j.p.Name, account)
	c, until, ok := j.admit(account, isWrite)
	if !ok {
		if isWrite {
			j.unsent(j.p.ForAccount(account).Tag(j.ctx, route, &ps, account, http.Header{"Content-Type": {ctype}}, body, ""))
		}
		return nil, nil, until, false
	}
	aw.judged = c
	if !isWrite {
		return body, nil, time.Time{}, true
	}
	fw := j.p.ForAccount(account).Tag(j.ctx, route, &ps, account, h, body, "")
	if q, qi := j.guard.WriteQuarantined(fw); q {
		// As in the proxy, a probe the breaker let through is not sent:
		// its slot frees after the breaker's probe timeout.
		aw.judged = nil
		j.unsent(fw)
		return nil, nil, qi.Until, false
	}
	c.write = fw
	out := body
	if fw.Body != nil {
		out = fw.Body
	}
	return out, map[string]string{"X-Change-Agent": h.Get("X-Change-Agent")}, time.Time{}, true
}

// wrote is writer.end and writer.record: the answer goes to the breaker; a
// 2xx write is recorded (a create's id from the response) and told to the
// guard (loop detector, record → account).
func (j *lgJudge) wrote(aw *appWrite, status int, resp []byte) {
	c, _ := aw.judged.(*outCall)
	if c == nil {
		return
	}
	j.observe(c, status)
	fw := c.write
	if fw == nil || len(fw.Fields) == 0 {
		return
	}
	if status < 200 || status > 299 {
		j.unsent(fw)
		return
	}
	if fw.Record == "" {
		if fw.Record = fw.CreatedID(resp); fw.Record == "" {
			return
		}
	}
	if err := j.eng.RecordWrite(j.ctx, fw, resp); err != nil {
		j.w.facts.storeError(err)
		return
	}
	j.guard.Wrote(fw)
}

// writeBatch is writer.beginMulti for a batch route: tag every record
// (headers once, a sentinel per record), then the account's breaker, then
// the quarantine of any of its records (which holds the request whole).
func (j *lgJudge) writeBatch(ab *appBatch, body []byte, ctype string) ([]byte, map[string]string, time.Time, bool) {
	ab.judged = nil
	route, ps, isWrite := j.p.MatchWrite(http.MethodPost, batchPath)
	if !isWrite || !route.Multi() {
		panic("sim: no batch write route")
	}
	h := http.Header{"Content-Type": {ctype}}
	u := &url.URL{Path: batchPath}
	account := j.p.AccountOf(apiHost, u, h, &ps)
	j.guard.SawAccount(j.p.Name, account)
	m := j.p.ForAccount(account).TagBatch(j.ctx, route, &ps, account, u, h, body, "")
	c, until, ok := j.admit(account, true)
	if !ok {
		j.unsentAll(m.Writes)
		return nil, nil, until, false
	}
	for _, w := range m.Writes {
		if q, qi := j.guard.WriteQuarantined(w); q {
			j.unsentAll(m.Writes)
			return nil, nil, qi.Until, false
		}
	}
	c.multi = m
	ab.judged = c
	out := body
	if m.Body != nil {
		out = m.Body
	}
	return out, map[string]string{"X-Change-Agent": h.Get("X-Change-Agent")}, time.Time{}, true
}

// wroteBatch is writer.end and writer.recordMulti: the answer goes to the
// breaker; the records of a 2xx answer that its results report written
// are recorded, each as its own write, and told to the guard.
func (j *lgJudge) wroteBatch(ab *appBatch, status int, resp []byte) {
	c, _ := ab.judged.(*outCall)
	if c == nil {
		return
	}
	j.observe(c, status)
	m := c.multi
	if m == nil || len(m.Writes) == 0 {
		return
	}
	if status < 200 || status > 299 {
		j.unsentAll(m.Writes)
		return
	}
	out := j.eng.RecordMulti(j.ctx, m, resp)
	if out.Err != nil {
		j.w.facts.storeError(out.Err)
	}
	var recorded []string
	for _, w := range out.Recorded {
		j.guard.Wrote(w)
		recorded = append(recorded, w.Record)
	}
	j.w.logf("loopguard records b%d: %v (failed %d, unmatched %d, empty %d)", ab.n, recorded, out.Failed, out.Unmatched, out.Empty)
}

// unsent is the proxy's writer.unsent: a write that did not land leaves the
// app holding values loopguard no longer claims to know.
func (j *lgJudge) unsent(fw *filters.Write) {
	if err := j.eng.Unsent(j.ctx, fw); err != nil {
		j.w.facts.storeError(err)
	}
	names := make([]string, len(fw.Fields))
	for i, f := range fw.Fields {
		names[i] = f.Name
	}
	j.w.facts.unlearned(fw.Record, names)
}

func (j *lgJudge) unsentAll(ws []*filters.Write) {
	for _, w := range ws {
		j.unsent(w)
	}
}
