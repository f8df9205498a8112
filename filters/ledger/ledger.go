// Package ledger remembers what loopguard wrote and what the app last
// accepted, per record and per tracked field, so an inbound event can be told
// apart from our own echo. The Store interface is narrow so that a shared
// store (Redis) can stand behind it; the embedded default is bigcache.
package ledger

import (
	"context"
	"strings"
	"time"
)

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
	if !strings.ContainsAny(s, "%|") {
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

// MaxPending is how many of our writes per field are remembered since the
// last genuine state (several writes can be in flight).
const MaxPending = 4

// FieldState is what the ledger knows of one field of one record.
type FieldState struct {
	Name string
	// Pending are the value hashes of our writes since the last genuine
	// state, oldest first.
	Pending []uint64
	// Seen is the last genuine value the app accepted, when HasSeen.
	Seen    uint64
	HasSeen bool
}

// State is what the ledger knows of one record.
type State struct {
	Fields []FieldState
	// LastWrite is when we last wrote the record (zero: never, or expired).
	LastWrite time.Time
	// LastSeen is when a genuine state of the record was last accepted by
	// the app (zero: never, or expired).
	LastSeen time.Time
	// WriteFP is the combined fingerprint of our last write.
	WriteFP uint64
}

// Field returns the state of the named field, if any.
func (s *State) Field(name string) (*FieldState, bool) {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i], true
		}
	}
	return nil, false
}

// Stats are counters for metrics.
type Stats struct {
	Entries   int
	Evictions uint64
	Events    int
}

// Store is every piece of echo-filter state. Implementations are safe for
// concurrent use. Errors mean the store could not answer; callers then
// abstain (never drop on a store error).
type Store interface {
	// RecordWrite remembers our write of fields to k as pending.
	RecordWrite(ctx context.Context, k Key, fields []Field, fp uint64, at time.Time) error
	// RecordSeen remembers a genuine state the app accepted: each field's
	// Seen value is set and its pending writes are cleared.
	RecordSeen(ctx context.Context, k Key, fields []Field, at time.Time) error
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

// Prune forgets writes older than writeTTL and genuine states older than
// seenTTL at now — the expiry rule every store applies on read (a write is
// still pending at exactly writeTTL). Fields left with nothing are removed.
func (st *State) Prune(now time.Time, writeTTL, seenTTL time.Duration) {
	writesGone := !st.LastWrite.IsZero() && now.Sub(st.LastWrite) > writeTTL
	seenGone := !st.LastSeen.IsZero() && now.Sub(st.LastSeen) > seenTTL
	if writesGone {
		st.LastWrite, st.WriteFP = time.Time{}, 0
	}
	if seenGone {
		st.LastSeen = time.Time{}
	}
	// Partition by swapping rather than copying: a dropped slot keeps its
	// own Pending array, so a State reused by a later read never has two
	// fields sharing one backing array.
	k := 0
	for i := range st.Fields {
		f := &st.Fields[i]
		if writesGone || st.LastWrite.IsZero() {
			f.Pending = f.Pending[:0]
		}
		if seenGone || st.LastSeen.IsZero() {
			f.HasSeen, f.Seen = false, 0
		}
		if len(f.Pending) > 0 || f.HasSeen {
			st.Fields[k], st.Fields[i] = st.Fields[i], st.Fields[k]
			k++
		}
	}
	st.Fields = st.Fields[:k]
}
