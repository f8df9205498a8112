// Package ca is loopguard's deployment certificate authority for the outbound
// MITM proxy.
//
// The outbound proxy terminates TLS for the app's calls to SaaS APIs so it can
// tag and record writes. Doing that needs a CA the app trusts. goproxy ships a
// built-in CA whose private key is public; trusting it would let anyone
// intercept the app's traffic, so this package never uses it. Instead each
// deployment generates (or is given) its own CA with [Generate],
// [LoadFiles] or [LoadOrCreate], and the proxy installs
// [Authority.ConnectAction] as its MITM action.
//
// Leaf certificates are minted per host on demand by [Authority.Leaf] and kept
// in a bounded [CertCache], so a burst of connections to one host signs only
// once.
package ca
