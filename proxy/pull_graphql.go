package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/loopguard/loopguard/filters"
)

// GraphQL reads: the request's query says which root fields a GraphQL read
// route filters; each field's node list is filtered like a REST list, one
// after the other, and everything else in the response (pageInfo, other
// fields, errors, extensions) stays as sent.

// graphQLRoutes reads a GraphQL request's body (bounded, and put back
// unchanged) and returns the read routes its query selects; nil when it
// selects none, is not a query, or cannot be read.
func (pl *puller) graphQLRoutes(req *http.Request, ap *filters.Provider) []*filters.WebhookRoute {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength > pl.maxBody {
		return nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, pl.maxBody+1))
	if err != nil || int64(len(buf)) > pl.maxBody {
		req.Body = readCloser{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return nil
	}
	_ = req.Body.Close()
	setBody(req, buf)
	rs, err := ap.GraphQLReads(req.Method, req.URL.Path, req.Header.Get("Content-Type"), buf)
	if err != nil {
		pl.log.Debug().Str("provider", ap.Name).Str("reason", err.Error()).Msg("graphql read not filtered")
		return nil
	}
	return rs
}

// endGraphQL filters each selected field's list of a decoded GraphQL
// response in turn. A field whose list is missing (null data, an error)
// is left as it is; a rewrite that fails sends the response untouched.
func (pl *puller) endGraphQL(ctx context.Context, pc *pullCall, resp *http.Response, body []byte, coding string) {
	var all []filters.Decision
	removed := 0
	cur := body
	for _, r := range pc.gql {
		evs, err := pc.ap.ExtractRead(r, &pc.params, pc.account, cur, resp.Header, nil)
		if err != nil {
			// This field's list is absent or not a list of objects (null
			// data, a field error): nothing of it is evaluated.
			continue
		}
		pl.engine.Prefetch(ctx, evs)
		keep := make([]bool, len(evs))
		n := 0
		for i := range evs {
			d := pl.engine.Decide(ctx, pc.p, &evs[i])
			all = append(all, d)
			if keep[i] = d.Action == filters.Forward; !keep[i] {
				n++
			}
		}
		if n == 0 {
			continue
		}
		nb, err := pc.ap.Rewrite(r, cur, evs, keep)
		if err != nil {
			pl.log.Warn().Err(err).Str("provider", pc.p.Name).Msg("graphql pull rewrite failed; response passed untouched")
			pl.m.Doubts.WithLabelValues(pc.p.Name, "rewrite_failed").Inc()
			pl.m.PullResponses.WithLabelValues(pc.p.Name, "rewrite_failed").Inc()
			pl.reportAll(forwardAll(all))
			return
		}
		cur, removed = nb, removed+n
	}
	if removed == 0 {
		pl.reportAll(all)
		pl.m.PullResponses.WithLabelValues(pc.p.Name, "unchanged").Inc()
		return
	}
	if pc.identityOK {
		coding = codingIdentity
	}
	out, err := encodeBody(coding, cur)
	if err != nil {
		pl.m.Doubts.WithLabelValues(pc.p.Name, "rewrite_failed").Inc()
		pl.m.PullResponses.WithLabelValues(pc.p.Name, "rewrite_failed").Inc()
		pl.reportAll(forwardAll(all))
		return
	}
	pl.reportAll(all)
	pl.m.PullResponses.WithLabelValues(pc.p.Name, "filtered").Inc()
	setPullBody(resp, out, coding)
	pl.log.Debug().Str("provider", pc.p.Name).Str("account", pc.account).Int("records", len(all)).
		Int("removed", removed).Msg("graphql pull response filtered")
}
