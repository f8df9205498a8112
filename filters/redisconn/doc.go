// Package redisconn is what every Redis-backed store of loopguard shares:
// the go-redis client built from a loopguard Redis URL (with the client
// defaults that bound an unreachable Redis), the default key prefix, and
// the hashing that keeps identifiers out of key names.
//
// The ledger (filters/ledger/redisstore), the spool (filters/spool/redisq)
// and the breaker share and loop detector (filters/breaker/redisshare)
// import it instead of one another; a sidecar builds one client here and
// hands it to all three, so they share one connection pool.
//
// URLs are parsed by configs/redisurl, the one parser `loopguard validate`
// uses too: a URL that validates is a URL that runs. Errors never contain
// the URL or any piece of it.
package redisconn
