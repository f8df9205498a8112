package filters

import (
	"encoding/json"
	"fmt"
	"time"
)

// Action is what happens to an event.
type Action uint8

// Actions.
const (
	// Forward delivers the event to the app.
	Forward Action = iota
	// Drop removes the event: it is an echo (or a redelivery).
	Drop
	// Hold keeps the event in the durable spool for later replay.
	Hold
)

var actionNames = [...]string{Forward: "forward", Drop: "drop", Hold: "hold"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "forward"
}

// MarshalText writes the action's name: a decision's JSON, logs and
// metric labels all read it from the value itself.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads an action's name.
func (a *Action) UnmarshalText(b []byte) error {
	for i, n := range actionNames {
		if n == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("action %q: unknown", b)
}

// Reason is why a layer decided what it did.
type Reason uint8

// Reasons, one per distinct explanation.
const (
	ReasonNone Reason = iota
	ReasonRedelivery
	ReasonIntegrationUser
	ReasonChangeAgent
	ReasonSentinelMatch
	ReasonSentinelStale
	// ReasonSentinelUnbound: a sentinel of ours that names no unsettled
	// write of this record (copied from another record, or already
	// settled): no evidence.
	ReasonSentinelUnbound
	ReasonSentinelChange
	ReasonPendingWrite
	// ReasonNoChange: the app already holds every value of the event.
	ReasonNoChange
	// ReasonStale: the event is older than the state the app holds of
	// every one of its fields (provider times).
	ReasonStale
	// ReasonSentinelForged: a sentinel in our format that does not verify
	// with the deployment key.
	ReasonSentinelForged
	ReasonNewValue
	ReasonSkinnyRecentWrite
	ReasonNoEvidence
	ReasonSkinny
	ReasonUnverified
	ReasonMalformed
	ReasonStoreError
	ReasonOversize
	ReasonHandshake
	ReasonBreakerOpen
	ReasonQuarantined
	ReasonAppUnavailable
	ReasonBehindHeld
	// ReasonEncoding: a read response in a content coding that
	// cannot be decoded passes untouched.
	ReasonEncoding
	// ReasonUnaccounted: a pulled record was last modified by the
	// integration user, but holds a tracked value we did not write (and the
	// app has not seen): kept, as it may carry someone else's change.
	ReasonUnaccounted
	// ReasonTooDeep: a body nested past limits.json_max_depth passes
	// untouched, never parsed.
	ReasonTooDeep
	// ReasonBusy: the process's in-flight body bytes were at
	// limits.max_inflight_body_bytes; the body was not buffered.
	ReasonBusy
	// ReasonSuperseded: a held delivery whose every event is a whole
	// state of its record that a newer state, decided after it was held,
	// replaced at the app: not replayed (Judge.Superseded).
	ReasonSuperseded
)

var reasonNames = [...]string{
	ReasonNone:              "none",
	ReasonRedelivery:        "redelivery",
	ReasonIntegrationUser:   "integration_user",
	ReasonChangeAgent:       "change_agent",
	ReasonSentinelMatch:     "sentinel_match",
	ReasonSentinelStale:     "sentinel_stale",
	ReasonSentinelUnbound:   "sentinel_unbound",
	ReasonSentinelChange:    "sentinel_change",
	ReasonPendingWrite:      "matches_our_write",
	ReasonNoChange:          "app_holds_values",
	ReasonStale:             "stale_event",
	ReasonSentinelForged:    "sentinel_forged",
	ReasonNewValue:          "new_value",
	ReasonSkinnyRecentWrite: "skinny_recent_write",
	ReasonNoEvidence:        "no_evidence",
	ReasonSkinny:            "skinny",
	ReasonUnverified:        "unverified_signature",
	ReasonMalformed:         "malformed",
	ReasonStoreError:        "store_error",
	ReasonOversize:          "oversize",
	ReasonHandshake:         "handshake",
	ReasonBreakerOpen:       "breaker_open",
	ReasonQuarantined:       "quarantined",
	ReasonAppUnavailable:    "app_unavailable",
	ReasonBehindHeld:        "behind_held",
	ReasonEncoding:          "unsupported_encoding",
	ReasonUnaccounted:       "unaccounted_values",
	ReasonTooDeep:           "too_deep",
	ReasonBusy:              "busy",
	ReasonSuperseded:        "superseded",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// MarshalText writes the reason's name.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a reason's name.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, n := range reasonNames {
		if n == string(b) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("reason %q: unknown", b)
}

// Kind is the sort of answer a layer gives.
type Kind uint8

// Verdict kinds.
const (
	// Pass: the layer evaluated the event and found no echo.
	Pass Kind = iota
	// Echo: the layer positively recognises our echo (or a redelivery):
	// only such a verdict drops.
	Echo
	// Abstain: the layer could not evaluate (missing data, store error);
	// the chain moves on.
	Abstain
)

var kindNames = [...]string{Pass: "pass", Echo: "echo", Abstain: "abstain"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText writes the kind's name (a trace step's "verdict").
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("verdict %q: unknown", b)
}

