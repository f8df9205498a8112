package filters

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// accountKeyLabel separates account keys from every other use of the
// deployment key (sentinels, …): one key, distinct MAC domains.
const accountKeyLabel = "loopguard account key v1\x00"

// accountKeyBytes is how much of the MAC names the account: 64 bits keep
// accounts apart and stay short in /breakers and metric labels.
const accountKeyBytes = 8

// AccountKeyPrefix starts an account id derived from a credential header.
const AccountKeyPrefix = "h:"

// accountKey names the account of a credential (an Authorization header,
// an API key) without keeping it: HMAC-SHA256 under the deployment key.
// Unlike a plain hash, a reader of /breakers or the metrics cannot confirm
// a guessed weak credential without the key; replicas that share the key
// (and a store) name an account alike.
func accountKey(secret []byte, credential string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(accountKeyLabel))
	m.Write([]byte(credential))
	sum := m.Sum(make([]byte, 0, sha256.Size))
	return AccountKeyPrefix + hex.EncodeToString(sum[:accountKeyBytes])
}
