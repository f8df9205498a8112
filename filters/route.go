package filters

import (
	"strings"

	"github.com/loopguard/loopguard/configs"
)

// Template is a compiled path template such as "/crm/v3/objects/{object}/{id}".
type Template struct {
	raw  string
	segs []tplSeg
	rest bool // last segment is {name...}
}

type tplSeg struct {
	lit   string
	param string // non-empty for a parameter segment
	ext   string // a literal extension after the parameter ("{id}.json")
}

// Params holds matched path parameters; small and allocation-free.
type Params struct {
	n  int
	kv [8][2]string
}

// Get returns a parameter's value.
func (p *Params) Get(name string) (string, bool) {
	for i := 0; i < p.n; i++ {
		if p.kv[i][0] == name {
			return p.kv[i][1], true
		}
	}
	return "", false
}

func (p *Params) add(k, v string) {
	if p.n < len(p.kv) {
		p.kv[p.n] = [2]string{k, v}
		p.n++
	}
}

// CompileTemplate parses a path template.
func CompileTemplate(tpl string) (*Template, error) {
	if _, err := configs.TemplateParams(tpl); err != nil {
		return nil, err
	}
	t := &Template{raw: tpl}
	for _, s := range strings.Split(strings.TrimPrefix(tpl, "/"), "/") {
		if strings.HasPrefix(s, "{") {
			j := strings.IndexByte(s, '}')
			name := s[1:j]
			if n, ok := strings.CutSuffix(name, "..."); ok {
				t.rest = true
				name = n
			}
			t.segs = append(t.segs, tplSeg{param: name, ext: s[j+1:]})
			continue
		}
		t.segs = append(t.segs, tplSeg{lit: s})
	}
	return t, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.raw }

// Match matches a request path (without query); a trailing slash is
// ignored.
func (t *Template) Match(path string, p *Params) bool {
	p.n = 0
	path = strings.TrimPrefix(path, "/")
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	for i, s := range t.segs {
		if t.rest && i == len(t.segs)-1 {
			if path == "" {
				return false
			}
			p.add(s.param, path)
			return true
		}
		var seg string
		if j := strings.IndexByte(path, '/'); j >= 0 {
			seg, path = path[:j], path[j+1:]
		} else {
			if path == "" && i < len(t.segs) && !(len(t.segs) == 1 && s.lit == "") {
				return false
			}
			seg, path = path, ""
			if i != len(t.segs)-1 {
				return false
			}
		}
		if s.param != "" {
			if s.ext != "" {
				v, ok := strings.CutSuffix(seg, s.ext)
				if !ok {
					return false
				}
				seg = v
			}
			if seg == "" {
				return false
			}
			p.add(s.param, seg)
		} else if s.lit != seg {
			return false
		}
	}
	return path == ""
}
