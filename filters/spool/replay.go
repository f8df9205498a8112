package spool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

const (
	// DefaultReplayInterval is how often Run polls for held items.
	DefaultReplayInterval = time.Second
	// DefaultReplayBackoff is the first pause for a queue after a failed send.
	DefaultReplayBackoff = 2 * time.Second
	// DefaultReplayMaxBackoff caps the doubling backoff.
	DefaultReplayMaxBackoff = time.Minute
	// DefaultReplayBatch is how many items of one queue a pass sends at most.
	DefaultReplayBatch = 50
)

// Queue is the durable store a Replayer drains: the bbolt Spool, or a
// shared implementation (e.g. Redis Streams) with the same semantics —
// per-queue FIFO, an item removed only by Remove.
type Queue interface {
	Append(it Item) (uint64, error)
	Peek(queue string, n int) ([]Item, error)
	Remove(queue string, seq uint64) error
	MarkAttempt(queue string, seq uint64) error
	Queues() ([]QueueStat, error)
	Len() int
	Bytes() int64
	Close() error
	DeadLetters
}

var _ Queue = (*Spool)(nil)

// Sender delivers one held item to the app and returns the app's HTTP
// status. Only a 2xx status with a nil error counts as delivered.
type Sender interface {
	Send(ctx context.Context, it Item) (status int, err error)
}

// AnswerKeeper is implemented by Senders that keep the app's last answers
// to an item (bodies truncated), so that its dead letter shows them.
type AnswerKeeper interface {
	Answers(it Item) []Answer
}

// ReplayOptions tunes a Replayer. Zero values select the defaults.
type ReplayOptions struct {
	Interval   time.Duration // poll period; default DefaultReplayInterval (1s)
	Backoff    time.Duration // pause for a queue after a failure, doubling per consecutive failure; default 2s
	MaxBackoff time.Duration // cap on Backoff doubling; default 1m
	Batch      int           // max items per queue per pass; default 50
	// OnError, if set, observes every problem a pass meets (failed send,
	// failed Remove/MarkAttempt, corrupt record) with its queue. It is called
	// from the replay goroutine and must not block for long.
	OnError func(queue string, err error)
	// Dead says when an item the app keeps refusing leaves its queue for
	// the dead letters, so the items behind it go on.
	Dead DeadPolicy
	// OnDead, if set, observes every item moved to the dead letters (to log
	// and count it). Called from the replay goroutine.
	OnDead func(DeadLetter)
	// Now is the clock of ages (DeadPolicy.MaxAge) and of each queue's
	// backoff; default time.Now. Run's waits are timers on the wall clock:
	// Kick wakes it after a test clock moved.
	Now func() time.Time
}

// withDefaults fills zero fields.
func (o ReplayOptions) withDefaults() ReplayOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultReplayInterval
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultReplayBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultReplayMaxBackoff
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.Batch <= 0 {
		o.Batch = DefaultReplayBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Dead = o.Dead.withDefaults()
	return o
}

// Replayer drains a Spool's queues to a Sender, in arrival order per queue,
// removing an item only after a 2xx. Delivery is at-least-once: if Remove
// fails after a 2xx, the item is sent again later. A failing item holds its
// queue (order is kept) until it succeeds or its DeadPolicy moves it to the
// dead letters: a refusal (4xx) at once, repeated failures after
// MaxAttempts or MaxAge; then the queue goes on behind it.
type Replayer struct {
	spool Queue
	send  Sender
	ready func(queue string) bool
	opts  ReplayOptions
	kick  chan struct{}

	// passMu serialises passes: two concurrent passes could send an item twice.
	// It also guards backoff.
	passMu  sync.Mutex
	backoff map[string]queueBackoff
}

// queueBackoff is the retry state of a queue whose last send failed.
type queueBackoff struct {
	delay time.Duration
	until time.Time
}

// NewReplayer returns a Replayer for s. ready reports whether a queue may be
// replayed now (e.g. its breaker is closed); nil means always.
func NewReplayer(s Queue, send Sender, ready func(queue string) bool, opts ReplayOptions) *Replayer {
	if ready == nil {
		ready = func(string) bool { return true }
	}
	return &Replayer{
		spool:   s,
		send:    send,
		ready:   ready,
		opts:    opts.withDefaults(),
		kick:    make(chan struct{}, 1),
		backoff: make(map[string]queueBackoff),
	}
}

// Kick wakes Run now instead of at the next Interval, e.g. when a breaker
// just closed. It never blocks; queues still in backoff stay paused.
func (r *Replayer) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run replays until ctx is done: one pass immediately, then one per Interval
// or Kick, sooner while queues have more than a Batch held or a backoff
// expires. Errors go to ReplayOptions.OnError.
func (r *Replayer) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.kick:
		}
		_, more, _ := r.pass(ctx, true)
		timer.Reset(r.nextWait(more))
	}
}

