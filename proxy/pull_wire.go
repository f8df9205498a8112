package proxy

// reportPulls keeps the pull decisions of the forward proxy and the gateway
// in the sidecar's decision ring, next to the webhook decisions, so that
// GET /decisions shows both. New calls it once the listeners are built
// (before Start); until then pull decisions are only counted and logged.
func (s *Sidecar) reportPulls() {
	if s.Outbound != nil {
		s.Outbound.pull.ring = s.Ring
	}
	if s.Gateway != nil {
		s.Gateway.pull.ring = s.Ring
	}
}
