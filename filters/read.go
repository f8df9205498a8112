package filters

import (
	"context"
	"fmt"
	"net/http"

	"strings"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
)

// Pull-side filtering: a read route (a list, search or query the app polls)
// is compiled into the same structure as a webhook route, its list playing
// the batch, so a read response's records become events through Extract and
// leave the list through Rewrite exactly as a delivery's events do. Only
// the policy differs, in Decide: see appliesToPull and pullVerdict.

// compileReads compiles the profile's read routes into webhook-shaped routes
// whose events are pulled records.
func (p *Provider) compileReads(rs []configs.ReadRoute) error {
	for i, rr := range rs {
		tpl, err := CompileTemplate(rr.Path)
		if err != nil {
			return fmt.Errorf("reads[%d].path: %w", i, err)
		}
		if rr.List == "" {
			return fmt.Errorf("reads[%d].list: required", i)
		}
		r := &WebhookRoute{
			Method: rr.Method, Tpl: tpl, source: SourcePull, batch: rr.List,
			record: compileComposite(rr.RecordID), actor: compileSpec(rr.Actor),
			occurred: compileSpec(rr.ModifiedAt), recPath: compileSpec(noRecord(rr.Record)),
			sentinel: rr.Sentinel,
			markers:  compileMarkers(rr.Markers, p.agent, p.Profile.Tagging.IdempotencyKey.Prefix),
		}
		if name, ok := paramName(rr.ObjectType); ok {
			r.objParam = name
		} else {
			r.object = compileSpec(rr.ObjectType)
		}
		if rr.GraphQL != nil {
			r.gql = &gqlRead{query: rr.GraphQL.Query, list: rr.List, record: rr.Record}
		}
		r.heads = r.specHeads()
		// A read route is a group of one: reads have no when conditions.
		r.group = []*WebhookRoute{r}
		p.reads = append(p.reads, r)
	}
	return nil
}

// noRecord maps a read route's record "-" (its records carry no values
// loopguard can compare, e.g. Airtable's webhook payloads) to no spec.
func noRecord(record string) string {
	if record == "-" {
		return ""
	}
	return record
}

// paramName reports whether v is "{name}" and returns name.
func paramName(v string) (string, bool) {
	if len(v) > 2 && v[0] == '{' && v[len(v)-1] == '}' {
		return strings.TrimSuffix(v[1:len(v)-1], "..."), true
	}
	return "", false
}

// HasReads reports whether the provider, or one of its accounts, has read
// routes.
func (p *Provider) HasReads() bool {
	if len(p.reads) > 0 {
		return true
	}
	for _, a := range p.accounts {
		if len(a.reads) > 0 {
			return true
		}
	}
	return false
}

// MatchRead finds the read route for an outbound request, with its path
// parameters.
func (p *Provider) MatchRead(method, path string) (*WebhookRoute, Params, bool) {
	var ps Params
	for _, r := range p.reads {
		if r.Method == method && r.Tpl.Match(path, &ps) {
			return r, ps, true
		}
	}
	return nil, ps, false
}

// ExtractRead splits a read response into pulled records (events with
// Source pull): one per list element, one per record id when the id is an
// array. account is the request's account (as for a write); ps are the
// request's path parameters, for an object type taken from the path. h is
// the response's header. Errors are Extract's: a body that is not JSON or
// whose list is not an array of objects is ErrMalformed, and dst comes back
// as it came.
func (p *Provider) ExtractRead(r *WebhookRoute, ps *Params, account string, body []byte, h http.Header, dst []Event) ([]Event, error) {
	if r.source != SourcePull {
		return dst, fmt.Errorf("extract read %s: %s %s is not a read route", p.Name, r.Method, r.Tpl)
	}
	n0 := len(dst)
	dst, err := p.Extract(r, body, h, dst)
	if err != nil {
		return dst, err
	}
	obj := ""
	if r.objParam != "" {
		v, _ := ps.Get(r.objParam)
		obj = p.canonObject(v)
	}
	for i := n0; i < len(dst); i++ {
		dst[i].Account = account
		if r.objParam != "" {
			dst[i].Object = obj
		}
	}
	return dst, nil
}

// appliesToPull reports whether a layer evaluates pulled records. dedup does
// not: a record legitimately appears in many polls, and a pull has no event
// id. skinny does not: it drops on time proximity alone, and clocks differ —
// a poll that ran just after our write may hold a human's edit.
func appliesToPull(layer string) bool {
	return layer != "dedup" && layer != "skinny"
}

// pullVerdict keeps a layer's echo verdict about a pulled record only when
// it proves the record's current state is our write: the integration user
// last modified it, it carries our marker or a matching sentinel, or its
// values equal our pending write. Any other echo evidence (the record equals
// the last genuine state the app received by webhook) is not proof: the
// record stays and the verdict becomes a pass with the same reason.
//
// The actor needs more on a pull than on a webhook. A webhook event is one
// change; a pulled record is every change since the last poll, and "last
// modified by" names only the latest: a human's edit of another field just
// before our write would be lost with it. So when the ledger knows the
// record and a tracked value is neither our pending write nor the last
// genuine state, the actor's verdict is overruled (ReasonUnaccounted) and the
// record stays; a store error keeps it too.
func pullVerdict(ctx context.Context, v Verdict, ev *Event, lk *lookup) Verdict {
	if v.Kind != Echo {
		return v
	}
	if !provesOurWrite(v.Reason) {
		return Verdict{Reason: v.Reason, Detail: v.Detail + "; kept: not proof of our write"}
	}
	if v.Reason != ReasonIntegrationUser || len(ev.Fields) == 0 {
		return v
	}
	st, known, err := lk.state(ctx)
	if err != nil {
		return abstain(ReasonStoreError, err.Error())
	}
	if !known {
		return v
	}
	for _, f := range ev.Fields {
		if !accounted(st, f) {
			return Verdict{Reason: ReasonUnaccounted, Detail: v.Detail + " last modified the record, but " + f.Name + " holds a value we did not write: kept"}
		}
	}
	return v
}

// accounted reports whether a value is what the app holds or what one of
// our unsettled writes left.
func accounted(st *ledger.State, f ledger.Field) bool {
	if v, ok := st.AppValue(f.Name); ok && v.Hash == f.Hash {
		return true
	}
	one := []ledger.Field{f}
	for i := range st.Writes {
		if st.Writes[i].Expects(one) {
			return true
		}
	}
	return false
}

// provesOurWrite lists the echo reasons that prove a record is our write.
func provesOurWrite(r Reason) bool {
	switch r {
	case ReasonIntegrationUser, ReasonChangeAgent, ReasonSentinelMatch, ReasonSentinelChange, ReasonPendingWrite:
		return true
	}
	return false
}

// WholePull is the decision about a read response whose records were not
// evaluated (oversize, malformed, an encoding that cannot be decoded): the
// response reaches the app untouched.
func (e *Engine) WholePull(provider, account string, r Reason, detail string) Decision {
	d := Decision{Time: e.now(), Source: SourcePull, Action: Forward, Layer: "response", Reason: r, Detail: detail, Provider: provider, Account: account}
	return d
}
