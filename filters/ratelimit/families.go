package ratelimit

import "time"

// ietf reads the IETF draft fields: the structured RateLimit and
// RateLimit-Policy pair and, when RateLimit yielded nothing, the older
// RateLimit-Limit / -Remaining / -Reset trio. Each becomes a primary-window
// candidate.
func (p *parser) ietf() {
	cur, haveCur := p.ietfCurrent()
	pol, havePol := p.ietfPolicy(cur.name, haveCur)
	w := noWindow()
	if haveCur {
		w.remaining, w.name = cur.a, cur.name
		if cur.b >= 0 {
			w.reset = p.now.Add(time.Duration(cur.b) * time.Second)
		}
	}
	if havePol {
		w.limit, w.name = pol.a, pol.name
		if pol.b >= 0 {
			w.length = time.Duration(pol.b) * time.Second
		}
	}
	p.offer(w)
	if haveCur {
		// The structured field supersedes the older trio; servers send
		// one generation, and skipping saves three lookups.
		return
	}
	old := noWindow()
	old.limit = p.leading(sRateLimitLimit)
	old.remaining = p.leading(sRateLimitRemaining)
	old.reset = p.reset(sRateLimitReset)
	p.offer(old)
}

// ietfCurrent returns the RateLimit member with the lowest remaining (r).
// A field line with a syntax error, a member without r or an absurd t is
// discarded whole and counted as malformed, as RFC 8941 prescribes.
func (p *parser) ietfCurrent() (sfMember, bool) {
	var best sfMember
	have := false
	for _, v := range p.values(sRateLimit) {
		it := sfIter{s: v, keyA: 'r', keyB: 't'}
		var lb sfMember
		lhave := false
		for m, ok := it.next(); ok; m, ok = it.next() {
			if m.a < 0 || m.b > maxDeltaSeconds {
				it.err = true
				break
			}
			if !lhave || m.a < lb.a {
				lb, lhave = m, true
			}
		}
		if it.err {
			p.s.Malformed++
			continue
		}
		if lhave && (!have || lb.a < best.a) {
			best, have = lb, true
		}
	}
	return best, have
}

// ietfPolicy returns the RateLimit-Policy member named name when byName,
// else the member with the smallest quota (q).
func (p *parser) ietfPolicy(name string, byName bool) (sfMember, bool) {
	var best sfMember
	have := false
	for _, v := range p.values(sRateLimitPolicy) {
		it := sfIter{s: v, keyA: 'q', keyB: 'w'}
		var lb sfMember
		lhave := false
		for m, ok := it.next(); ok; m, ok = it.next() {
			if m.a < 0 || m.b > maxDeltaSeconds {
				it.err = true
				break
			}
			if byName {
				if !lhave && m.name == name {
					lb, lhave = m, true
				}
			} else if !lhave || m.a < lb.a {
				lb, lhave = m, true
			}
		}
		if it.err {
			p.s.Malformed++
			continue
		}
		if lhave && (!have || (!byName && lb.a < best.a)) {
			best, have = lb, true
		}
	}
	return best, have
}

// leading reads an old-draft IETF header whose value may be a list such as
// "100, 100;w=60": the first integer is used.
func (p *parser) leading(s slot) int64 {
	v, ok := p.get(s)
	if !ok {
		return Unknown
	}
	n, ok := leadingUint(v)
	if !ok {
		p.s.Malformed++
		return Unknown
	}
	return n
}

// xRateLimit reads X-RateLimit-Limit / -Remaining / -Reset, and GitHub's
// X-RateLimit-Resource as the window name (X-RateLimit-Used is redundant
// with Limit-Remaining and ignored).
func (p *parser) xRateLimit() {
	w := noWindow()
	w.limit = p.uint(sXLimit)
	w.remaining = p.uint(sXRemaining)
	w.reset = p.reset(sXReset)
	if w.limit >= 0 || w.remaining >= 0 || !w.reset.IsZero() {
		if r, ok := p.get(sXResource); ok {
			w.name = trimOWS(r)
		}
	}
	p.offer(w)
}

