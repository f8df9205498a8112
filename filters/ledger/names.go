package ledger

import "sync"

// nameTable interns field names read back from encoded states: a deployment
// tracks a few dozen field names, so decoding a state need not allocate
// them again and again. It is bounded; past the bound names are allocated
// as usual.
type nameTable struct {
	mu sync.RWMutex
	m  map[string]string
}

// maxInternedNames bounds the table.
const maxInternedNames = 4096

func newNameTable() *nameTable { return &nameTable{m: map[string]string{}} }

// intern returns b as a string, shared with earlier calls for equal bytes.
// A nil table allocates.
func (t *nameTable) intern(b []byte) string {
	if t == nil {
		return string(b)
	}
	t.mu.RLock()
	s, ok := t.m[string(b)] // no allocation for the lookup
	t.mu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	t.mu.Lock()
	if len(t.m) < maxInternedNames {
		t.m[s] = s
	}
	t.mu.Unlock()
	return s
}
