package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/signature"
	"github.com/loopguard/loopguard/filters/spool"
)

// Hold policies (profile hold_policy).
const (
	policyHold   = "hold"
	policyReject = "reject"
)

// maxRejectRetry caps the Retry-After of a rejected delivery.
const maxRejectRetry = time.Hour

// holdRetryAfter is the Retry-After of a delivery that could not be held
// (spool full or unavailable).
const holdRetryAfter = time.Minute

func signRequest(method, uri string, h http.Header) signature.Request {
	return signature.Request{Method: method, URI: uri, Header: h}
}

// holdDecision turns a forward into a hold, naming the last-line layer.
func holdDecision(d filters.Decision, h hold, policy string) filters.Decision {
	d.Action = filters.Hold
	switch h.reason {
	case filters.ReasonQuarantined:
		d.Layer = "loop"
	case filters.ReasonBehindHeld:
		d.Layer = "hold"
	default:
		d.Layer = "breaker"
	}
	d.Reason = h.reason
	d.ReasonS = h.reason.String()
	d.ActionS = filters.Hold.String()
	d.Detail = h.detail + " (hold_policy " + policy + ")"
	return d
}

// holdWhole makes an unverified delivery of which some events must be held
// wait whole, in the queue of its first held event: it is held untouched
// (its original signature must still match on replay), so it is never split
// and none of it goes on now.
func holdWhole(ds []filters.Decision, holds map[string][]int, last hold, policy string) map[string][]int {
	first := len(ds)
	queue := ""
	for q, idx := range holds {
		if idx[0] < first {
			first, queue = idx[0], q
		}
	}
	all := make([]int, 0, len(ds))
	for i := range ds {
		if ds[i].Action == filters.Forward {
			h := last
			h.queue, h.reason, h.detail = queue, filters.ReasonBehindHeld, "other events of this unverified delivery must be held; it is held whole"
			ds[i] = holdDecision(ds[i], h, policy)
		}
		if ds[i].Action == filters.Hold {
			all = append(all, i)
		}
	}
	return map[string][]int{queue: all}
}

