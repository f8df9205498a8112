package configs

import "fmt"

// The values of inbound.server.
const (
	InboundServerFastHTTP = "fasthttp"
	InboundServerNetHTTP  = "net/http"
)

// validateInboundServer checks inbound.server.
func validateInboundServer(in Inbound) []error {
	switch in.Server {
	case InboundServerFastHTTP, InboundServerNetHTTP:
		return nil
	}
	return []error{fmt.Errorf("inbound.server: %q is neither %q nor %q", in.Server, InboundServerFastHTTP, InboundServerNetHTTP)}
}