// salesforce reads Sforce-Limit-Info's api-usage=USED/LIMIT member;
// per-app-api-usage members are validated but not used.
func (p *parser) salesforce() {
	v, ok := p.get(sSforceLimitInfo)
	if !ok {
		return
	}
	used, limit, found, ok := parseSforce(v)
	if !ok {
		p.s.Malformed++
		return
	}
	if found {
		p.offer(usedOf(used, limit))
	}
}

// hubspot reads the X-HubSpot-RateLimit-* set: Max/Remaining over
// Interval-Milliseconds is the primary window (reset taken as now plus the
// interval), Daily/Daily-Remaining fills Signal.Daily (reset unknown) and
// Secondly/Secondly-Remaining fills Signal.Secondly.
func (p *parser) hubspot() {
	w := noWindow()
	w.limit = p.uint(sHubMax)
	w.remaining = p.uint(sHubRemaining)
	if ms := p.uint(sHubIntervalMillis); ms > maxIntervalMillis {
		p.s.Malformed++
	} else if ms >= 0 {
		w.length = time.Duration(ms) * time.Millisecond
		if w.limit >= 0 || w.remaining >= 0 {
			w.reset = p.now.Add(w.length)
		}
	}
	p.offer(w)

	if d := (Quota{Limit: p.uint(sHubDaily), Remaining: p.uint(sHubDailyRemaining)}); d.Known() {
		d.Window = dailyWindow
		p.s.Daily = d
	}
	if q := (Quota{Limit: p.uint(sHubSecondly), Remaining: p.uint(sHubSecondlyRemaining)}); q.Known() {
		q.Window = secondlyWindow
		p.s.Secondly = q
	}
}

// shopify reads X-Shopify-Shop-Api-Call-Limit: USED/LIMIT.
func (p *parser) shopify() {
	v, ok := p.get(sShopifyCallLimit)
	if !ok {
		return
	}
	used, limit, ok := parseRatio(v)
	if !ok {
		p.s.Malformed++
		return
	}
	p.offer(usedOf(used, limit))
}

// zendesk reads X-Rate-Limit / X-Rate-Limit-Remaining.
func (p *parser) zendesk() {
	w := noWindow()
	w.limit = p.uint(sZendeskLimit)
	w.remaining = p.uint(sZendeskRemaining)
	p.offer(w)
}

// usedOf builds a window from a used/limit pair; remaining is clamped at 0
// because Salesforce lets usage overshoot the limit.
func usedOf(used, limit int64) window {
	w := noWindow()
	w.limit, w.remaining = limit, max(limit-used, 0)
	return w
}

// parseRatio parses "USED/LIMIT" with optional surrounding whitespace.
func parseRatio(s string) (used, limit int64, ok bool) {
	s = trimOWS(s)
	used, i, ok := scanUint(s, 0)
	if !ok || i >= len(s) || s[i] != '/' {
		return 0, 0, false
	}
	limit, i, ok = scanUint(s, i+1)
	return used, limit, ok && i == len(s)
}

// parseSforce parses "key=USED/LIMIT[(detail)]" members separated by
// commas, e.g. "api-usage=25/5000, per-app-api-usage=17/250(appName=x)",
// and returns the api-usage member. ok is false on any syntax error.
func parseSforce(s string) (used, limit int64, found, ok bool) {
	i := 0
	for {
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' {
			i++
		}
		if i == len(s) || s[i] != '=' {
			return 0, 0, false, false
		}
		key := trimOWS(s[start:i])
		i++
		for i < len(s) && isOWS(s[i]) {
			i++
		}
		u, end, okU := scanUint(s, i)
		if key == "" || !okU || end >= len(s) || s[end] != '/' {
			return 0, 0, false, false
		}
		l, end, okL := scanUint(s, end+1)
		if !okL {
			return 0, 0, false, false
		}
		i = end
		if i < len(s) && s[i] == '(' {
			for i < len(s) && s[i] != ')' {
				i++
			}
			if i == len(s) {
				return 0, 0, false, false
			}
			i++
		}
		for i < len(s) && isOWS(s[i]) {
			i++
		}
		if key == "api-usage" {
			used, limit, found = u, l, true
		}
		if i == len(s) {
			return used, limit, found, true
		}
		if s[i] != ',' {
			return 0, 0, false, false
		}
		i++
	}
}
