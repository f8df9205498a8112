package redisshare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/redisconn"
	"github.com/redis/go-redis/v9"
)

// Loops is the per-record loop detector with its state on Redis, so that a
// loop going round through different replicas (a write leaves through A,
// its event arrives at B) is counted as one, and a record quarantined by
// one replica is quarantined on all. It has breaker.Loops's method set and
// semantics; when Redis cannot be reached it counts nothing and reports
// nothing quarantined (events are forwarded, writes pass), and errors go to
// OnError.
type Loops struct {
	client  redis.UniversalClient
	cfg     breaker.LoopConfig
	prefix  string
	index   string
	timeout time.Duration
	now     func() time.Time
	onError func(error)
	inbound *redis.Script

	mu           sync.Mutex
	onQuarantine []func(breaker.QuarantineInfo)
	onRelease    []func(breaker.QuarantineInfo)
}

// LoopOptions configures NewLoops.
type LoopOptions struct {
	Client redis.UniversalClient // required; not closed by Loops
	Config breaker.LoopConfig    // threshold, window, quarantine (defaults as breaker.NewLoops)
	Prefix string                // key prefix; default DefaultPrefix
	// Timeout bounds each call. Default 50ms: a call sits on the request path.
	Timeout time.Duration
	Now     func() time.Time
	OnError func(error)
}

// DefaultLoopTimeout bounds each loop-detector call.
const DefaultLoopTimeout = 50 * time.Millisecond

// NewLoops builds the shared detector.
func NewLoops(o LoopOptions) (*Loops, error) {
	if o.Client == nil {
		return nil, errors.New("redisshare: new loops: Client is required")
	}
	base, err := breaker.NewLoops(o.Config, o.Now) // validates and fills defaults
	if err != nil {
		return nil, fmt.Errorf("redisshare: new loops: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultLoopTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	return &Loops{client: o.Client, cfg: base.Config(), prefix: o.Prefix + "{loop}:r:", index: o.Prefix + "{loop}:q",
		timeout: o.Timeout, now: o.Now, onError: o.OnError, inbound: redis.NewScript(inboundScript)}, nil
}

// Config returns the effective configuration.
func (l *Loops) Config() breaker.LoopConfig { return l.cfg }

// OnQuarantine registers fn, called on the replica whose event quarantined
// a record.
func (l *Loops) OnQuarantine(fn func(breaker.QuarantineInfo)) {
	l.mu.Lock()
	l.onQuarantine = append(l.onQuarantine, fn)
	l.mu.Unlock()
}

// OnRelease registers fn, called on the replica that releases a record
// through Release (others notice through Quarantined).
func (l *Loops) OnRelease(fn func(breaker.QuarantineInfo)) {
	l.mu.Lock()
	l.onRelease = append(l.onRelease, fn)
	l.mu.Unlock()
}

func (l *Loops) key(k breaker.RecordKey) string { return l.prefix + redisconn.HashID(k.String()) }

func (l *Loops) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), l.timeout)
}

func (l *Loops) fail(op string, err error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		l.onError(fmt.Errorf("redisshare: loops %s: %w", op, err))
	}
}

// Wrote records that the app wrote k.
func (l *Loops) Wrote(k breaker.RecordKey) {
	ctx, cancel := l.ctx()
	defer cancel()
	key := l.key(k)
	_, err := l.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "w", l.now().UnixMilli())
		p.PExpire(ctx, key, l.cfg.Window+l.cfg.Quarantine)
		return nil
	})
	l.fail("wrote", err)
}

// Echoed notes that the event for k was our own (dropped) echo.
func (l *Loops) Echoed(k breaker.RecordKey) {
	ctx, cancel := l.ctx()
	defer cancel()
	l.fail("echoed", l.client.HDel(ctx, l.key(k), "w").Err())
}

// inboundScript counts a round trip when a write is pending within the
// window, keeps the round trips of the window (a list of ms stamps in the
// hash field "b"), and quarantines at the threshold. It returns
// {quarantined_until_ms or 0, count, is_new}.
// KEYS[1] record, KEYS[2] index; ARGV now, window, threshold, quarantine,
// member (the admin key), ttl.
const inboundScript = `
local now, window, threshold, q = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'w', 'b', 'q')
local qend = tonumber(h[3]) or 0
if qend > 0 and qend <= now then
  qend = 0
  redis.call('HDEL', KEYS[1], 'q', 'b', 'w')
  redis.call('ZREM', KEYS[2], ARGV[5])
  h = {false, false, false}
end
local bounces = {}
for s in string.gmatch(h[2] or '', '[^,]+') do
  local t = tonumber(s)
  if t and now - t < window then table.insert(bounces, t) end
end
local w = tonumber(h[1])
if w then
  redis.call('HDEL', KEYS[1], 'w')
  if now - w < window then
    table.insert(bounces, now)
    while #bounces > threshold do table.remove(bounces, 1) end
  end
end
local isNew = 0
if qend == 0 and #bounces >= threshold then
  qend = now + q
  isNew = 1
  redis.call('HSET', KEYS[1], 'q', qend)
  redis.call('ZADD', KEYS[2], qend, ARGV[5])
end
if #bounces > 0 or qend > 0 then
  redis.call('HSET', KEYS[1], 'b', table.concat(bounces, ','))
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
end
return {qend, #bounces, isNew}
`

