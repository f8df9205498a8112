package filters

import (
	"fmt"
	"strings"
	"time"

	"github.com/loopguard/loopguard/filters/breaker"
)

// The hold policy: which forwarded events of a delivery must wait in the
// durable spool instead (a quarantined record, an account whose breaker is
// open, older events of the same record or account still held), in which
// queue and why. The judgement step applies it; the proxy only appends the
// parts it names to the spool (or refuses the delivery, policy reject).

// Hold policies (profile hold_policy).
const (
	// PolicyHold keeps what must wait in the spool and answers 200: for
	// providers that never redeliver.
	PolicyHold = "hold"
	// PolicyReject answers 503 with Retry-After, so that the provider
	// redelivers later.
	PolicyReject = "reject"
)

// HoldsDeliveries reports whether the provider's deliveries that cannot
// go to the app now are kept in the spool (policy hold) rather than
// refused.
func (p *Provider) HoldsDeliveries() bool { return p.Profile.HoldPolicy == PolicyHold }

// Spool queue kinds: events held for a quarantined record, for an account
// whose breaker is open, or for a provider whose app is down.
const (
	QueueRecord  = "record"
	QueueBreaker = "breaker"
	QueueApp     = "app"
)

// RecordQueue names the queue of a quarantined record's events:
// "<kind>:<record key>", the record key in its escaped String form so that
// it parses back after a restart.
func RecordQueue(k breaker.RecordKey) string { return QueueRecord + ":" + k.String() }

// BreakerQueue names the queue of an account's events while its breaker
// is open.
func BreakerQueue(k breaker.Key) string {
	return QueueBreaker + ":" + breaker.RecordKey{Provider: k.Provider, Account: k.Account, Record: "*"}.String()
}

// AppQueue names the queue of a provider's deliveries the app failed.
func AppQueue(provider string) string {
	return QueueApp + ":" + breaker.RecordKey{Provider: provider, Record: "*"}.String()
}

// ParseQueue splits a queue name into its kind and key.
func ParseQueue(q string) (kind string, k breaker.RecordKey, err error) {
	kind, rest, ok := strings.Cut(q, ":")
	if !ok {
		return "", k, fmt.Errorf("spool queue %q: no kind", q)
	}
	k, err = breaker.ParseRecordKey(rest)
	return kind, k, err
}

// Backlog is what the hold policy needs to know of the spool: a new event
// of a queue that still holds older ones waits behind them, or the app
// would apply an older state last.
type Backlog interface {
	// Idle reports that nothing is held (the usual case): no queue names
	// are built then.
	Idle() bool
	// Behind returns the first of queues that still holds items.
	Behind(queues ...string) (string, bool)
}

// HoldQueue is one spool queue's share of a delivery: the events that wait in
// it, and why.
type HoldQueue struct {
	Queue string
	// Reason, Detail: why the queue's first event waits (quarantined,
	// breaker_open or behind_held).
	Reason Reason
	Detail string
	// Until is when the last of the queue's reasons ends (zero: unknown,
	// as for events behind held ones).
	Until time.Time
	// Events are the indexes of its events in the judgement, ascending.
	Events []int
}

// wait is why one event must wait, with its queue.
type wait struct {
	reason Reason
	queue  string
	until  time.Time
	detail string
}

// holdDecision turns a forward into a hold, naming the last-line layer.
func holdDecision(d *Decision, w wait, policy string) {
	d.Action = Hold
	switch w.reason {
	case ReasonQuarantined:
		d.Layer = "loop"
	case ReasonBehindHeld:
		d.Layer = "hold"
	default:
		d.Layer = "breaker"
	}
	d.Reason = w.reason
	d.Detail = w.detail + " (hold_policy " + policy + ")"
}

// holdPlan collects a delivery's waits into queues.
type holdPlan struct {
	holds []HoldQueue // in order of their first event
}

func (hp *holdPlan) add(i int, w wait) {
	for k := range hp.holds {
		if h := &hp.holds[k]; h.Queue == w.queue {
			h.Events = append(h.Events, i)
			if w.until.After(h.Until) {
				h.Until = w.until
			}
			return
		}
	}
	hp.holds = append(hp.holds, HoldQueue{Queue: w.queue, Reason: w.reason, Detail: w.detail, Until: w.until, Events: []int{i}})
}

// whole makes an unverified delivery of which some events must be held
// wait whole, in the queue of its first held event: it is held untouched
// (its original signature must still match on replay), so it is never
// split and none of it goes on now.
func (hp *holdPlan) whole(ds []Decision, policy string) {
	first := hp.holds[0]
	for _, h := range hp.holds[1:] {
		if h.Until.After(first.Until) {
			first.Until = h.Until
		}
	}
	first.Events = first.Events[:0]
	for i := range ds {
		if ds[i].Action == Forward {
			holdDecision(&ds[i], wait{queue: first.Queue, reason: ReasonBehindHeld,
				detail: "other events of this unverified delivery must be held; it is held whole"}, policy)
		}
		if ds[i].Action == Hold {
			first.Events = append(first.Events, i)
		}
	}
	hp.holds = []HoldQueue{first}
}