// holdEvents keeps the held events of a delivery: appended to the spool per
// queue (policy hold) or refused with 503 so the provider redelivers
// (policy reject). It reports whether the caller should go on with the
// events that were not held; when false, the response is written.
func (in *Inbound) holdEvents(w http.ResponseWriter, r *http.Request, ip *inProvider, route *filters.WebhookRoute,
	body []byte, events []filters.Event, holds map[string][]int, last hold, trust spool.Verification) bool {
	p := ip.p
	if p.Profile.HoldPolicy != policyHold || in.holder == nil {
		in.m.Deliveries.WithLabelValues(p.Name, "rejected_held").Inc()
		retry := last.until.Sub(in.engine.Now())
		writeRetry(w, http.StatusServiceUnavailable, retry, "held: "+last.reason.String())
		return false
	}
	queues := make([]string, 0, len(holds))
	for q := range holds {
		queues = append(queues, q)
	}
	slices.Sort(queues)
	for _, queue := range queues {
		idx := holds[queue]
		part := body
		if len(idx) != len(events) {
			mask := make([]bool, len(events))
			for _, i := range idx {
				mask[i] = true
			}
			nb, err := p.Rewrite(route, body, events, mask)
			if err != nil {
				// Cannot split: hold the whole delivery; replay re-delivers
				// its other events too, which the app's dedup layer absorbs.
				nb = body
			}
			part = nb
		}
		ev := &events[idx[0]]
		if err := in.holder.hold(r, p, queue, ev.Account, ev.Record, last.reason, part, trust); err != nil {
			var outcome string // the caller notes hold_failed for the latency sample
			in.holdFailed(&outcome, p.Name, "events must be held ("+last.reason.String()+")", err)
			writeRetry(w, http.StatusServiceUnavailable, holdRetryAfter, holdFailure(err))
			return false
		}
	}
	in.holder.replayer.Kick()
	return true
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

// writeRetry answers status with Retry-After and a JSON reason.
func writeRetry(w http.ResponseWriter, status int, retry time.Duration, why string) {
	secs := retrySeconds(retry)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"loopguard":%q,"retry_after_seconds":%d}`+"\n", why, secs)
}

func retrySeconds(retry time.Duration) int {
	return int(min(max(retry, time.Second), maxRejectRetry).Round(time.Second) / time.Second)
}

// retryResponse replaces the app's failure with the 503 + Retry-After that
// writeRetry would write, for a delivery that could not be held.
func retryResponse(resp *http.Response, err error) {
	secs := retrySeconds(holdRetryAfter)
	b := fmt.Sprintf(`{"loopguard":%q,"retry_after_seconds":%d}`+"\n", holdFailure(err), secs)
	resp.StatusCode, resp.Status = http.StatusServiceUnavailable, "503 Service Unavailable"
	resp.Header = http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(b))},
		"Retry-After": {strconv.Itoa(secs)}}
	resp.Body = io.NopCloser(strings.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.TransferEncoding = nil
}

// holdsForApp reports whether deliveries the app failed are kept (providers
// that never redeliver).
func (in *Inbound) holdsForApp(ip *inProvider) bool {
	return in.holder != nil && ip.p.Profile.HoldPolicy == policyHold
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
		return in.holder.hold(d.req, d.ip.p, appQueue(d.ip.p.Name), "", "", filters.ReasonAppUnavailable, d.body, d.trust)
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
	return in.holder.hold(d.req, d.ip.p, appQueue(d.ip.p.Name), "", "", filters.ReasonAppUnavailable, body, trust)
}

// holdBehindApp holds a delivery of a hold-policy provider whose app queue
// still holds older deliveries (they are replayed first) and answers 200.
// It reports whether it answered; when the hold fails the delivery goes to
// the app now — out of order, but delivered, rather than refused.
func (in *Inbound) holdBehindApp(w http.ResponseWriter, d *delivery) bool {
	if _, behind := in.holder.behind(appQueue(d.ip.p.Name)); !behind {
		return false
	}
	if err := in.holdForApp(d); err != nil {
		in.counted(&d.outcome, d.ip.p.Name, "hold_failed")
		in.log.Error().Err(err).Str("provider", d.ip.p.Name).
			Msg("could not hold delivery behind the held ones (" + holdFailure(err) + "); forwarded to the app now, ahead of them")
		return false
	}
	in.counted(&d.outcome, d.ip.p.Name, "behind_held")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, `{"loopguard":"held","events":%d}`+"\n", len(d.events))
	return true
}

// heldResponse replaces the app's failure with loopguard's 200: the
// delivery is safe in the spool.
func heldResponse(resp *http.Response, events int) {
	b := fmt.Sprintf(`{"loopguard":"held","events":%d}`+"\n", events)
	resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
	resp.Header = http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(b))}}
	resp.Body = io.NopCloser(strings.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.TransferEncoding = nil
}

func (in *Inbound) byName(name string) *inProvider {
	for _, ip := range in.providers {
		if ip.p.Name == name {
			return ip
		}
	}
	return nil
}

// acceptReplayed records a replayed delivery's events as accepted (dedup
// ids, last genuine state), as for a live delivery — only when it is
// trusted: a delivery whose signature did not verify (or of unknown
// verification) must not steer later decisions, or a forged event id would
// make the genuine event a "redelivery".
func (in *Inbound) acceptReplayed(ctx context.Context, ip *inProvider, it spool.Item) {
	if !it.Verification.Trusted() {
		return
	}
	path, _, _ := strings.Cut(it.Path, "?")
	rt, ok := ip.p.MatchWebhook(it.Method, path)
	if !ok {
		return
	}
	evs, err := ip.p.Extract(rt, it.Body, it.Header, nil)
	if err != nil || len(evs) == 0 {
		return
	}
	ds := make([]filters.Decision, len(evs))
	for i := range ds {
		ds[i] = filters.Decision{Action: filters.Forward}
	}
	if err := in.engine.Accepted(ctx, ip.p, evs, ds); err != nil {
		in.m.Doubts.WithLabelValues(ip.p.Name, "store_error").Inc()
	}
}
