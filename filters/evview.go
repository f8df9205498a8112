package filters

import (
	"strings"

	"github.com/loopguard/loopguard/tagging/jsonscan"
	"github.com/tidwall/gjson"
)

// evView is one event object whose top-level members a route's value
// specs read are found in one scan (jsonscan.Members), instead of one
// gjson lookup from the object's start per spec (which re-reads every
// member before the one it wants, nested records included: ~25 % of a
// realistic delivery's extraction, issue 19). A spec whose path is not
// plain, or whose first component the route did not list, is looked up
// with gjson as before; so is every spec when the scan could not read the
// object. Both give the same value (TestEvViewMatchesGet).
type evView struct {
	ev gjson.Result
	// heads are the route's plain spec heads (WebhookRoute.heads); vals
	// the raw value of each in ev ("": absent), valid when read.
	heads []string
	vals  [maxHeads]string
	read  bool
}

// maxHeads bounds the heads one scan looks for (a stack array).
const maxHeads = 16

// view is an evView of ev without scanned heads: every lookup is gjson's.
func view(ev gjson.Result) evView { return evView{ev: ev} }

// scan reads ev's members once for heads.
func (x *evView) scan(heads []string) {
	if len(heads) == 0 || len(heads) > maxHeads || !x.ev.IsObject() {
		return
	}
	x.heads = heads
	var found uint32
	left := len(heads)
	x.read = jsonscan.Members(x.ev.Raw, func(key string, esc bool, val string) bool {
		if esc {
			key = string(jsonscan.AppendUnescaped(nil, key))
		}
		for i, h := range heads {
			if h == key && found&(1<<i) == 0 { // the first occurrence wins, as with Get
				found |= 1 << i
				x.vals[i] = val
				left--
				break
			}
		}
		return left > 0
	})
}

// get is ev.Get(v.s) for a path spec.
func (x *evView) get(v *valueSpec) gjson.Result {
	if x.read && v.head != "" {
		for i, h := range x.heads {
			if h != v.head {
				continue
			}
			if x.vals[i] == "" {
				return gjson.Result{}
			}
			r := gjson.Parse(x.vals[i])
			if v.rest != "" {
				r = r.Get(v.rest)
			}
			return r
		}
	}
	return x.ev.Get(v.s)
}

// plainPath splits a gjson path made only of keys (letters, digits, '_',
// '-', '$', joined by single dots) into its first key and the rest; ok is
// false for any other path (wildcards, escapes, modifiers, queries...).
func plainPath(s string) (head, rest string, ok bool) {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '$' || c == '.') {
			return "", "", false
		}
	}
	head, rest, _ = strings.Cut(s, ".")
	return head, rest, true
}

// specHeads lists the distinct plain heads of the specs an event of r is
// extracted with (Provider.event and the record id), at most maxHeads.
func (r *WebhookRoute) specHeads() []string {
	var heads []string
	add := func(v *valueSpec) {
		for a := v; a != nil; a = a.next {
			if a.kind == specPath && a.head != "" && len(heads) < maxHeads && !containsStr(heads, a.head) {
				heads = append(heads, a.head)
			}
		}
	}
	for _, v := range []*valueSpec{&r.object, &r.account, &r.actor, &r.occurred, &r.recPath, &r.propName, &r.propVal} {
		add(v)
	}
	for _, c := range []compositeSpec{r.eventID, r.record} {
		for i := range c {
			add(&c[i])
		}
	}
	for i := range r.markers {
		add(&r.markers[i].from)
	}
	return heads
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
