package tagging

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
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
)

// Binding is what a sentinel is bound to.
type Binding struct {
	Provider, Object, Record string
	Nonce, FP                uint64
}

// Sentinel renders the sentinel of b for agent, keyed with key.
func Sentinel(key []byte, agent string, b Binding) string {
	var buf [nonceHex / 2]byte
	binary.BigEndian.PutUint64(buf[:], b.Nonce)
	return agent + ":" + hex.EncodeToString(buf[:]) + "." + mac(key, b)
}

// ParseSentinel reads a sentinel in agent's format; ok is false for
// anything else (including a sentinel of another agent or format).
func ParseSentinel(s, agent string) (nonce uint64, macHexStr string, ok bool) {
	rest, found := strings.CutPrefix(s, agent+":")
	if !found || len(rest) != nonceHex+1+macHex || rest[nonceHex] != '.' {
		return 0, "", false
	}
	var buf [nonceHex / 2]byte
	if _, err := hex.Decode(buf[:], []byte(rest[:nonceHex])); err != nil {
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

// VerifySentinel reports whether macHexStr is the MAC of b under key (in
// constant time).
func VerifySentinel(key []byte, b Binding, macHexStr string) bool {
	return hmac.Equal([]byte(mac(key, b)), []byte(macHexStr))
}

func mac(key []byte, b Binding) string {
	h := hmac.New(sha256.New, key)
	var n [16]byte
	for _, s := range []string{b.Provider, b.Object, b.Record} {
		binary.BigEndian.PutUint64(n[:8], uint64(len(s)))
		h.Write(n[:8])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:8], b.Nonce)
	binary.BigEndian.PutUint64(n[8:], b.FP)
	h.Write(n[:])
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:macHex/2])
}
