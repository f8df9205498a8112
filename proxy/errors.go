package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// statusForUpstreamError maps a failed forward to the status the caller
// gets: 504 for timeouts, 502 for everything else — never a 2xx, so a
// provider that redelivers will.
func statusForUpstreamError(err error) int {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
