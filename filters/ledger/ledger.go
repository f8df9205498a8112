// Package ledger remembers what loopguard wrote and what the app last
// accepted, per record and per tracked field, so an inbound event can be told
// apart from our own echo. The Store interface is narrow so that a shared
// store (Redis) can stand behind it; the embedded default is bigcache.
package ledger

import "context"

// Key names one record. The account is deliberately not part of it: the
// outbound side usually knows the account only as a credential while the
// inbound side knows a tenant id, and record ids are unique within a
// provider's object type.
type Key struct {
	Provider, Object, Record string
}

// String renders the key as "provider|object|record" ('%' and '|' in parts
// are escaped, so distinct keys never render alike) for storage and logs.
func (k Key) String() string { return string(k.Append(nil)) }

// Append appends the String form to b (no allocation when b has room).
func (k Key) Append(b []byte) []byte {
	b = appendEscaped(b, k.Provider)
	b = append(b, '|')
	b = appendEscaped(b, k.Object)
	b = append(b, '|')
	return appendEscaped(b, k.Record)
}

func appendEscaped(b []byte, s string) []byte {
	if !needsEscape(s) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			b = append(b, "%25"...)
		case '|':
			b = append(b, "%7C"...)
		default:
			b = append(b, s[i])
		}
	}
	return b
}

// Field is one tracked field and the hash of its normalised value.
type Field struct {
	Name string
	Hash uint64
}

// Stats are counters for metrics.
type Stats struct {
	Entries   int
	Evictions uint64
	Events    int
}

// Store is every piece of echo-filter state. Implementations are safe for
// concurrent use and apply the same rules (State.ApplyWrite, ApplyAccept,
// Prune), so switching stores changes no decision. Errors mean the store
// could not answer; callers then abstain (never drop on a store error).
type Store interface {
	// RecordWrite appends our write to k's history (see State.ApplyWrite).
	RecordWrite(ctx context.Context, k Key, w Write) error
	// Accept records what the app now holds of k after an event: a genuine
	// state it accepted, or an echo that settled one of our writes (see
	// State.ApplyAccept).
	Accept(ctx context.Context, k Key, a Accept) error
	// Get loads the state of k into st (reusing its slices); ok is false
	// when nothing is known.
	Get(ctx context.Context, k Key, st *State) (ok bool, err error)
	// EventSeen reports whether an event id was forwarded and accepted
	// within the dedup window.
	EventSeen(ctx context.Context, id string) (bool, error)
	// MarkEvent remembers a forwarded, accepted event id.
	MarkEvent(ctx context.Context, id string) error
	// Stats returns counters for metrics.
	Stats() Stats
	// Close releases resources.
	Close() error
}

// needsEscape reports whether s holds '%' or '|' (a plain loop: it runs on
// every ledger lookup, where strings.ContainsAny's set handling cost more
// than the bytes).
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c == '|' {
			return true
		}
	}
	return false
}