// Verdict is one layer's answer about one event.
type Verdict struct {
	Kind   Kind
	Reason Reason
	Detail string
	// Settle is, on an echo verdict, the sequence number of our write the
	// event echoes (it and every earlier write are settled).
	Settle uint32
	// Shows is, on any verdict, the sequence number of our unsettled write
	// whose verified sentinel the event carries: the event is a state at
	// or after that write (0: none).
	Shows uint32
}

// Decision is the chain's answer about one event: what happens, which layer
// decided and why.
type Decision struct {
	Time     time.Time `json:"time"`
	Source   Source    `json:"source"`
	Action   Action    `json:"action"`
	Observed bool      `json:"observed,omitempty"` // would have dropped (observe mode); Action is then Forward
	Layer    string    `json:"layer"`
	Reason   Reason    `json:"reason"`
	Detail   string    `json:"detail,omitempty"`
	Provider string    `json:"provider"`
	Account  string    `json:"account,omitempty"`
	Object   string    `json:"object,omitempty"`
	Record   string    `json:"record,omitempty"`
	EventID  string    `json:"event_id,omitempty"`
	// Settle is the sequence number of our write this event echoes (0:
	// none).
	Settle uint32 `json:"settles_write,omitempty"`
	// Reflects: the event was forwarded, but shows one of our unsettled
	// writes applied — counted by the loop detector.
	Reflects bool `json:"reflects_our_write,omitempty"`
	// Shows is the sequence number of our write whose verified sentinel
	// the event carries (see Verdict.Shows): accepted, the event settles
	// it and every earlier write — their echoes are behind it.
	Shows uint32 `json:"-"`
	// Upto is the record's next write number + 1 when the event was
	// decided (0: unknown): writes recorded later are not superseded by
	// the event's acceptance.
	Upto uint32 `json:"-"`
	// Delivery names the delivery the event came in (set by the inbound
	// proxy; the events of one delivery share it).
	Delivery string `json:"delivery,omitempty"`
	// steps are each layer's verdict in chain order (JSON "trace"); kept
	// in the value so that deciding allocates nothing for them.
	steps  [maxTrace]TraceStep
	nsteps uint8
}

// maxTrace bounds the layers a decision's trace keeps.
const maxTrace = 8

// TraceStep is one layer's verdict about an event.
type TraceStep struct {
	Layer   string `json:"layer"`
	Verdict Kind   `json:"verdict"`
	Reason  Reason `json:"reason"`
	Detail  string `json:"detail,omitempty"`
}

// Trace returns each layer's verdict in chain order.
func (d *Decision) Trace() []TraceStep { return d.steps[:d.nsteps] }

func (d *Decision) addStep(layer string, v Verdict) {
	if int(d.nsteps) >= maxTrace {
		return
	}
	d.steps[d.nsteps] = TraceStep{Layer: layer, Verdict: v.Kind, Reason: v.Reason, Detail: v.Detail}
	d.nsteps++
}

// MarshalJSON adds the trace to the decision's fields.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	return json.Marshal(struct {
		plain
		Trace []TraceStep `json:"trace,omitempty"`
	}{plain(d), d.Trace()})
}

// WouldDrop reports a drop, real or observed.
func (d *Decision) WouldDrop() bool { return d.Action == Drop || d.Observed }