// nextWait picks the pause before the next pass.
func (r *Replayer) nextWait(more bool) time.Duration {
	if more {
		return 0
	}
	wait := r.opts.Interval
	r.passMu.Lock()
	defer r.passMu.Unlock()
	now := r.opts.Now()
	for _, b := range r.backoff {
		if d := b.until.Sub(now); d < wait {
			wait = max(d, 0)
		}
	}
	return wait
}

// DrainOnce runs one pass over every ready queue now, ignoring backoff (for
// tests and an admin "retry now"), and returns how many items were
// delivered and removed plus every problem met.
func (r *Replayer) DrainOnce(ctx context.Context) (sent int, err error) {
	sent, _, err = r.pass(ctx, false)
	return sent, err
}

// pass sends up to Batch items of each ready queue. more reports that some
// queue may still hold items that this pass did not reach.
func (r *Replayer) pass(ctx context.Context, honorBackoff bool) (sent int, more bool, err error) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	stats, err := r.spool.Queues()
	if err != nil {
		r.report("", err)
		return 0, false, fmt.Errorf("spool: replay pass: %w", err)
	}
	var errs []error
	present := make(map[string]bool, len(stats))
	for _, st := range stats {
		present[st.Queue] = true
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if !r.ready(st.Queue) {
			continue
		}
		if b, ok := r.backoff[st.Queue]; honorBackoff && ok && r.opts.Now().Before(b.until) {
			continue
		}
		n, full, qerr := r.drainQueue(ctx, st.Queue)
		sent += n
		more = more || full
		if qerr != nil {
			errs = append(errs, qerr)
		}
	}
	for q := range r.backoff {
		if !present[q] {
			delete(r.backoff, q)
		}
	}
	return sent, more, errors.Join(errs...)
}

// drainQueue sends one batch of queue in order and stops at the first
// failure. full reports that the batch was complete, so more may follow.
func (r *Replayer) drainQueue(ctx context.Context, queue string) (sent int, full bool, err error) {
	items, perr := r.spool.Peek(queue, r.opts.Batch)
	if perr != nil {
		r.report(queue, perr) // corrupt records are skipped but stay held
	}
	for _, it := range items {
		status, serr := r.send.Send(ctx, it)
		if serr == nil && status >= 200 && status < 300 {
			if rerr := r.spool.Remove(queue, it.Seq); rerr != nil {
				r.report(queue, rerr)
				return sent, false, errors.Join(perr, rerr)
			}
			sent++
			continue
		}
		if ctx.Err() != nil {
			// Shutting down: not the app's fault, so no attempt or backoff.
			return sent, false, errors.Join(perr, ctx.Err())
		}
		ferr := fmt.Errorf("spool: replay queue %q seq %d: app answered %d", queue, it.Seq, status)
		if serr != nil {
			ferr = fmt.Errorf("spool: replay queue %q seq %d: send: %w", queue, it.Seq, serr)
		}
		outcome := Classify(status, serr)
		if outcome == Failed || outcome == Refused {
			it.Attempts++ // the app answered and did not accept it
		}
		if r.bury(queue, it, outcome, status, ferr) {
			continue // the queue goes on behind it
		}
		if outcome == Failed {
			if merr := r.spool.MarkAttempt(queue, it.Seq); merr != nil {
				ferr = errors.Join(ferr, merr)
			}
		}
		r.fail(queue)
		r.report(queue, ferr)
		return sent, false, errors.Join(perr, ferr)
	}
	delete(r.backoff, queue)
	return sent, len(items) == r.opts.Batch, perr
}

// bury moves it to the dead letters when the DeadPolicy says so and reports
// whether it did; it.Attempts already counts this replay. Caller holds
// passMu.
func (r *Replayer) bury(queue string, it Item, o Outcome, status int, ferr error) bool {
	now := r.opts.Now()
	why, dead := r.opts.Dead.verdict(o, it.Attempts, it.HeldAt, now)
	if !dead {
		return false
	}
	info := DeadInfo{Reason: why, At: now, Attempts: it.Attempts, LastStatus: status, LastError: ferr.Error()}
	if k, ok := r.send.(AnswerKeeper); ok {
		info.Answers = k.Answers(it)
	}
	if err := r.spool.Bury(queue, it.Seq, info); err != nil {
		r.report(queue, err)
		return false
	}
	if r.opts.OnDead != nil {
		r.opts.OnDead(DeadLetter{Item: it, Size: int64(it.Size()), Info: info})
	}
	return true
}

// fail starts or doubles the backoff of queue. Caller holds passMu.
func (r *Replayer) fail(queue string) {
	d := r.opts.Backoff
	if b, ok := r.backoff[queue]; ok {
		d = min(b.delay*2, r.opts.MaxBackoff)
	}
	r.backoff[queue] = queueBackoff{delay: d, until: r.opts.Now().Add(d)}
}

func (r *Replayer) report(queue string, err error) {
	if r.opts.OnError != nil {
		r.opts.OnError(queue, err)
	}
}
