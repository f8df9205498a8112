package filters

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/tagging"
	"github.com/loopguard/loopguard/tagging/jsonlimit"
	"github.com/tidwall/gjson"
)

// Provider is a compiled provider profile (per account, where accounts
// override it): routes, fingerprinting and the echo chain, built once.
type Provider struct {
	Name    string
	Profile *configs.Profile
	FP      *tagging.Fingerprinter

	agent    string
	key      *tagging.Key // deployment key (sentinels)
	secret   []byte       // deployment key (account keys)
	offers   *offers      // values being handed to the app
	store    ledger.Store // what the app holds, for no-op writes
	writes   []*WriteRoute
	webhooks []*WebhookRoute
	// reads are the compiled read routes: webhook-shaped routes whose
	// events are the records of a read response (source pull).
	reads    []*WebhookRoute
	users    map[string]bool
	chain    []Layer
	observe  bool
	accounts map[string]*Provider
	// depth bounds the nesting of bodies handed to gjson (see
	// LimitJSONDepth); zero is jsonlimit.DefaultMaxDepth.
	depth jsonlimit.Limit
	// eventPaths maps a tracked field to where webhook records carry it,
	// where the profile's compound map says they differ.
	eventPaths map[string]string
}

// WriteRoute is a compiled write route.
type WriteRoute struct {
	Methods  []string
	Tpl      *Template
	Object   string // literal or "{param}"
	RecordID string // "{param}", a template like "{owner}/{repo}:{id}", or ""
	Fields   string
	CreateID string
	// TagOnly: stamp headers only; the body is untouched and not recorded.
	TagOnly bool
	// Response is the response path of the written record ("-": none);
	// ResponseTime the spec of its provider time or version.
	Response     string
	ResponseTime valueSpec
	// batch and gql make the route a multi-record write (see Multi).
	batch *batchRoute
	gql   *gqlRoute
}

// WebhookRoute is a compiled webhook route, or a compiled read route: a
// read response's records are events like a delivery's, so both directions
// share one extraction and one rewrite.
type WebhookRoute struct {
	Method string
	Tpl    *Template
	batch  string
	// formField: the JSON of form-encoded deliveries is this field's value.
	formField string
	when      *condition
	// group is the routes sharing this route's method and path, in order;
	// each event takes the first whose condition holds.
	group []*WebhookRoute
	// nullsUnchanged: a null tracked value means "not changed" (left out).
	nullsUnchanged bool
	// unordered: events may arrive out of order (configs Unordered).
	unordered bool
	// everyWrite: every accepted write has an event (configs EveryWrite).
	everyWrite bool
	eventID    compositeSpec
	record     compositeSpec
	object     valueSpec
	account    valueSpec
	actor      valueSpec
	occurred   valueSpec
	recPath    valueSpec
	partial    bool
	propName   valueSpec
	propVal    valueSpec
	sentinel   string
	markers    []marker
	// source is what the route's events are: webhook, or pull for a read.
	source Source
	// objParam names the path parameter that is the object type (reads
	// only: "{object}" in /crm/v3/objects/{object}).
	objParam string
	// gql is a GraphQL read's query field and its list and record paths
	// relative to the field's result (see GraphQLReads).
	gql *gqlRead
	// shape holds the delivery shape beyond JSON batches (filters/shapes.go).
	shape routeShape
	// heads are the keys of the route's plain spec paths, read in one
	// scan of each event (evView).
	heads []viewKey
	// hdrNames: HeaderNames.
	hdrNames []string
}

type marker struct {
	from  valueSpec
	match string
	value string
	sep   string
}

// condition is a compiled configs.Condition.
type condition struct {
	from   valueSpec
	in     []string
	prefix []string
}

