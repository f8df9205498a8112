package redisconn

import (
	"crypto/sha256"
	"encoding/base64"
)

// DefaultPrefix starts every key of a loopguard deployment unless
// redis.prefix says otherwise; replicas of one app share their keys by
// sharing it.
const DefaultPrefix = "loopguard:"

// idBytes is how much of a SHA-256 names a key: 128 bits, so distinct
// identifiers never share a key in practice.
const idBytes = 16

// HashID returns the key-safe digest of s: base64url (22 characters) of
// the first 128 bits of its SHA-256. Record keys, event ids, queue names and
// accounts are stored only in this form, so account and record identifiers
// never appear in Redis key names. The hash is unkeyed: it keeps identifiers
// out of key listings and monitoring, but someone who can read the Redis
// and guess an id can confirm it.
func HashID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:idBytes])
}
