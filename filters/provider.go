package filters

import (
	"fmt"
	"slices"
	"strings"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/tagging"
)

// Provider is a compiled provider profile (per account, where accounts
// override it): routes, fingerprinting and the echo chain, built once.
type Provider struct {
	Name    string
	Profile *configs.Profile
	FP      *tagging.Fingerprinter

	agent    string
	writes   []*WriteRoute
	webhooks []*WebhookRoute
	users    map[string]bool
	chain    []Layer
	observe  bool
	accounts map[string]*Provider
}

// WriteRoute is a compiled write route.
type WriteRoute struct {
	Methods  []string
	Tpl      *Template
	Object   string // literal or "{param}"
	RecordID string // "{param}" or ""
	Fields   string
	CreateID string
}

// WebhookRoute is a compiled webhook route.
type WebhookRoute struct {
	Method   string
	Tpl      *Template
	batch    string
	eventID  []valueSpec
	record   valueSpec
	object   valueSpec
	account  valueSpec
	actor    valueSpec
	occurred valueSpec
	recPath  string
	partial  bool
	propName valueSpec
	propVal  valueSpec
	sentinel string
	markers  []marker
}

type marker struct {
	from  valueSpec
	match string
	value string
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
		users:   map[string]bool{},
		observe: pr.Observe,
	}
	norm := map[string][]string{}
	for k, v := range pr.Normalize {
		norm[k] = v
	}
	p.FP = tagging.NewFingerprinter(pr.TrackedFields, norm)
	for _, u := range pr.IntegrationUsers {
		p.users[u] = true
	}
	for i, w := range pr.Writes {
		tpl, err := CompileTemplate(w.Path)
		if err != nil {
			return nil, fmt.Errorf("writes[%d].path: %w", i, err)
		}
		params, _ := configs.TemplateParams(w.Path)
		r := &WriteRoute{Methods: w.Methods, Tpl: tpl, Object: w.Object, RecordID: w.RecordID, Fields: w.Fields, CreateID: w.CreateID}
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
		p.writes = append(p.writes, r)
	}
	for i, h := range pr.Webhooks {
		tpl, err := CompileTemplate(h.Path)
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d].path: %w", i, err)
		}
		r := &WebhookRoute{
			Method: h.Method, Tpl: tpl, batch: h.Batch,
			record: compileSpec(h.RecordID), object: compileSpec(h.ObjectType),
			account: compileSpec(h.Account), actor: compileSpec(h.Actor),
			occurred: compileSpec(h.OccurredAt), recPath: h.Record, partial: h.Partial,
			propName: compileSpec(h.PropertyName), propVal: compileSpec(h.PropertyValue),
			sentinel: h.Sentinel,
		}
		for _, s := range h.EventID {
			r.eventID = append(r.eventID, compileSpec(s))
		}
		for _, m := range h.Markers {
			r.markers = append(r.markers, marker{
				from:  compileSpec(m.From),
				match: m.Match,
				value: strings.NewReplacer("{agent}", agent, "{idempotency_prefix}", pr.Tagging.IdempotencyKey.Prefix).Replace(m.Value),
			})
		}
		p.webhooks = append(p.webhooks, r)
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
