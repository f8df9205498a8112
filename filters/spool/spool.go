package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

const (
	// DefaultMaxBytes bounds the total record bytes held (256 MiB).
	DefaultMaxBytes int64 = 256 << 20
	// DefaultMaxItems bounds the number of held items.
	DefaultMaxItems = 100000
	// DefaultMaxItemBytes bounds one item (25 MiB: GitHub's largest
	// delivery; larger ones are refused with ErrTooLarge).
	DefaultMaxItemBytes int64 = 25 << 20
	// DefaultUnverifiedMaxBytes and DefaultUnverifiedMaxItems bound the
	// untrusted items (signature failed or unknown), held apart from the
	// main budget so that forged deliveries never take its space.
	DefaultUnverifiedMaxBytes int64 = 8 << 20
	DefaultUnverifiedMaxItems       = 1000
	// DefaultOpenTimeout is how long Open waits for bbolt's file lock, so a
	// second holder of the file yields a clear error instead of a hang.
	DefaultOpenTimeout = time.Second
	// MaxQueueLen bounds a queue name in bytes (it becomes a bbolt bucket name).
	MaxQueueLen = 512

	fileMode os.FileMode = 0o600
	dirMode  os.FileMode = 0o700
)

// Bucket and key names of the on-disk layout (see the package documentation).
const (
	metaBucket   = "meta"
	queuesBucket = "queues"
	deadBucket   = "dead"
	keyFormat    = "format"
	keyItems     = "items"
	keyBytes     = "bytes"
	keyUItems    = "u_items"
	keyUBytes    = "u_bytes"
	keyDItems    = "d_items"
	keyDBytes    = "d_bytes"
)

var (
	// ErrFull is returned (wrapped) by Append when holding the item would
	// exceed Options.MaxItems or Options.MaxBytes; the proxy answers 503.
	ErrFull = errors.New("spool: full")
	// ErrNotFound is returned (wrapped) by Remove and MarkAttempt when the
	// queue holds no item with that seq.
	ErrNotFound = errors.New("spool: item not found")
	// ErrLocked is returned (wrapped) by Open when another process or Spool
	// holds the file's lock for longer than Options.OpenTimeout.
	ErrLocked = errors.New("spool: file is locked by another holder")
	// ErrTooLarge is returned (wrapped) by Append and AppendFrom when one
	// item is larger than Options.MaxItemBytes.
	ErrTooLarge = errors.New("spool: item too large")
)

// Item is one held delivery.
type Item struct {
	Seq      uint64 // assigned by Append; increases monotonically per spool (arrival order), never reused
	Queue    string // partition key, e.g. "hubspot/acme" (provider/account); replay order is per queue
	Provider string // provider name, informational
	Account  string // account id, informational
	Record   string // record id the delivery is about, informational
	Reason   string // why it was held (breaker open, quarantined, app down)
	Method   string // request method to replay; required
	Path     string // request path to replay, including the query; must start with "/"
	Header   http.Header
	Body     []byte
	HeldAt   time.Time // when it was held; Append sets the spool's clock's now when zero
	Attempts int       // failed replay attempts so far; MarkAttempt increments it
	// Verification says whether the delivery's signature verified. An
	// untrusted item (see Verification.Trusted) is replayed as it came,
	// never re-signed nor recorded as accepted, and counts against the
	// unverified budget (Options.UnverifiedMaxBytes/Items), never against
	// the main one. Items held by earlier releases read as VerifyUnknown.
	Verification Verification
}

// Verification records whether a held delivery's signature was checked and
// held.
type Verification uint8

// Verifications. The zero value is VerifyUnknown: an item whose
// verification was not recorded counts as unverified.
const (
	// VerifyUnknown: not recorded (held by an earlier release); treated as
	// unverified.
	VerifyUnknown Verification = iota
	// Verified: the delivery's signature verified with the configured secret.
	Verified
	// Unverified: the signature was missing or wrong.
	Unverified
	// Unsigned: the provider has no signature secret configured, so its
	// deliveries are trusted by configuration (nothing to verify).
	Unsigned

	maxVerification = Unsigned
)

var verificationNames = [...]string{VerifyUnknown: "unknown", Verified: "verified", Unverified: "unverified", Unsigned: "unsigned"}

// String is the name used in logs and the admin API.
func (v Verification) String() string {
	if v <= maxVerification {
		return verificationNames[v]
	}
	return "invalid"
}

