package filters

import (
	"fmt"

	"github.com/loopguard/loopguard/tagging/jsonlimit"
)

// ErrTooDeep is returned for a body nested deeper than the JSON depth
// limit. It is an ErrMalformed: such a body is never handed to a recursive
// parser (gjson.Valid, sjson), and passes untouched like a malformed one.
var ErrTooDeep = fmt.Errorf("%w: JSON nested deeper than the depth limit", ErrMalformed)

// LimitJSONDepth sets, for every provider and account profile, the nesting
// depth above which a body is not parsed (webhooks, poll responses, writes
// and create responses); n <= 0 keeps jsonlimit.DefaultMaxDepth. Call it
// once, before the engine is used: like New's options, it is not meant to
// change while deliveries are decided.
func (e *Engine) LimitJSONDepth(n int) {
	for _, p := range e.providers {
		p.depth = jsonlimit.Limit(n)
		for _, a := range p.accounts {
			a.depth = jsonlimit.Limit(n)
		}
	}
}

// tooDeep reports a body over the provider's depth limit.
func (p *Provider) tooDeep(b []byte) bool { return p.depth.Exceeded(b) }

// checkJSON is tooDeep and, for a body within the limit, gjson.ValidBytes
// in one pass (jsonlimit.Limit.Check); valid is false for a too-deep body.
func (p *Provider) checkJSON(b []byte) (valid, tooDeep bool) { return p.depth.Check(b) }

// validJSON reports a body within the depth limit that is valid JSON:
// !p.tooDeep(b) && gjson.ValidBytes(b), in one pass.
func (p *Provider) validJSON(b []byte) bool {
	valid, _ := p.depth.Check(b)
	return valid
}

// errTooDeep names the operation and the limit.
func (p *Provider) errTooDeep(op string) error {
	return fmt.Errorf("%s %s: %w (%d levels)", op, p.Name, ErrTooDeep, p.depth.Max())
}
