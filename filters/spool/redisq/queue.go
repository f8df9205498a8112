package redisq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/redisconn"
	"github.com/loopguard/loopguard/filters/spool"
)

const (
	// DefaultPrefix namespaces every key, as in the ledger store (redisconn.DefaultPrefix).
	DefaultPrefix = redisconn.DefaultPrefix
	// DefaultTimeout bounds one operation. Items carry whole webhook bodies
	// and Append runs while the provider waits, so it is larger than the
	// ledger's 50ms yet far below provider timeouts.
	DefaultTimeout = time.Second
	// DefaultLease is how long a replica's claim on a queue it replays
	// lasts without progress. Each Peek, Remove and MarkAttempt renews it;
	// when a replica dies its queues pass to another after at most this.
	DefaultLease = 30 * time.Second
	// space follows the prefix; the braces are a Cluster hash tag keeping
	// every spool key in one slot, as the scripts need.
	space      = "{spool}:"
	ownerBytes = 8
	// maxAttempts is where Attempts saturates, as in the bbolt spool.
	maxAttempts = 1<<32 - 1
)

// Options configures New. Zero values take the defaults.
type Options struct {
	// URL is the Redis to use (forms: see redisconn.ParseURL). Ignored
	// when Client is set; one of them is required.
	URL string
	// Client is an existing client to share; Close does not close it.
	Client redis.UniversalClient
	// Prefix starts every key. Default "loopguard:". Replicas sharing a
	// spool use the same Prefix.
	Prefix string
	// MaxItems bounds the items held by all replicas together. Default
	// spool.DefaultMaxItems (100000).
	MaxItems int
	// MaxBytes bounds the sum of Item.Size over held items, all replicas
	// together. Default spool.DefaultMaxBytes (256 MiB). MaxItems and
	// MaxBytes count trusted items, queued and dead letters.
	MaxBytes int64
	// UnverifiedMaxItems and UnverifiedMaxBytes bound the untrusted items
	// (spool.Verification not Trusted), queued and dead, apart from the
	// main budget. Defaults spool.DefaultUnverifiedMaxItems (1000) and
	// spool.DefaultUnverifiedMaxBytes (8 MiB).
	UnverifiedMaxItems int
	UnverifiedMaxBytes int64
	// MaxItemBytes bounds one item's Size. Default spool.DefaultMaxItemBytes.
	MaxItemBytes int64
	// Timeout bounds each operation. Default DefaultTimeout (1s).
	Timeout time.Duration
	// Lease is how long this instance's claim on a queue lasts (see Peek).
	// Default DefaultLease (30s); keep it above the Sender's timeout.
	Lease time.Duration
	// Now is the clock of held and dead-letter times (Item.HeldAt,
	// DeadInfo.At when unset); nil means time.Now. Leases are timed by
	// Redis.
	Now func() time.Time
}

// Queue is a spool.Queue on Redis Streams, shared by replicas: each queue
// is a stream in arrival order; items, counters and bounds are shared, so
// items held by a replica that dies are replayed by another. Safe for
// concurrent use.
type Queue struct {
	opts      Options
	budget    spool.Budget
	client    redis.UniversalClient
	ownClient bool
	owner     string
	keyPrefix string
	meta      string
	queues    string

	appendSc, peekSc, removeSc, markSc, releaseSc *redis.Script
	burySc, requeueSc, deleteDeadSc               *redis.Script

	items atomic.Int64 // last counters read, for Len/Bytes when Redis is down
	bytes atomic.Int64

	mu     sync.Mutex
	leased map[string]bool // queues this instance may hold a lease on
}

var _ spool.Queue = (*Queue)(nil)

