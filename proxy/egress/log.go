package egress

import "github.com/rs/zerolog"

// Log field names, one place (every egress log line uses them).
const (
	FieldHost       = "egress_host"
	FieldPort       = "egress_port"
	FieldAction     = "egress_action"
	FieldReason     = "egress_reason"
	FieldAddr       = "egress_addr"
	FieldAddrs      = "egress_addrs"
	FieldConfigured = "egress_configured"
)

// LogFields adds a decision's fields to a log event: the one line per
// checked destination.
func LogFields(e *zerolog.Event, a DecideArgs, d Decision) *zerolog.Event {
	e = e.Str(FieldHost, a.Host).Int(FieldPort, a.Port).
		Stringer(FieldAction, d.Action).Stringer(FieldReason, d.Reason).
		Bool(FieldConfigured, a.Configured)
	if d.Addr.IsValid() {
		e = e.Stringer(FieldAddr, d.Addr)
	}
	if len(a.IPs) > 0 {
		ips := make([]string, len(a.IPs))
		for i, ip := range a.IPs {
			ips[i] = ip.String()
		}
		e = e.Strs(FieldAddrs, ips)
	}
	return e
}
