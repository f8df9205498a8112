package configs

import "fmt"

// checkSigned refuses a provider whose profile names a signature scheme but
// has no secret, unless signature.trust_unsigned says to accept unverified
// deliveries. Without a secret nothing is verified: a forged event id or
// record state that the app accepts makes a later genuine event look like
// a redelivery or a match of the last genuine state, and be dropped.
func checkSigned(p *Provider) error {
	if UnsignedTrusted(&p.Profile) {
		return nil
	}
	s := p.Signature
	if s.Scheme == "" || s.Secret.Value() != "" {
		return nil
	}
	env := EnvPrefix + "PROVIDER_" + envName(p.Name) + "_"
	return fmt.Errorf("signature.secret: required: the profile verifies %q signatures; set signature.secret (or %sSECRET), "+
		"or set signature.trust_unsigned: true (or %sTRUST_UNSIGNED=true) to accept unverified deliveries", s.Scheme, env, env)
}

// UnsignedTrusted reports whether a profile names a signature scheme, has
// no secret, and says to trust unsigned deliveries: the inbound proxy then
// forwards and judges them unverified, warning at start.
func UnsignedTrusted(p *Profile) bool {
	s := p.Signature
	return s.Scheme != "" && s.Secret.Value() == "" && s.TrustUnsigned
}