// New builds a Queue. It fails only on bad options; an unreachable Redis
// shows up as operation errors (Append's makes the proxy answer 503) and
// the queue recovers by itself.
func New(opts Options) (*Queue, error) {
	if opts.Client == nil && opts.URL == "" {
		return nil, errors.New("redisq: new: one of Options.URL and Options.Client is required")
	}
	b := spool.Budget{MaxBytes: opts.MaxBytes, MaxItems: opts.MaxItems, UnverifiedMaxBytes: opts.UnverifiedMaxBytes,
		UnverifiedMaxItems: opts.UnverifiedMaxItems, MaxItemBytes: opts.MaxItemBytes}
	if err := b.Negative(); err != nil {
		return nil, fmt.Errorf("redisq: new: %w", err)
	}
	if opts.Timeout < 0 || opts.Lease < 0 {
		return nil, fmt.Errorf("redisq: new: Timeout (%s) and Lease (%s) must not be negative", opts.Timeout, opts.Lease)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxItems == 0 {
		opts.MaxItems = spool.DefaultMaxItems
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = spool.DefaultMaxBytes
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Lease == 0 {
		opts.Lease = DefaultLease
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var id [ownerBytes]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("redisq: new: owner id: %w", err)
	}
	q := &Queue{
		opts:         opts,
		budget:       b.WithDefaults(),
		client:       opts.Client,
		owner:        hex.EncodeToString(id[:]),
		keyPrefix:    opts.Prefix + space,
		meta:         opts.Prefix + space + "meta",
		queues:       opts.Prefix + space + "queues",
		appendSc:     redis.NewScript(appendScript),
		peekSc:       redis.NewScript(peekScript),
		removeSc:     redis.NewScript(removeScript),
		markSc:       redis.NewScript(markAttemptScript),
		releaseSc:    redis.NewScript(releaseScript),
		burySc:       redis.NewScript(buryScript),
		requeueSc:    redis.NewScript(requeueScript),
		deleteDeadSc: redis.NewScript(deleteDeadScript),
		leased:       make(map[string]bool),
	}
	if q.client == nil {
		c, err := redisconn.NewClient(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("redisq: new: %w", err)
		}
		q.client, q.ownClient = c, true
	}
	return q, nil
}

// queueKeys are the per-queue keys; the queue name is hashed.
type queueKeys struct {
	id, stream, info, lease string
}

func (q *Queue) keysFor(queue string) queueKeys {
	id := redisconn.HashID(queue)
	return queueKeys{
		id:     id,
		stream: q.keyPrefix + "s:" + id,
		info:   q.keyPrefix + "i:" + id,
		lease:  q.keyPrefix + "l:" + id,
	}
}

// ctx bounds one operation; spool.Queue's methods take no context.
func (q *Queue) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), q.opts.Timeout)
}

// Len returns the number of items held by all replicas. When Redis cannot
// answer it returns the last value it read.
func (q *Queue) Len() int {
	q.refreshCounters()
	return int(q.items.Load())
}

// Bytes returns the sum of Item.Size over held items (all replicas). When
// Redis cannot answer it returns the last value it read.
func (q *Queue) Bytes() int64 {
	q.refreshCounters()
	return q.bytes.Load()
}

func (q *Queue) refreshCounters() {
	ctx, cancel := q.ctx()
	defer cancel()
	vals, err := q.client.HMGet(ctx, q.meta, "items", "bytes").Result()
	if err != nil || len(vals) != 2 {
		return
	}
	q.items.Store(counter(vals[0]))
	q.bytes.Store(counter(vals[1]))
}

// counter reads a counter reply; absent reads as zero.
func counter(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// Close releases the replay leases this instance holds, so another replica
// takes over its queues at once, and closes the client when it created it.
func (q *Queue) Close() error {
	q.mu.Lock()
	leased := make([]string, 0, len(q.leased))
	for name := range q.leased {
		leased = append(leased, name)
	}
	clear(q.leased)
	q.mu.Unlock()
	var errs []error
	for _, name := range leased {
		ctx, cancel := q.ctx()
		if err := q.releaseSc.Run(ctx, q.client, []string{q.keysFor(name).lease}, q.owner).Err(); err != nil {
			errs = append(errs, fmt.Errorf("release lease of queue %q: %w", name, err))
		}
		cancel()
	}
	if q.ownClient {
		if err := q.client.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redisq: close: %w", err)
	}
	return nil
}
