package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/loopguard/loopguard/proxy/egress"
)

// statusForUpstreamError maps a failed forward to the status the caller
// gets: the egress policy's answer for a refused destination (403, or 502
// when the name did not resolve), 504 for timeouts, 502 for everything
// else — never a 2xx, so a provider that redelivers will.
func statusForUpstreamError(err error) int {
	if de, ok := egress.AsDenied(err); ok {
		return egress.Status(de.Decision)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
