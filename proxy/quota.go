package proxy

import (
	"net/http"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ratelimit"
	"github.com/rs/zerolog"
)

// quota feeds upstream rate-limit signals into the per-account breakers and
// answers writes locally while an account's breaker is open.
type quota struct {
	b          *breaker.Breakers
	blockReads bool
	log        zerolog.Logger
	now        func() time.Time
}

// call is one upstream call's breaker context.
type call struct {
	key   breaker.Key
	probe bool
	opts  ratelimit.Options
}

func newQuota(c configs.Breaker, log zerolog.Logger, m *Metrics, now func() time.Time) (*quota, error) {
	b, err := breaker.New(breaker.Config{
		Threshold: c.Threshold, BurnFactor: c.BurnFactor, CoolDown: c.CoolDown.D(), MaxOpen: c.MaxOpen.D(),
	}, now)
	if err != nil {
		return nil, err
	}
	b.OnChange(func(st breaker.Status) {
		m.BreakerTransitions.WithLabelValues(st.Key.Provider, st.State.String(), st.Reason.String()).Inc()
		log.Warn().Str("provider", st.Key.Provider).Str("account", st.Key.Account).Str("state", st.State.String()).
			Str("reason", st.Reason.String()).Str("detail", st.Detail).Time("open_until", st.OpenUntil).Msg("breaker")
	})
	return &quota{b: b, blockReads: c.BlockReads, log: log, now: now}, nil
}

// admit asks the account's breaker before a call. A nil response lets the
// call through; otherwise it is loopguard's own 429.
func (q *quota) admit(req *http.Request, p *filters.Provider, account string, write bool) (*call, *http.Response) {
	c := &call{
		key:  breaker.Key{Provider: p.Name, Account: account},
		opts: ratelimit.Options{Family: ratelimit.Family(p.Profile.RateLimit.Family), Reset: ratelimit.ResetMode(p.Profile.RateLimit.Reset)},
	}
	if !write && !q.blockReads {
		return c, nil
	}
	ok, probe, retry, st := q.b.Allow(c.key)
	if ok {
		c.probe = probe
		return c, nil
	}
	return nil, localThrottle(req, retry, st)
}

// observe records an upstream response.
func (q *quota) observe(c *call, resp *http.Response) {
	if c == nil {
		return
	}
	if resp == nil {
		q.b.Observe(c.key, breaker.Observation{Limit: -1, Remaining: -1, StatusCode: http.StatusBadGateway}, c.probe)
		return
	}
	s := ratelimit.Parse(resp.StatusCode, resp.Header, q.now(), c.opts)
	q.b.Observe(c.key, breaker.Observation{
		Limit: s.Limit, Remaining: s.Remaining, Reset: s.Reset, RetryAfter: s.RetryAfter,
		Throttled: s.Throttled, StatusCode: resp.StatusCode,
	}, c.probe)
}

// localThrottle is the 429 loopguard answers while a breaker is open: no
// upstream call, Retry-After and RateLimit headers, and a JSON body saying
// why.
func localThrottle(req *http.Request, retry time.Duration, st breaker.Status) *http.Response {
	return localAnswer{kind: answerThrottled, retry: retry, why: st.Reason.String(), fields: map[string]any{
		"error": "loopguard: circuit breaker open", "provider": st.Key.Provider, "account": st.Key.Account,
		"reason": st.Reason.String(), "detail": st.Detail,
	}}.response(req)
}

// quarantineThrottle is the 429 for a write to a quarantined record; now
// is the sidecar's clock.
func quarantineThrottle(req *http.Request, qi breaker.QuarantineInfo, now time.Time) *http.Response {
	return localAnswer{kind: answerThrottled, retry: qi.Until.Sub(now), why: "quarantined", fields: map[string]any{
		"error": "loopguard: record quarantined by the loop detector", "provider": qi.Key.Provider,
		"object": qi.Key.Object, "record": qi.Key.Record, "reason": "quarantined", "detail": qi.Reason,
		"key": qi.Key.String(),
	}}.response(req)
}
