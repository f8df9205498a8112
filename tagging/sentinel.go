package tagging

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
	"unsafe"
)

// A sentinel is the value loopguard stamps into a write's body:
//
//	<agent>:<nonce, 16 hex>.<mac, 16 hex>
//
// The nonce is random per write and kept with the write in the ledger; the
// MAC is HMAC-SHA256 with the deployment key over the record it was
// written to (provider, object, record id — empty for a create, whose id
// does not exist yet), the nonce and the fingerprint of the written
// fields. So a sentinel cannot be typed (no key), and a copied one is no
// evidence: it either fails the MAC for another record or names no
// unsettled write of that record in the ledger.
const (
	nonceHex = 16
	macHex   = 16
	// sentinelLabel starts every sentinel MAC's input: one deployment key
	// serves several MACs (sentinels, account keys), each in its own domain.
	sentinelLabel = "loopguard sentinel v1\x00"
)

// Binding is what a sentinel is bound to.
type Binding struct {
	Provider, Object, Record string
	Nonce, FP                uint64
}

// Key is a deployment key ready to stamp and verify sentinels. It keeps a
// pool of keyed MAC states, so verifying costs no allocation. It is safe
// for concurrent use.
type Key struct {
	pool sync.Pool
}

// macState is a pooled keyed MAC with its scratch buffers: buffers handed
// to a hash.Hash (an interface) escape, so on the stack they would cost two
// allocations per MAC.
type macState struct {
	h   hash.Hash
	n   [16]byte
	sum [sha256.Size]byte
}

// NewKey prepares key.
func NewKey(key []byte) *Key {
	k := &Key{}
	key = bytes.Clone(key)
	k.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return k
}

// Sentinel renders the sentinel of b for agent.
func (k *Key) Sentinel(agent string, b Binding) string {
	var buf [nonceHex / 2]byte
	binary.BigEndian.PutUint64(buf[:], b.Nonce)
	var m [macHex / 2]byte
	k.mac(b, &m)
	return agent + ":" + hex.EncodeToString(buf[:]) + "." + hex.EncodeToString(m[:])
}

// Verify reports whether macHexStr is the MAC of b (in constant time).
func (k *Key) Verify(b Binding, macHexStr string) bool {
	var want, got [macHex / 2]byte
	if len(macHexStr) != macHex {
		return false
	}
	if _, err := hex.Decode(got[:], unsafeBytes(macHexStr)); err != nil {
		return false
	}
	k.mac(b, &want)
	return hmac.Equal(want[:], got[:])
}

func (k *Key) mac(b Binding, out *[macHex / 2]byte) {
	ms := k.pool.Get().(*macState)
	defer k.pool.Put(ms)
	h, n := ms.h, &ms.n
	h.Reset()
	h.Write(unsafeBytes(sentinelLabel)) // its own MAC domain under the deployment key
	for _, s := range [...]string{b.Provider, b.Object, b.Record} {
		binary.BigEndian.PutUint64(n[:8], uint64(len(s)))
		h.Write(n[:8])
		h.Write(unsafeBytes(s))
	}
	binary.BigEndian.PutUint64(n[:8], b.Nonce)
	binary.BigEndian.PutUint64(n[8:], b.FP)
	h.Write(n[:])
	copy(out[:], h.Sum(ms.sum[:0]))
}

// unsafeBytes views s as bytes for hashing (never written to).
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Sentinel renders the sentinel of b for agent, keyed with key (see Key).
func Sentinel(key []byte, agent string, b Binding) string { return NewKey(key).Sentinel(agent, b) }

// ParseSentinel reads a sentinel in agent's format; ok is false for
// anything else (including a sentinel of another agent or format).
func ParseSentinel(s, agent string) (nonce uint64, macHexStr string, ok bool) {
	rest, found := strings.CutPrefix(s, agent+":")
	if !found || len(rest) != nonceHex+1+macHex || rest[nonceHex] != '.' {
		return 0, "", false
	}
	var buf [nonceHex / 2]byte
	if _, err := hex.Decode(buf[:], unsafeBytes(rest[:nonceHex])); err != nil {
		return 0, "", false
	}
	m := rest[nonceHex+1:]
	for i := 0; i < len(m); i++ {
		if c := m[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, "", false
		}
	}
	return binary.BigEndian.Uint64(buf[:]), m, true
}

// VerifySentinel reports whether macHexStr is the MAC of b under key (see
// Key.Verify).
func VerifySentinel(key []byte, b Binding, macHexStr string) bool {
	return NewKey(key).Verify(b, macHexStr)
}