// Trusted reports whether the item may be re-signed and recorded as
// accepted on replay: its signature verified, or its provider has no
// secret configured (nothing could be verified, by configuration).
func (v Verification) Trusted() bool { return v == Verified || v == Unsigned }

// Options configures Open.
type Options struct {
	Path string // bbolt file; required. Created 0600 with its directory 0700.
	// MaxBytes and MaxItems bound the trusted items held, queued and dead
	// letters together (sum of Item.Size, count); 0 means DefaultMaxBytes
	// (256 MiB) and DefaultMaxItems (100000).
	MaxBytes int64
	MaxItems int
	// UnverifiedMaxBytes and UnverifiedMaxItems bound the untrusted items,
	// queued and dead, apart from MaxBytes/MaxItems; 0 means
	// DefaultUnverifiedMaxBytes (8 MiB) and DefaultUnverifiedMaxItems (1000).
	UnverifiedMaxBytes int64
	UnverifiedMaxItems int
	// MaxItemBytes bounds one item's Size; 0 means DefaultMaxItemBytes (25 MiB).
	MaxItemBytes int64
	OpenTimeout  time.Duration // wait for the file lock; 0 means DefaultOpenTimeout (1s)
	// Now is the clock of held and dead-letter times (Item.HeldAt,
	// DeadInfo.At when unset); nil means time.Now.
	Now func() time.Time
}

// Budget is the resolved bounds of a spool, shared by both backends.
type Budget struct {
	MaxBytes, UnverifiedMaxBytes, MaxItemBytes int64
	MaxItems, UnverifiedMaxItems               int
}

// WithDefaults fills zero fields with the package defaults.
func (b Budget) WithDefaults() Budget {
	if b.MaxBytes == 0 {
		b.MaxBytes = DefaultMaxBytes
	}
	if b.MaxItems == 0 {
		b.MaxItems = DefaultMaxItems
	}
	if b.UnverifiedMaxBytes == 0 {
		b.UnverifiedMaxBytes = DefaultUnverifiedMaxBytes
	}
	if b.UnverifiedMaxItems == 0 {
		b.UnverifiedMaxItems = DefaultUnverifiedMaxItems
	}
	if b.MaxItemBytes == 0 {
		b.MaxItemBytes = DefaultMaxItemBytes
	}
	return b
}

// Negative reports the first negative bound, for option validation.
func (b Budget) Negative() error {
	if b.MaxBytes < 0 || b.MaxItems < 0 || b.UnverifiedMaxBytes < 0 || b.UnverifiedMaxItems < 0 || b.MaxItemBytes < 0 {
		return fmt.Errorf("MaxBytes (%d), MaxItems (%d), UnverifiedMaxBytes (%d), UnverifiedMaxItems (%d) and MaxItemBytes (%d) must not be negative",
			b.MaxBytes, b.MaxItems, b.UnverifiedMaxBytes, b.UnverifiedMaxItems, b.MaxItemBytes)
	}
	return nil
}

// Stats is what a spool holds: queued items (Items, Bytes: Len and Bytes),
// dead letters, and the untrusted part of both (queued + dead), which
// counts against the unverified budget.
type Stats struct {
	Items           int   `json:"items"`
	Bytes           int64 `json:"bytes"`
	DeadItems       int   `json:"dead_items"`
	DeadBytes       int64 `json:"dead_bytes"`
	UnverifiedItems int   `json:"unverified_items"`
	UnverifiedBytes int64 `json:"unverified_bytes"`
}

// Spool is a durable, bounded, per-queue FIFO of held deliveries backed by
// one bbolt file. It is safe for concurrent use.
type Spool struct {
	db      *bolt.DB
	path    string
	budget  Budget
	now     func() time.Time
	items   atomic.Int64 // mirrors meta "items" after each commit
	bytes   atomic.Int64 // mirrors meta "bytes" after each commit
	dead    atomic.Int64 // mirrors meta "d_items" after each commit
	commits groupCommit  // batches concurrent Appends into shared commits
}

