package filters

import (
	"strings"

	"github.com/loopguard/loopguard/tagging/jsonscan"
	"github.com/tidwall/gjson"
)

// evView is one event object whose members a route's value specs read
// are found in one scan (jsonscan.Members) — top-level members, and the
// members one level down in those that are objects — instead of one gjson
// lookup from the object's start per spec (which re-reads every member
// before the one it wants, nested record included: ~25 % of a realistic
// delivery's extraction, issue 19). A spec whose path is not plain, or
// whose keys the route did not list, is looked up with gjson as before;
// so is every spec when the scan could not read the object. Both give the
// same value (TestEvViewMatchesGet).
type evView struct {
	ev gjson.Result
	// keys are the route's plain spec keys (WebhookRoute.heads); vals the
	// raw value of each in ev ("": absent), valid when read; sub marks
	// the top-level keys whose object value was scanned for its keys.
	keys []viewKey
	vals [maxHeads]string
	sub  uint32
	read bool
}

// viewKey is a key an evView looks for: a top-level member (parent -1)
// or a member of the object at keys[parent].
type viewKey struct {
	parent int
	key    string
}

// maxHeads bounds the keys one scan looks for (a stack array).
const maxHeads = 16

// view is an evView of ev without scanned keys: every lookup is gjson's.
func view(ev gjson.Result) evView { return evView{ev: ev} }

// scan reads ev's members once for keys.
func (x *evView) scan(keys []viewKey) {
	if len(keys) == 0 || len(keys) > maxHeads || !x.ev.IsObject() {
		return
	}
	x.keys = keys
	x.read = x.members(x.ev.Raw, -1)
	if !x.read {
		return
	}
	for i, k := range keys {
		if k.parent < 0 && hasChildren(keys, i) && strings.HasPrefix(x.vals[i], "{") && x.members(x.vals[i], i) {
			x.sub |= 1 << i
		}
	}
}

// members fills vals with the members of obj that are keys under parent.
func (x *evView) members(obj string, parent int) bool {
	var found uint32
	left := 0
	for _, k := range x.keys {
		if k.parent == parent {
			left++
		}
	}
	return jsonscan.Members(obj, func(key string, esc bool, val string) bool {
		if esc {
			key = string(jsonscan.AppendUnescaped(nil, key))
		}
		for i, k := range x.keys {
			if k.parent == parent && k.key == key && found&(1<<i) == 0 { // the first occurrence wins, as with Get
				found |= 1 << i
				x.vals[i] = val
				left--
				break
			}
		}
		return left > 0
	})
}

func hasChildren(keys []viewKey, i int) bool {
	for _, k := range keys {
		if k.parent == i {
			return true
		}
	}
	return false
}

// find is the index of key under parent in x.keys, or -1.
func (x *evView) find(parent int, key string) int {
	for i, k := range x.keys {
		if k.parent == parent && k.key == key {
			return i
		}
	}
	return -1
}

// get is ev.Get(v.s) for a path spec.
func (x *evView) get(v *valueSpec) gjson.Result {
	if !x.read || v.head == "" {
		return x.ev.Get(v.s)
	}
	i := x.find(-1, v.head)
	if i < 0 {
		return x.ev.Get(v.s)
	}
	if x.vals[i] == "" {
		return gjson.Result{}
	}
	if v.rest == "" {
		return parseRaw(x.vals[i])
	}
	if x.sub&(1<<i) != 0 {
		sub, rest, _ := strings.Cut(v.rest, ".")
		if j := x.find(i, sub); j >= 0 {
			if x.vals[j] == "" {
				return gjson.Result{}
			}
			if rest != "" {
				return gjson.Parse(x.vals[j]).Get(rest)
			}
			return parseRaw(x.vals[j])
		}
	}
	return gjson.Parse(x.vals[i]).Get(v.rest)
}

// parseRaw is gjson.Parse(raw) for a member's raw value; a string without
// escapes (ids, types, times: most of what specs read) is taken as it is,
// without gjson's copy-free but byte-by-byte scan.
func parseRaw(raw string) gjson.Result {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && strings.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
		return gjson.Result{Type: gjson.String, Raw: raw, Str: raw[1 : len(raw)-1]}
	}
	return gjson.Parse(raw)
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

// specHeads lists the keys of the plain spec paths an event of r is
// extracted with (Provider.event and the record id): each path's first
// key and, under it, its second; at most maxHeads.
func (r *WebhookRoute) specHeads() []viewKey {
	var keys []viewKey
	add := func(parent int, key string) int {
		for i, k := range keys {
			if k.parent == parent && k.key == key {
				return i
			}
		}
		if len(keys) == maxHeads {
			return -1
		}
		keys = append(keys, viewKey{parent: parent, key: key})
		return len(keys) - 1
	}
	spec := func(v *valueSpec) {
		for a := v; a != nil; a = a.next {
			if a.kind != specPath || a.head == "" {
				continue
			}
			if i := add(-1, a.head); i >= 0 && a.rest != "" {
				sub, _, _ := strings.Cut(a.rest, ".")
				add(i, sub)
			}
		}
	}
	for _, v := range []*valueSpec{&r.object, &r.account, &r.actor, &r.occurred, &r.recPath, &r.propName, &r.propVal} {
		spec(v)
	}
	for _, c := range []compositeSpec{r.eventID, r.record} {
		for i := range c {
			spec(&c[i])
		}
	}
	for i := range r.markers {
		spec(&r.markers[i].from)
	}
	return keys
}
