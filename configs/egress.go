package configs

import (
	"fmt"

	"github.com/loopguard/loopguard/proxy/egress"
)

// validateEgress checks outbound.allow and outbound.tunnel with the parsers
// the egress policy itself uses, so validate and run agree.
func validateEgress(o Outbound) []error {
	var errs []error
	if _, err := egress.ParseTunnel(o.Tunnel); err != nil {
		errs = append(errs, fmt.Errorf("outbound.tunnel: %w", err))
	}
	if _, err := egress.ParseAllow(o.Allow); err != nil {
		errs = append(errs, fmt.Errorf("outbound.allow: %w", err))
	}
	return errs
}