func (c *condition) holds(ev, root gjson.Result, h http.Header) bool {
	if c == nil {
		return true
	}
	v := c.from.str(ev, root, h)
	if slices.Contains(c.in, v) {
		return true
	}
	for _, p := range c.prefix {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// NewProvider compiles a resolved provider and its account overrides.
func NewProvider(p *configs.Provider, agent string, deps Deps) (*Provider, error) {
	base, err := compileProfile(&p.Profile, agent, deps)
	if err != nil {
		return nil, err
	}
	base.accounts = map[string]*Provider{}
	for id, ap := range p.Accounts {
		c, err := compileProfile(ap, agent, deps)
		if err != nil {
			return nil, fmt.Errorf("accounts.%s: %w", id, err)
		}
		base.accounts[id] = c
	}
	return base, nil
}

// ForAccount returns the compiled profile for an account.
func (p *Provider) ForAccount(account string) *Provider {
	if a, ok := p.accounts[account]; ok {
		return a
	}
	return p
}

// Observe reports whether this provider only observes.
func (p *Provider) Observe() bool { return p.observe }

// Chain returns the names of the enabled layers, in order.
func (p *Provider) Chain() []string {
	out := make([]string, len(p.chain))
	for i, l := range p.chain {
		out[i] = l.Name()
	}
	return out
}

func compileProfile(pr *configs.Profile, agent string, deps Deps) (*Provider, error) {
	p := &Provider{
		Name:    pr.Name,
		Profile: pr,
		agent:   agent,
		key:     deps.Key,
		secret:  deps.Secret,
		offers:  deps.offers,
		store:   deps.Store,
		users:   map[string]bool{},
		observe: pr.Observe,
	}
	norm := map[string][]string{}
	for k, v := range pr.Normalize {
		norm[k] = v
	}
	p.FP = tagging.NewFingerprinter(pr.TrackedFields, norm)
	p.eventPaths = eventPaths(pr.Compound)
	for _, u := range pr.IntegrationUsers {
		p.users[u] = true
	}
	for i, w := range pr.Writes {
		tpl, err := CompileTemplate(w.Path)
		if err != nil {
			return nil, fmt.Errorf("writes[%d].path: %w", i, err)
		}
		params, _ := configs.TemplateParams(w.Path)
		r := &WriteRoute{Methods: w.Methods, Tpl: tpl, Object: w.Object, RecordID: w.RecordID, Fields: w.Fields, CreateID: w.CreateID, TagOnly: w.TagOnly,
			Response: w.Response, ResponseTime: compileSpec(w.ResponseTime)}
		if r.Response == "" {
			r.Response = w.Fields
		}
		if r.Object == "" {
			if slices.Contains(params, "object") {
				r.Object = "{object}"
			} else {
				r.Object = w.Path
			}
		}
		if r.RecordID == "" && slices.Contains(params, "id") {
			r.RecordID = "{id}"
		}
		r.compileMulti(&w)
		p.writes = append(p.writes, r)
	}
	for i, h := range pr.Webhooks {
		tpl, err := CompileTemplate(h.Path)
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d].path: %w", i, err)
		}
		r := &WebhookRoute{
			Method: h.Method, Tpl: tpl, source: SourceWebhook, batch: h.Batch, formField: formFieldOf(h.Body),
			eventID: compileComposite(h.EventID), record: compileComposite(h.RecordID),
			object: compileSpec(h.ObjectType), account: compileSpec(h.Account), actor: compileSpec(h.Actor),
			occurred: compileSpec(h.OccurredAt), recPath: compileSpec(h.Record), partial: h.Partial, nullsUnchanged: h.Nulls == "unchanged", unordered: h.Unordered, everyWrite: h.EveryWrite,
			propName: compileSpec(h.PropertyName), propVal: compileSpec(h.PropertyValue),
			sentinel: h.Sentinel,
		}
		if h.When != nil {
			r.when = &condition{from: compileSpec(h.When.From), in: h.When.In, prefix: h.When.Prefix}
		}
		r.markers = compileMarkers(h.Markers, agent, pr.Tagging.IdempotencyKey.Prefix)
		r.shape = compileShape(h)
		r.heads = r.specHeads()
		if err := joinGroup(p.webhooks, r); err != nil {
			return nil, fmt.Errorf("webhooks[%d]: %w", i, err)
		}
		p.webhooks = append(p.webhooks, r)
	}
	for _, r := range p.webhooks {
		r.hdrNames = r.headerNames()
	}
	if err := p.compileReads(pr.Reads); err != nil {
		return nil, err
	}
	for _, name := range configs.LayerNames {
		if !pr.Layers[name] {
			continue
		}
		l, err := newLayer(name, p, deps)
		if err != nil {
			return nil, fmt.Errorf("layers.%s: %w", name, err)
		}
		p.chain = append(p.chain, l)
	}
	return p, nil
}

// compileMarkers compiles a route's markers; "{agent}" and
// "{idempotency_prefix}" in their values are replaced.
func compileMarkers(ms []configs.Marker, agent, idemPrefix string) []marker {
	var out []marker
	for _, m := range ms {
		out = append(out, marker{
			from:  compileSpec(m.From),
			match: m.Match,
			value: strings.NewReplacer("{agent}", agent, "{idempotency_prefix}", idemPrefix).Replace(m.Value),
			sep:   m.Separator,
		})
	}
	return out
}

// joinGroup adds r to the group of an earlier route with the same method
// and path, or starts its own.
func joinGroup(earlier []*WebhookRoute, r *WebhookRoute) error {
	for _, e := range earlier {
		if e.Method != r.Method || e.Tpl.String() != r.Tpl.String() {
			continue
		}
		if e.batch != r.batch {
			return fmt.Errorf("batch %q differs from %q of the earlier route for %s %s; routes sharing a path share one batch", r.batch, e.batch, r.Method, r.Tpl)
		}
		e.group = append(e.group, r)
		r.group = e.group
		// Every member shares the one slice header of the group's first route.
		for _, m := range e.group {
			m.group = e.group
		}
		return nil
	}
	r.group = []*WebhookRoute{r}
	return nil
}

// pick returns the route of r's group that an event belongs to, or nil.
func (r *WebhookRoute) pick(ev, root gjson.Result, h http.Header) *WebhookRoute {
	if len(r.group) == 0 {
		if r.when.holds(ev, root, h) {
			return r
		}
		return nil
	}
	for _, g := range r.group {
		if g.when.holds(ev, root, h) {
			return g
		}
	}
	return nil
}

// MatchWebhook finds the webhook route for a delivery.
func (p *Provider) MatchWebhook(method, path string) (*WebhookRoute, bool) {
	var ps Params
	for _, r := range p.webhooks {
		if r.Method == method && r.Tpl.Match(path, &ps) {
			return r, true
		}
	}
	return nil, false
}

// canonObject maps an object name through the profile's objects table.
func (p *Provider) canonObject(o string) string {
	if c, ok := p.Profile.Objects[o]; ok {
		return c
	}
	return o
}
