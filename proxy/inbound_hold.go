package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/signature"
	"github.com/loopguard/loopguard/filters/spool"
)

// holdRetryAfter is the Retry-After of a delivery that could not be held
// (spool full or unavailable).
const holdRetryAfter = time.Minute

func signRequest(method, uri string, h http.Header) signature.Request {
	return signature.Request{Method: method, URI: uri, Header: h}
}

// holdEvents keeps the held events of a judged delivery: each queue's
// part appended to the spool with its own reason (policy hold), or the
// delivery refused with 503 so the provider redelivers once every queue
// may go on (policy reject). It reports whether the caller should go on
// with the events that were not held; when false, the response is written.
func (in *Inbound) holdEvents(w http.ResponseWriter, r *http.Request, d *delivery) bool {
	p, j := d.ip.p, d.j
	if !in.holdsForApp(d.ip) {
		in.m.Deliveries.WithLabelValues(p.Name, "rejected_held").Inc()
		localAnswer{kind: answerRejected, retry: j.HeldUntil().Sub(in.engine.Now()), why: "held: " + heldReasons(j.Holds)}.write(w)
		return false
	}
	for _, h := range j.Holds {
		ev := &j.Events[h.Events[0]]
		if err := in.holder.hold(r, p, h.Queue, ev.Account, ev.Record, h.Reason, j.Part(h), d.trust); err != nil {
			var outcome string // the caller notes hold_failed for the latency sample
			in.holdFailed(&outcome, p.Name, "events must be held ("+h.Reason.String()+")", err)
			holdFailedAnswer(err).write(w)
			return false
		}
	}
	in.holder.replayer.Kick()
	return true
}

// heldReasons names the reasons of a delivery's holds, each once.
func heldReasons(hs []filters.HoldQueue) string {
	var names []string
	for _, h := range hs {
		if n := h.Reason.String(); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// holdFailed logs and counts a delivery that could not be held; the
// caller answers 503 with Retry-After (see holdFailure), as the line says.
func (in *Inbound) holdFailed(last *string, provider, why string, err error) {
	in.counted(last, provider, "hold_failed")
	in.log.Error().Err(err).Str("provider", provider).Str("why_held", why).Int("status", http.StatusServiceUnavailable).
		Msg("could not hold delivery (" + holdFailure(err) + "); answered 503 with Retry-After so a provider that retries will")
}

// holdFailure names why a hold failed, for the provider and the log.
func holdFailure(err error) string {
	switch {
	case errors.Is(err, spool.ErrFull) && strings.Contains(err.Error(), "Unverified"):
		return "spool full for unverified deliveries"
	case errors.Is(err, spool.ErrFull):
		return "spool full"
	case errors.Is(err, spool.ErrTooLarge), errors.Is(err, errSpillTooLarge):
		return "delivery too large to hold"
	}
	return "spool unavailable"
}

// holdFailedAnswer is the 503 with Retry-After for a delivery that could
// not be held, so that a provider that retries will.
func holdFailedAnswer(err error) localAnswer {
	return localAnswer{kind: answerRejected, retry: holdRetryAfter, why: holdFailure(err)}
}

// holdsForApp reports whether deliveries the app failed are kept (providers
// that never redeliver).
func (in *Inbound) holdsForApp(ip *inProvider) bool {
	return in.holder != nil && ip.p.HoldsDeliveries()
}

// holdForApp keeps a delivery the app did not accept, with its
// verification. An oversize one is first read whole from the provider into
// its spill file, then held one at a time (see holder.big): holding copies
// a body a few times over (read back, encoded, committed).
func (in *Inbound) holdForApp(d *delivery) error {
	if d.req == nil {
		return errors.New("no request to hold")
	}
	if d.spill == nil {
		return in.holder.hold(d.req, d.ip.p, filters.AppQueue(d.ip.p.Name), "", "", filters.ReasonAppUnavailable, d.body, d.trust)
	}
	if err := d.spill.finish(); err != nil {
		return err
	}
	ctx := d.req.Context()
	select {
	case in.holder.big <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait to hold an oversize delivery: %w", ctx.Err())
	}
	defer func() { <-in.holder.big }()
	body, err := d.spill.bytes()
	if err != nil {
		return err
	}
	trust, _ := in.verify(d.ip, d.req, body)
	return in.holder.hold(d.req, d.ip.p, filters.AppQueue(d.ip.p.Name), "", "", filters.ReasonAppUnavailable, body, trust)
}

// holdBehindApp holds a delivery of a hold-policy provider whose app queue
// still holds older deliveries (they are replayed first) and answers 200.
// It reports whether it answered; when the hold fails the delivery goes to
// the app now — out of order, but delivered, rather than refused.
func (in *Inbound) holdBehindApp(w http.ResponseWriter, d *delivery) bool {
	if _, behind := in.holder.Behind(filters.AppQueue(d.ip.p.Name)); !behind {
		return false
	}
	if err := in.holdForApp(d); err != nil {
		in.counted(&d.outcome, d.ip.p.Name, "hold_failed")
		in.log.Error().Err(err).Str("provider", d.ip.p.Name).
			Msg("could not hold delivery behind the held ones (" + holdFailure(err) + "); forwarded to the app now, ahead of them")
		return false
	}
	in.counted(&d.outcome, d.ip.p.Name, "behind_held")
	d.held().write(w)
	return true
}

func (in *Inbound) byName(name string) *inProvider {
	for _, ip := range in.providers {
		if ip.p.Name == name {
			return ip
		}
	}
	return nil
}

// superseded reports whether a held delivery need not be replayed (see
// filters.Judge.Superseded).
func (in *Inbound) superseded(ctx context.Context, it spool.Item, later []spool.Item) bool {
	d, ok := in.heldDelivery(it)
	if !ok {
		return false
	}
	var ls []filters.Delivery
	for _, l := range later {
		if ld, ok := in.heldDelivery(l); ok && l.Provider == it.Provider {
			ls = append(ls, ld)
		}
	}
	return in.judge.Superseded(ctx, it.Queue, d, it.HeldAt, ls...)
}

// heldDelivery is a held item as the judgement step sees it.
func (in *Inbound) heldDelivery(it spool.Item) (filters.Delivery, bool) {
	ip := in.byName(it.Provider)
	if ip == nil {
		return filters.Delivery{}, false
	}
	path, _, _ := strings.Cut(it.Path, "?")
	rt, ok := ip.p.MatchWebhook(it.Method, path)
	if !ok {
		return filters.Delivery{}, false
	}
	return filters.Delivery{Provider: ip.p, Route: rt, Body: it.Body, Header: it.Header, Verification: it.Verification}, true
}

// acceptReplayed records a replayed delivery's events as accepted (dedup
// ids, last genuine state), as for a live delivery: through the judgement
// step, which records nothing of an untrusted one (its signature did not
// verify, or its verification is unknown) — a forged event id must not
// make the genuine event a "redelivery".
func (in *Inbound) acceptReplayed(ctx context.Context, ip *inProvider, it spool.Item) {
	path, _, _ := strings.Cut(it.Path, "?")
	rt, ok := ip.p.MatchWebhook(it.Method, path)
	if !ok {
		return
	}
	j := in.judge.Replayed(filters.Delivery{Provider: ip.p, Route: rt, Body: it.Body, Header: it.Header, Verification: it.Verification})
	if err := in.judge.Accept(ctx, j); err != nil {
		in.m.Doubts.WithLabelValues(ip.p.Name, "store_error").Inc()
	}
}
