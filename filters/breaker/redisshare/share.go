package redisshare

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/redisconn"
)

const (
	// DefaultPrefix namespaces every key, as in the ledger store (redisconn.DefaultPrefix).
	DefaultPrefix = redisconn.DefaultPrefix
	// DefaultTimeout bounds one Redis operation. Sharing runs on breaker
	// transitions and in the background, not per request, so it can afford
	// more than the ledger's 50ms.
	DefaultTimeout = 250 * time.Millisecond
	// DefaultPollInterval is how often Run re-reads the open breakers, the
	// fallback for a lost pub/sub message: it keeps "one replica opens,
	// all stop within a second" true even when a notification is missed.
	DefaultPollInterval = time.Second
	// closeGrace is how far before its OpenUntil a remote breaker must
	// vanish from Redis for Run to take it as closed remotely rather than
	// expired (clocks of replicas and Redis differ a little).
	closeGrace = time.Second
	// remoteMemory is how long a remote close is remembered to suppress its
	// echo; the echo comes within one Run iteration, this is ample.
	remoteMemory = time.Minute
	// space follows the prefix; the braces are a Cluster hash tag putting
	// every breaker key in one slot, as the publish script needs.
	space       = "{brk}:"
	indexName   = "index"
	channelName = "events"
	originBytes = 8
)

// Options configures New. Zero values take the defaults.
type Options struct {
	// URL is the Redis to use (forms: see redisconn.ParseURL). Ignored
	// when Client is set; one of them is required.
	URL string
	// Client is an existing client to share; Close does not close it.
	Client redis.UniversalClient
	// Prefix starts every key and the channel name. Default "loopguard:".
	Prefix string
	// Timeout bounds each Redis operation. Default DefaultTimeout (250ms).
	Timeout time.Duration
	// PollInterval is Run's fallback poll period. Default 1s; keep it at or
	// under a second to bound how long a lost notification can delay a stop.
	PollInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnError, if set, observes errors of Run's background work (poll,
	// queued publishes, undecodable records). Called from Run's goroutine;
	// it should rate-limit any logging itself.
	OnError func(error)
}

// Share shares per-account breaker state between replicas through Redis:
// Publish stores an open breaker (until its OpenUntil) and announces every
// change; Run applies other replicas' changes locally. It is safe for
// concurrent use.
type Share struct {
	opts      Options
	client    redis.UniversalClient
	ownClient bool
	origin    string
	keyPrefix string
	index     string
	channel   string
	publish   *redis.Script

	mu      sync.Mutex
	remote  map[string]remoteState    // member → last state applied from another replica
	pending map[string]breaker.Status // member → latest status queued by Notify
	kick    chan struct{}             // wakes Run to publish pending
}

// remoteState is what suppresses re-publishing a remote change that Run
// just applied (the local breaker's OnChange reports it back).
type remoteState struct {
	state breaker.State
	until int64     // OpenUntil, Unix ns (open only)
	at    time.Time // when it was applied
}

// New builds a Share. It fails only on bad options; an unreachable Redis
// shows up as operation errors and Run recovers by itself.
func New(opts Options) (*Share, error) {
	if opts.Client == nil && opts.URL == "" {
		return nil, errors.New("redisshare: new: one of Options.URL and Options.Client is required")
	}
	if opts.Timeout < 0 || opts.PollInterval < 0 {
		return nil, fmt.Errorf("redisshare: new: Timeout (%s) and PollInterval (%s) must not be negative", opts.Timeout, opts.PollInterval)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var id [originBytes]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("redisshare: new: instance id: %w", err)
	}
	s := &Share{
		opts:      opts,
		client:    opts.Client,
		origin:    hex.EncodeToString(id[:]),
		keyPrefix: opts.Prefix + space + "b:",
		index:     opts.Prefix + space + indexName,
		channel:   opts.Prefix + space + channelName,
		publish:   redis.NewScript(publishScript),
		remote:    make(map[string]remoteState),
		pending:   make(map[string]breaker.Status),
		kick:      make(chan struct{}, 1),
	}
	if s.client == nil {
		c, err := redisconn.NewClient(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("redisshare: new: %w", err)
		}
		s.client, s.ownClient = c, true
	}
	return s, nil
}

