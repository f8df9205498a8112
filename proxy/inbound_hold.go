package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
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

// holdEvents keeps the held events of a delivery: appended to the spool per
// queue (policy hold) or refused with 503 so the provider redelivers
// (policy reject). It reports whether the caller should go on with the
// events that were not held; when false, the response is written.
func (in *Inbound) holdEvents(w http.ResponseWriter, r *http.Request, ip *inProvider, route *filters.WebhookRoute,
	body []byte, events []filters.Event, holds map[string][]int, last hold) bool {
	p := ip.p
	if p.Profile.HoldPolicy != policyHold || in.holder == nil {
		in.m.Deliveries.WithLabelValues(p.Name, "rejected_held").Inc()
		retry := time.Until(last.until)
		writeRetry(w, http.StatusServiceUnavailable, retry, "held: "+last.reason.String())
		return false
	}
	for queue, idx := range holds {
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
		if err := in.holder.hold(r, p, queue, ev.Account, ev.Record, last.reason, part); err != nil {
			writeRetry(w, http.StatusServiceUnavailable, time.Minute, "spool full or unavailable")
			return false
		}
	}
	in.holder.replayer.Kick()
	return true
}

// writeRetry answers status with Retry-After and a JSON reason.
func writeRetry(w http.ResponseWriter, status int, retry time.Duration, why string) {
	secs := int(min(max(retry, time.Second), maxRejectRetry).Round(time.Second) / time.Second)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"loopguard":%q,"retry_after_seconds":%d}`+"\n", why, secs)
}

// holdsForApp reports whether deliveries the app failed are kept (providers
// that never redeliver).
func (in *Inbound) holdsForApp(ip *inProvider) bool {
	return in.holder != nil && ip.p.Profile.HoldPolicy == policyHold
}

// holdForApp keeps a delivery the app did not accept.
func (in *Inbound) holdForApp(d *delivery) bool {
	if d.req == nil {
		return false
	}
	err := in.holder.hold(d.req, d.ip.p, appQueue(d.ip.p.Name), "", "", filters.ReasonAppUnavailable, d.body)
	return err == nil
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
// ids, last genuine state), as for a live delivery.
func (in *Inbound) acceptReplayed(ctx context.Context, ip *inProvider, it spool.Item) {
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