// Inbound counts a round trip for k when a write is pending and reports
// whether k is quarantined, with the window's count.
func (l *Loops) Inbound(k breaker.RecordKey) (bool, int) {
	ctx, cancel := l.ctx()
	defer cancel()
	now := l.now()
	ttl := l.cfg.Window + l.cfg.Quarantine
	res, err := l.inbound.Run(ctx, l.client, []string{l.key(k), l.index},
		now.UnixMilli(), l.cfg.Window.Milliseconds(), l.cfg.Threshold, l.cfg.Quarantine.Milliseconds(), k.String(), ttl.Milliseconds()).Int64Slice()
	if err != nil || len(res) != 3 {
		l.fail("inbound", err)
		return false, 0
	}
	until, count := res[0], int(res[1])
	if res[2] == 1 {
		info := breaker.QuarantineInfo{Key: k, Since: now, Until: time.UnixMilli(until), Count: count,
			Reason: fmt.Sprintf("%d write->event round trips within %s", count, l.cfg.Window)}
		_ = l.saveInfo(k, info)
		l.fire(false, info)
	}
	return until > 0, count
}

// saveInfo keeps a quarantine's details for List and Quarantined.
func (l *Loops) saveInfo(k breaker.RecordKey, info breaker.QuarantineInfo) error {
	ctx, cancel := l.ctx()
	defer cancel()
	b, _ := json.Marshal(info)
	err := l.client.HSet(ctx, l.key(k), "i", b).Err()
	l.fail("save", err)
	return err
}

// Quarantined reports whether k is quarantined (by any replica).
func (l *Loops) Quarantined(k breaker.RecordKey) (bool, breaker.QuarantineInfo) {
	ctx, cancel := l.ctx()
	defer cancel()
	vals, err := l.client.HMGet(ctx, l.key(k), "q", "i").Result()
	if err != nil || len(vals) != 2 || vals[0] == nil {
		l.fail("quarantined", err)
		return false, breaker.QuarantineInfo{}
	}
	var until int64
	if s, ok := vals[0].(string); ok {
		_, _ = fmt.Sscan(s, &until)
	}
	if until <= l.now().UnixMilli() {
		return false, breaker.QuarantineInfo{}
	}
	info := breaker.QuarantineInfo{Key: k, Until: time.UnixMilli(until)}
	if s, ok := vals[1].(string); ok {
		_ = json.Unmarshal([]byte(s), &info)
	}
	return true, info
}

// Release ends k's quarantine for every replica.
func (l *Loops) Release(k breaker.RecordKey) bool {
	q, info := l.Quarantined(k)
	if !q {
		return false
	}
	ctx, cancel := l.ctx()
	defer cancel()
	_, err := l.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, l.key(k))
		p.ZRem(ctx, l.index, k.String())
		return nil
	})
	if err != nil {
		l.fail("release", err)
		return false
	}
	if now := l.now(); now.Before(info.Until) {
		info.Until = now
	}
	l.fire(true, info)
	return true
}

// List returns the records quarantined now, by any replica.
func (l *Loops) List() []breaker.QuarantineInfo {
	ctx, cancel := l.ctx()
	defer cancel()
	now := l.now().UnixMilli()
	_ = l.client.ZRemRangeByScore(ctx, l.index, "-inf", fmt.Sprint(now)).Err()
	members, err := l.client.ZRange(ctx, l.index, 0, -1).Result()
	if err != nil {
		l.fail("list", err)
		return nil
	}
	var out []breaker.QuarantineInfo
	for _, m := range members {
		k, err := breaker.ParseRecordKey(m)
		if err != nil {
			continue
		}
		if q, info := l.Quarantined(k); q {
			out = append(out, info)
		}
	}
	return out
}

// fire calls the quarantine (or, with release, the release) callbacks.
func (l *Loops) fire(release bool, info breaker.QuarantineInfo) {
	l.mu.Lock()
	fns := l.onQuarantine
	if release {
		fns = l.onRelease
	}
	list := make([]func(breaker.QuarantineInfo), len(fns))
	copy(list, fns)
	l.mu.Unlock()
	for _, fn := range list {
		fn(info)
	}
}
