package ledger

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/allegro/bigcache/v3"
)

// Options configures the embedded store.
type Options struct {
	// WriteTTL is how long our writes stay pending. Default 10m.
	WriteTTL time.Duration
	// SeenTTL is how long a record's last genuine state is kept. Default 24h.
	SeenTTL time.Duration
	// DedupWindow is how long forwarded event ids are kept. Default 24h.
	DedupWindow time.Duration
	// MaxSizeMB caps each cache's memory (FIFO eviction). Default 256.
	MaxSizeMB int
	// Shards is bigcache's shard count (power of two). Default 1024.
	Shards int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

const (
	defaultWriteTTL    = 10 * time.Minute
	defaultSeenTTL     = 24 * time.Hour
	defaultDedupWindow = 24 * time.Hour
	defaultMaxSizeMB   = 256
	defaultShards      = 1024
	cleanWindow        = time.Minute
	lockStripes        = 256
)

// Memory is the embedded Store on bigcache. bigcache has one global life
// window, evicts FIFO and its Get returns expired entries, so every entry
// carries its own times and is checked on read.
type Memory struct {
	opts      Options
	records   *bigcache.BigCache
	events    *dedupSet
	names     *nameTable
	seed      maphash.Seed
	locks     [lockStripes]sync.Mutex
	memos     [lockStripes]memo          // guarded by locks[i]
	gens      [lockStripes]atomic.Uint64 // bumped when bigcache drops an entry of stripe i
	evictions atomic.Uint64
	bufs      sync.Pool // *[]byte: rendered keys, encoded states
	states    sync.Pool // *State: update's working state
}

var _ Store = (*Memory)(nil)

// NewMemory builds the embedded store.
func NewMemory(opts Options) (*Memory, error) {
	if opts.WriteTTL <= 0 {
		opts.WriteTTL = defaultWriteTTL
	}
	if opts.SeenTTL <= 0 {
		opts.SeenTTL = defaultSeenTTL
	}
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = defaultDedupWindow
	}
	if opts.MaxSizeMB <= 0 {
		opts.MaxSizeMB = defaultMaxSizeMB
	}
	if opts.Shards <= 0 {
		opts.Shards = defaultShards
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Memory{opts: opts, seed: maphash.MakeSeed()}
	m.bufs.New = func() any { b := make([]byte, 0, 256); return &b }
	m.states.New = func() any { return new(State) }
	newCache := func(life time.Duration) (*bigcache.BigCache, error) {
		c := bigcache.DefaultConfig(life)
		c.Shards = opts.Shards
		c.HardMaxCacheSize = opts.MaxSizeMB
		c.CleanWindow = cleanWindow
		c.MaxEntriesInWindow = 16 * opts.Shards // small initial shards; bigcache grows them
		c.MaxEntrySize = 256
		c.Verbose = false
		c.OnRemoveWithReason = func(key string, _ []byte, r bigcache.RemoveReason) {
			// Called under bigcache's shard lock (also from inside Set,
			// while update holds a stripe lock): no lock may be taken here.
			m.gens[m.stripe(key)].Add(1)
			if r == bigcache.NoSpace {
				m.evictions.Add(1)
			}
		}
		return bigcache.New(context.Background(), c)
	}
	var err error
	if m.records, err = newCache(max(opts.WriteTTL, opts.SeenTTL)); err != nil {
		return nil, fmt.Errorf("ledger: create record cache: %w", err)
	}
	m.events = newDedupSet(opts.MaxSizeMB)
	m.names = newNameTable()
	return m, nil
}

func (m *Memory) stripe(key string) int { return int(maphash.String(m.seed, key) % lockStripes) }

// memo is a lock stripe's last entry read or stored: the next read of the
// same key (the recording after a delivery reads what its decision just
// read) decodes it without bigcache's Get (a lookup, a shard lock and two
// copies: a tenth of the realistic delivery's CPU in loopguard, issue 19).
// Every entry is stored through store under its stripe lock, which
// updates the memo; an entry bigcache drops (full, expired) bumps the
// stripe's generation, which retires the memo (gen).
type memo struct {
	gen      uint64
	key, val []byte
	ok       bool
}

// read returns the encoded state of key; the caller holds stripe i's lock.
// The bytes are the memo's: valid until the stripe's next read or store.
func (m *Memory) read(i int, key string) ([]byte, error) {
	mm := &m.memos[i]
	g := m.gens[i].Load()
	if mm.ok && mm.gen == g && string(mm.key) == key {
		return mm.val, nil
	}
	b, err := m.records.Get(key) // a copy: the memo keeps it
	if err != nil {
		return nil, err
	}
	mm.gen, mm.key, mm.val, mm.ok = g, append(mm.key[:0], key...), b, true
	return b, nil
}

// load reads and prunes the state of key under stripe i's lock; ok is
// false when nothing is known.
func (m *Memory) load(i int, key string, st *State, now time.Time) (bool, error) {
	b, err := m.read(i, key)
	if errors.Is(err, bigcache.ErrEntryNotFound) {
		st.Reset()
		return false, nil
	}
	if err != nil {
		st.Reset()
		return false, fmt.Errorf("ledger: get %s: %w", strings.Clone(key), err)
	}
	if err := decodeStateNames(b, st, m.names); err != nil {
		return false, fmt.Errorf("ledger: decode %s: %w", strings.Clone(key), err)
	}
	st.Prune(now, m.opts.WriteTTL, m.opts.SeenTTL)
	return st.Known(), nil
}

// store encodes st as key's entry under stripe i's lock, and memoises it.
func (m *Memory) store(i int, key string, st *State) error {
	mm := &m.memos[i]
	g := m.gens[i].Load() // before Set: a drop during Set retires the memo
	mm.ok = false
	mm.val = Encode(mm.val[:0], st)
	if err := m.records.Set(key, mm.val); err != nil {
		return fmt.Errorf("ledger: set %s: %w", strings.Clone(key), err)
	}
	mm.gen, mm.key, mm.ok = g, append(mm.key[:0], key...), true
	return nil
}

// update reads, changes and stores k's state under its stripe lock. A
// corrupt entry is started afresh.
//
// The key is rendered into a pooled buffer and used as a string without
// copying (bigcache's Set copies it into the entry; errors clone it), and
// the state is a pooled one: nothing outlives the call.
func (m *Memory) update(k Key, change func(*State)) error {
	kp := m.bufs.Get().(*[]byte)
	defer m.bufs.Put(kp)
	*kp = k.Append((*kp)[:0])
	key := unsafe.String(unsafe.SliceData(*kp), len(*kp))
	i := m.stripe(key)
	m.locks[i].Lock()
	defer m.locks[i].Unlock()
	st := m.states.Get().(*State)
	defer m.putState(st)
	if _, err := m.load(i, key, st, m.opts.Now()); err != nil {
		st.Reset()
	}
	change(st)
	return m.store(i, key, st)
}

// putState pools st for the next update. Its writes are cleared to the
// capacity first: a write's slices may be the caller's (ApplyWrite keeps
// them), and the next decode must not write into them.
func (m *Memory) putState(st *State) {
	clear(st.Writes[:cap(st.Writes)])
	st.Reset()
	m.states.Put(st)
}

// RecordWrite implements Store.
func (m *Memory) RecordWrite(_ context.Context, k Key, w Write) error {
	return m.update(k, func(st *State) { st.ApplyWrite(&w) })
}

// Accept implements Store.
func (m *Memory) Accept(_ context.Context, k Key, a Accept) error {
	return m.update(k, func(st *State) { st.ApplyAccept(&a) })
}

// Get implements Store, under the key's stripe lock (the memo is the
// stripe's). The key is rendered into a pooled buffer and used as a string
// without copying: bigcache's Get hashes and compares it but does not keep
// it, so the buffer can go back to the pool afterwards.
func (m *Memory) Get(_ context.Context, k Key, st *State) (bool, error) {
	bp := m.bufs.Get().(*[]byte)
	defer m.bufs.Put(bp)
	*bp = k.Append((*bp)[:0])
	key := unsafe.String(unsafe.SliceData(*bp), len(*bp))
	i := m.stripe(key)
	m.locks[i].Lock()
	defer m.locks[i].Unlock()
	return m.load(i, key, st, m.opts.Now())
}

// EventSeen implements Store.
func (m *Memory) EventSeen(_ context.Context, id string) (bool, error) {
	return m.events.seen(id, m.opts.Now()), nil
}

// MarkEvent implements Store.
func (m *Memory) MarkEvent(_ context.Context, id string) error {
	now := m.opts.Now()
	m.events.mark(id, now, now.Add(m.opts.DedupWindow))
	return nil
}

// Stats implements Store.
func (m *Memory) Stats() Stats {
	return Stats{Entries: m.records.Len(), Evictions: m.evictions.Load() + m.events.evicted.Load(), Events: m.events.len()}
}

// Close implements Store.
func (m *Memory) Close() error {
	return m.records.Close()
}
