package proxy

import (
	"context"
	"net/http"

	"github.com/loopguard/loopguard/filters"
)

// unsent tells the ledger that the app's write did not land — answered
// locally (open breaker, quarantined record) or not accepted upstream — so
// that what the app holds of its fields is no longer claimed known (see
// filters.Engine.Unsent): the app keeps its own edit, which a person's
// later change must still reach.
func (wr *writer) unsent(ctx context.Context, w *filters.Write) {
	if w == nil || w.Record == "" || len(w.Fields) == 0 {
		return
	}
	if err := wr.engine.Unsent(ctx, w); err != nil {
		wr.log.Warn().Err(err).Str("provider", w.Provider.Name).Str("record", w.Record).Msg("record unsent write failed")
		wr.m.Doubts.WithLabelValues(w.Provider.Name, "store_error").Inc()
	}
}

func (wr *writer) unsentAll(ctx context.Context, ws []*filters.Write) {
	for _, w := range ws {
		wr.unsent(ctx, w)
	}
}

// forgetRefused reads the body of a write the account's breaker refused
// before it was tagged, only to learn its fields for unsent. The body is
// not sent anywhere; a body over the limits is left alone (nothing is
// forgotten: the next event of the record is judged as usual).
func (wr *writer) forgetRefused(req *http.Request, p *filters.Provider, route *filters.WriteRoute, ps filters.Params, account string) {
	body, untagged, l, local := wr.bufferWrite(req, p.Name)
	if local != nil {
		return
	}
	defer l.release()
	if body == nil || untagged != "" {
		return
	}
	w := p.Tag(req.Context(), route, &ps, account, req.Header.Clone(), body, "")
	wr.unsent(req.Context(), w)
}
