package proxy

import (
	"bytes"
	"io"
	"net/http"

	"github.com/loopguard/loopguard/filters"
)

// GraphQL reads: the request's query says which root fields a GraphQL read
// route filters; each field's node list is filtered like a REST list, one
// after the other (filters.Delivery.Routes), and everything else in the
// response (pageInfo, other fields, errors, extensions) stays as sent.

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
