package proxy

import (
	"bytes"
	"io"
	"net/http"

	"github.com/loopguard/loopguard/filters"
)

// bufferDelivery buffers a webhook delivery for the filters, within
// inbound.max_body_bytes and the process's in-flight bound. When done is
// true the request was answered here:
//   - larger than max_body_bytes: streamed to the app untouched (counted
//     oversize), through a spill for a hold-policy provider (serveSpilled);
//   - the in-flight bound reached: 503 with Retry-After, so the provider
//     redelivers — except for a hold-policy provider (it never redelivers:
//     GitHub, Pipedrive, Salesforce, Smartsheet, Zendesk), whose delivery
//     streams to the app untouched and unfiltered instead, through a spill
//     so it is held if the app fails it (counted busy_streamed);
//   - the body could not be read: 408 at limits.body_read_timeout, else
//     400, and the connection closes.
//
// Otherwise release gives the body's reservation back; call it when the
// delivery is answered.
func (in *Inbound) bufferDelivery(w http.ResponseWriter, r *http.Request, ip *inProvider, tr *inTrace) (body []byte, release func(), done bool) {
	var l *lease
	if in.limits != nil {
		l = in.limits.budget.newLease()
	}
	buf, out, err := bufferBody(r.Body, r.ContentLength, in.maxBody, l)
	p := ip.p
	switch out {
	case bodyOK:
		return buf, l.release, false
	case bodyOversize:
		in.streamUntouched(w, r, ip, tr, buf, l, whyOversize)
		return nil, nil, true
	case bodyBusy:
		in.limits.busy(listenerOf(r), p.Name, r.ContentLength)
		if p.HoldsDeliveries() {
			in.streamUntouched(w, r, ip, tr, buf, l, whyBusy)
			return nil, nil, true
		}
		l.release()
		in.whole(tr, p.Name, "busy", filters.ReasonBusy, "in-flight body bytes at limits.max_inflight_body_bytes: answered 503 so the provider redelivers")
		in.limits.answerBusy(w, r, in.maxBody)
		return nil, nil, true
	default:
		l.release()
		in.counted(&tr.outcome, p.Name, "read_failed")
		if in.limits == nil {
			w.Header().Set("Connection", "close")
			http.Error(w, "loopguard: request body not received", http.StatusBadRequest)
			return nil, nil, true
		}
		in.limits.answerReadFailure(w, r, p.Name, err)
		return nil, nil, true
	}
}

// streamUntouched forwards a delivery that was not (wholly) buffered: what
// was read, then the rest as it arrives — through a spill for a provider
// whose deliveries are held when the app fails them. The reservation of
// what was read is kept until the forward ends.
func (in *Inbound) streamUntouched(w http.ResponseWriter, r *http.Request, ip *inProvider, tr *inTrace, prefix []byte, l *lease, why spillWhy) {
	defer l.release()
	if len(prefix) > 0 {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(prefix), r.Body), r.Body}
	}
	if in.holdsForApp(ip) {
		tr.set(in.serveSpilled(w, r, ip, tr, why))
		return
	}
	in.whole(tr, ip.p.Name, why.outcome, why.reason, why.what+" forwarded untouched")
	in.rp.ServeHTTP(w, r)
}