// Close releases the client when the Share created it. Cancel Run's
// context first.
func (s *Share) Close() error {
	if !s.ownClient {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("redisshare: close: %w", err)
	}
	return nil
}

// member is the hashed identity of a breaker key (accounts never appear in
// key names).
func member(k breaker.Key) string { return redisconn.HashID(k.Provider + "\x00" + k.Account) }

// Publish shares st, a local breaker's new status, in one round trip:
//
//   - Open (with OpenUntil in the future): the record is stored under the
//     key's hashed name with a TTL ending at OpenUntil, and announced. A
//     record already open until later is kept (the later end wins, as in
//     Breakers.Trip) and nothing is announced.
//   - Closed (e.g. a reset, or a successful probe): the record is deleted
//     and the close announced, so the other replicas close too.
//   - HalfOpen: nothing; every replica turns half-open by itself at the
//     shared OpenUntil.
//
// A status equal to what Run last applied from another replica is not
// published again, so replicas do not echo each other's changes.
func (s *Share) Publish(ctx context.Context, st breaker.Status) error {
	now := s.opts.Now()
	mode := "close"
	switch st.State {
	case breaker.HalfOpen:
		return nil
	case breaker.Open:
		if !st.OpenUntil.After(now) {
			return nil
		}
		mode = "open"
	}
	m := member(st.Key)
	if s.isEcho(m, st) {
		return nil
	}
	payload, err := encodeWire(st, s.origin)
	if err != nil {
		return fmt.Errorf("redisshare: publish %s: %w", st.State, err)
	}
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	keys := []string{s.keyPrefix + m, s.index}
	err = s.publish.Run(octx, s.client, keys, mode, payload, m, ceilMillis(st.OpenUntil), now.UnixMilli(), s.channel).Err()
	if err != nil {
		return fmt.Errorf("redisshare: publish %s: %w", st.State, err)
	}
	s.mu.Lock()
	delete(s.remote, m) // our own change supersedes what we heard
	s.mu.Unlock()
	return nil
}

// Notify queues st for Publish by Run and returns at once, so it can be
// registered directly as a Breakers.OnChange callback (which must be quick).
// Several changes of one key before Run gets to them coalesce into the
// latest.
func (s *Share) Notify(st breaker.Status) {
	if st.State == breaker.HalfOpen {
		return
	}
	s.mu.Lock()
	s.pending[member(st.Key)] = st
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// isEcho reports whether st merely repeats a remote change Run applied.
func (s *Share) isEcho(m string, st breaker.Status) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.remote[m]
	if !ok || r.state != st.State {
		return false
	}
	return st.State == breaker.Closed || r.until == unixNano(st.OpenUntil)
}

// ceilMillis rounds t up to a millisecond, so a record outlives its breaker.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// ApplyTo returns the usual apply function for Run: a remote open trips the
// local breaker until the shared OpenUntil with the remote reason, a remote
// close resets it.
func ApplyTo(b *breaker.Breakers) func(breaker.Status) {
	return func(st breaker.Status) {
		switch st.State {
		case breaker.Open:
			b.Trip(st.Key, st.Reason, st.Detail, st.OpenUntil)
		case breaker.Closed:
			b.Reset(st.Key)
		}
	}
}

// publishScript: KEYS[1] the breaker record, KEYS[2] the index of open
// breakers (member → OpenUntil ms); ARGV[1] "open" or "close", ARGV[2] the
// record, ARGV[3] member, ARGV[4] OpenUntil ms, ARGV[5] now ms, ARGV[6] the
// channel. The index expires with its latest entry and drops past ones.
const publishScript = `
local endMs, now = tonumber(ARGV[4]), tonumber(ARGV[5])
if ARGV[1] == 'open' then
  local old = redis.call('ZSCORE', KEYS[2], ARGV[3])
  if old and tonumber(old) > endMs and tonumber(old) > now then return 0 end
  redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
else
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] then redis.call('PEXPIREAT', KEYS[2], top[2]) end
redis.call('PUBLISH', ARGV[6], ARGV[2])
return 1
`
