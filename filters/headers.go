package filters

import "slices"

// HeaderNames returns the canonical names of the header fields judging a
// delivery of r reads (every "header:" spec of r's group — its when
// conditions, ids, event fields, markers and shape — and Content-Type
// when its body may be a form), each once; nil when it reads none. A
// caller that has the delivery's header in another form may give Judge a
// header holding only these fields: the judgement is the same (issue 19:
// the inbound native path then builds no map of the whole header).
func (r *WebhookRoute) HeaderNames() []string { return r.hdrNames }

// headerNames computes HeaderNames once r's group is whole.
func (r *WebhookRoute) headerNames() []string {
	group := r.group
	if len(group) == 0 {
		group = []*WebhookRoute{r}
	}
	var names []string
	add := func(v *valueSpec) {
		for a := v; a != nil; a = a.next {
			if a.kind == specHeader && !slices.Contains(names, a.s) {
				names = append(names, a.s)
			}
		}
	}
	for _, g := range group {
		for _, v := range []*valueSpec{&g.object, &g.account, &g.actor, &g.occurred, &g.recPath, &g.propName, &g.propVal,
			&g.shape.changed, &g.shape.nulled, &g.shape.diff, &g.shape.seq} {
			add(v)
		}
		for _, c := range []compositeSpec{g.eventID, g.record} {
			for i := range c {
				add(&c[i])
			}
		}
		for i := range g.markers {
			add(&g.markers[i].from)
		}
		if g.when != nil {
			add(&g.when.from)
		}
		if g.formField != "" && !slices.Contains(names, "Content-Type") {
			names = append(names, "Content-Type") // isForm
		}
	}
	return names
}