// Open opens or creates the spool file and restores its counters and
// sequence. It fails with ErrLocked when the file stays locked (for example by
// another process) longer than Options.OpenTimeout.
func Open(opts Options) (*Spool, error) {
	if opts.Path == "" {
		return nil, errors.New("spool: open: Options.Path is required")
	}
	b := Budget{MaxBytes: opts.MaxBytes, MaxItems: opts.MaxItems, UnverifiedMaxBytes: opts.UnverifiedMaxBytes,
		UnverifiedMaxItems: opts.UnverifiedMaxItems, MaxItemBytes: opts.MaxItemBytes}
	if err := b.Negative(); err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", opts.Path, err)
	}
	if opts.OpenTimeout < 0 {
		return nil, fmt.Errorf("spool: open %s: OpenTimeout (%s) must not be negative", opts.Path, opts.OpenTimeout)
	}
	s := &Spool{path: opts.Path, budget: b.WithDefaults(), now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	timeout := opts.OpenTimeout
	if timeout == 0 {
		timeout = DefaultOpenTimeout
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), dirMode); err != nil {
		return nil, fmt.Errorf("spool: open %s: create directory: %w", opts.Path, err)
	}
	db, err := bolt.Open(opts.Path, fileMode, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("spool: open %s: lock not acquired within %s (is another process using it?): %w: %w",
			opts.Path, timeout, ErrLocked, err)
	}
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", opts.Path, err)
	}
	s.db = db
	if err := db.Update(s.initMeta); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("spool: open %s: %w", opts.Path, err)
	}
	return s, nil
}

// initMeta creates the buckets on first use, checks the format version and
// loads the counters.
func (s *Spool) initMeta(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
	if err != nil {
		return fmt.Errorf("create meta bucket: %w", err)
	}
	if _, err := tx.CreateBucketIfNotExists([]byte(queuesBucket)); err != nil {
		return fmt.Errorf("create queues bucket: %w", err)
	}
	if _, err := tx.CreateBucketIfNotExists([]byte(deadBucket)); err != nil {
		return fmt.Errorf("create dead-letter bucket: %w", err)
	}
	switch v := meta.Get([]byte(keyFormat)); {
	case v == nil:
		if err := meta.Put([]byte(keyFormat), []byte{formatVersion}); err != nil {
			return fmt.Errorf("write format version: %w", err)
		}
	case len(v) != 1 || v[0] != formatVersion:
		return fmt.Errorf("unsupported spool format %x (want %d)", v, formatVersion)
	}
	c, err := readCounters(meta)
	if err != nil {
		return err
	}
	s.items.Store(int64(c.items))
	s.bytes.Store(int64(c.bytes))
	s.dead.Store(int64(c.dItems))
	return nil
}

// Close releases the file. Pending operations finish first.
func (s *Spool) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("spool: close %s: %w", s.path, err)
	}
	return nil
}

// Len returns the number of held items.
func (s *Spool) Len() int { return int(s.items.Load()) }

// Bytes returns the sum of Item.Size over held items.
func (s *Spool) Bytes() int64 { return s.bytes.Load() }

// counters are the meta bucket's counters: queued items and bytes (all
// verifications), untrusted items and bytes (queued and dead), and dead
// letters (all verifications). Files of earlier releases lack the last
// four: they read as zero.
type counters struct {
	items, bytes, uItems, uBytes, dItems, dBytes uint64
}

func (c *counters) fields() []struct {
	key string
	dst *uint64
} {
	return []struct {
		key string
		dst *uint64
	}{{keyItems, &c.items}, {keyBytes, &c.bytes}, {keyUItems, &c.uItems}, {keyUBytes, &c.uBytes}, {keyDItems, &c.dItems}, {keyDBytes, &c.dBytes}}
}

// trusted returns the items and bytes counted in the main budget.
func (c *counters) trusted() (items, bytes uint64) {
	return c.items + c.dItems - min(c.uItems, c.items+c.dItems), c.bytes + c.dBytes - min(c.uBytes, c.bytes+c.dBytes)
}

// readCounters loads the counters; absent keys read as zero.
func readCounters(meta *bolt.Bucket) (counters, error) {
	var c counters
	for _, f := range c.fields() {
		v := meta.Get([]byte(f.key))
		switch len(v) {
		case 0:
		case 8:
			*f.dst = binary.BigEndian.Uint64(v)
		default:
			return counters{}, fmt.Errorf("meta counter %q has %d bytes, want 8", f.key, len(v))
		}
	}
	return c, nil
}

// writeCounters stores the counters in the current write transaction.
func writeCounters(meta *bolt.Bucket, c counters) error {
	for _, f := range c.fields() {
		if err := meta.Put([]byte(f.key), binary.BigEndian.AppendUint64(nil, *f.dst)); err != nil {
			return fmt.Errorf("write counter %q: %w", f.key, err)
		}
	}
	return nil
}

// sub decrements without wrapping below zero.
func sub(x *uint64, by uint64) { *x -= min(*x, by) }

// seqKey is the big-endian key so that cursor order equals arrival order.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
