package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// DeadReason is why a held delivery left its queue for the dead letters.
type DeadReason string

// Dead-letter reasons.
const (
	// DeadRefused: the app answered a 4xx (other than 408, 425 and 429):
	// it will not accept this delivery however often it is sent.
	DeadRefused DeadReason = "refused"
	// DeadMaxAttempts: the app failed it (a 5xx) DeadPolicy.MaxAttempts times.
	DeadMaxAttempts DeadReason = "max_attempts"
	// DeadMaxAge: it was held longer than DeadPolicy.MaxAge and the app
	// still did not accept it.
	DeadMaxAge DeadReason = "max_age"
)

// Answer is one answer of the app to a replayed item.
type Answer struct {
	At     time.Time `json:"at"`
	Status int       `json:"status"` // 0: no answer (see Error)
	Body   []byte    `json:"body,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// MaxAnswerBody bounds the body kept per answer, and MaxAnswers the
// answers kept per dead letter.
const (
	MaxAnswerBody = 1 << 10
	MaxAnswers    = 5
)

// DeadInfo is what the replayer knew when it gave up on an item.
type DeadInfo struct {
	Reason     DeadReason
	At         time.Time // when it was dead-lettered
	Attempts   int       // failed replays, the last one included
	LastStatus int       // the app's last status; 0 when it did not answer
	LastError  string    // the last failure as text
	Answers    []Answer  // the app's last answers, oldest first (at most MaxAnswers)
}

// DeadLetter is a held delivery the app kept refusing, kept apart from its
// queue (which goes on without it) until an operator retries or deletes it.
// Its id is Item.Seq, the seq it had in Item.Queue. Dead letters count
// against the budget of their verification like queued items: they are
// never discarded silently, so an operator must clear them.
type DeadLetter struct {
	Item       // Attempts is Info.Attempts
	Size int64 // Item.Size when it was held
	Info DeadInfo
}

// DeadLetters is the dead-letter side of a Queue.
type DeadLetters interface {
	// Bury moves one queued item into the dead letters, atomically, with
	// info; ErrNotFound when the queue holds no such item.
	Bury(queue string, seq uint64, info DeadInfo) error
	// Dead lists up to limit dead letters, oldest id first, without their
	// headers and bodies.
	Dead(limit int) ([]DeadLetter, error)
	// DeadItem returns one dead letter whole; ErrNotFound when absent.
	DeadItem(id uint64) (DeadLetter, error)
	// Requeue moves a dead letter back to the end of its queue, with
	// Attempts reset and HeldAt now (its age starts over), and returns its
	// new seq; ErrNotFound when absent.
	Requeue(id uint64) (uint64, error)
	// DeleteDead discards a dead letter (an operator's decision) and frees
	// its space; ErrNotFound when absent.
	DeleteDead(id uint64) error
	// DeadByProvider counts dead letters per provider.
	DeadByProvider() (map[string]int, error)
	// Stats reports queued, dead and untrusted counts.
	Stats() (Stats, error)
}

// Outcome classifies a failed replay.
type Outcome uint8

// Outcomes of a replay that did not deliver.
const (
	// Refused: a 4xx other than 408, 425 and 429 — dead-lettered at once.
	Refused Outcome = iota + 1
	// Failed: a 5xx other than 502–504 (the app failed on this delivery),
	// or an unexpected status (3xx) — an attempt (Item.Attempts), counted
	// toward DeadPolicy.MaxAttempts.
	Failed
	// Unavailable: 408, 425, 429, 502, 503, 504 or a timeout — the app
	// (or what is in front of it) is busy or restarting: not an attempt,
	// bounded by DeadPolicy.MaxAge only, so an outage never dead-letters
	// by attempts.
	Unavailable
	// Unreachable: no answer at all (connection refused or reset): the app
	// is down and nothing else could be delivered instead; never
	// dead-lettered, the queue waits.
	Unreachable
)

func (o Outcome) String() string {
	switch o {
	case Refused:
		return "refused"
	case Failed:
		return "failed"
	case Unavailable:
		return "unavailable"
	case Unreachable:
		return "unreachable"
	}
	return "delivered"
}

// Classify names the outcome of a replay that did not answer 2xx.
func Classify(status int, err error) Outcome {
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return Unavailable
		}
		return Unreachable
	}
	switch {
	case status == 408 || status == 425 || status == 429 || status == 502 || status == 503 || status == 504:
		return Unavailable
	case status >= 400 && status < 500:
		return Refused
	}
	return Failed
}

// DeadPolicy says when the replayer gives up on an item. Zero values take
// the defaults.
type DeadPolicy struct {
	// MaxAttempts dead-letters an item after this many Failed replays
	// (Item.Attempts: answers that were neither a success nor a sign of
	// unavailability).
	// Default DefaultDeadMaxAttempts (10); negative: never by attempts.
	MaxAttempts int
	// MaxAge dead-letters an item held longer than this whose replay is
	// Failed or Unavailable. Default DefaultDeadMaxAge (24h); negative:
	// never by age.
	MaxAge time.Duration
}

// Dead-letter defaults.
const (
	DefaultDeadMaxAttempts = 10
	DefaultDeadMaxAge      = 24 * time.Hour
)

func (p DeadPolicy) withDefaults() DeadPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultDeadMaxAttempts
	}
	if p.MaxAge == 0 {
		p.MaxAge = DefaultDeadMaxAge
	}
	return p
}

// verdict says whether an item with attempts Failed replays (this one
// included) whose last replay ended with o must be dead-lettered now, and
// why.
func (p DeadPolicy) verdict(o Outcome, attempts int, heldAt, now time.Time) (DeadReason, bool) {
	switch o {
	case Refused:
		return DeadRefused, true
	case Failed:
		if p.MaxAttempts > 0 && attempts >= p.MaxAttempts {
			return DeadMaxAttempts, true
		}
		fallthrough
	case Unavailable:
		if p.MaxAge > 0 && !heldAt.IsZero() && now.Sub(heldAt) >= p.MaxAge {
			return DeadMaxAge, true
		}
	}
	return "", false
}

// AppendFrom holds it with its body read from body, refusing (ErrTooLarge,
// nothing stored) a body longer than limit bytes; the spool's own
// MaxItemBytes applies too. It reads at most limit+1 bytes, so a larger
// body is never buffered whole.
func AppendFrom(q Queue, it Item, body io.Reader, limit int64) (uint64, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return 0, fmt.Errorf("spool: append to queue %q: read body: %w", it.Queue, err)
	}
	if int64(len(b)) > limit {
		return 0, fmt.Errorf("spool: append to queue %q: %w: body over %d bytes", it.Queue, ErrTooLarge, limit)
	}
	it.Body = b
	return q.Append(it)
}
