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
)

const (
	// DefaultMaxBytes bounds the total record bytes held (256 MiB).
	DefaultMaxBytes int64 = 256 << 20
	// DefaultMaxItems bounds the number of held items.
	DefaultMaxItems = 100000
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
	keyFormat    = "format"
	keyItems     = "items"
	keyBytes     = "bytes"
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
	HeldAt   time.Time // when it was held; Append sets time.Now() when zero
	Attempts int       // failed replay attempts so far; MarkAttempt increments it
}

// Options configures Open.
type Options struct {
	Path        string        // bbolt file; required. Created 0600 with its directory 0700.
	MaxBytes    int64         // bound on the sum of Item.Size over held items; 0 means DefaultMaxBytes (256 MiB)
	MaxItems    int           // bound on the number of held items; 0 means DefaultMaxItems (100000)
	OpenTimeout time.Duration // wait for the file lock; 0 means DefaultOpenTimeout (1s)
}

// Spool is a durable, bounded, per-queue FIFO of held deliveries backed by
// one bbolt file. It is safe for concurrent use.
type Spool struct {
	db       *bolt.DB
	path     string
	maxBytes int64
	maxItems int
	items    atomic.Int64 // mirrors meta "items" after each commit
	bytes    atomic.Int64 // mirrors meta "bytes" after each commit
	commits  groupCommit  // batches concurrent Appends into shared commits
}

// Open opens or creates the spool file and restores its counters and
// sequence. It fails with ErrLocked when the file stays locked (for example by
// another process) longer than Options.OpenTimeout.
func Open(opts Options) (*Spool, error) {
	if opts.Path == "" {
		return nil, errors.New("spool: open: Options.Path is required")
	}
	if opts.MaxBytes < 0 || opts.MaxItems < 0 || opts.OpenTimeout < 0 {
		return nil, fmt.Errorf("spool: open %s: MaxBytes (%d), MaxItems (%d) and OpenTimeout (%s) must not be negative",
			opts.Path, opts.MaxBytes, opts.MaxItems, opts.OpenTimeout)
	}
	s := &Spool{path: opts.Path, maxBytes: opts.MaxBytes, maxItems: opts.MaxItems}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.maxItems == 0 {
		s.maxItems = DefaultMaxItems
	}
	timeout := opts.OpenTimeout
	if timeout == 0 {
		timeout = DefaultOpenTimeout
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), dirMode); err != nil {
		return nil, fmt.Errorf("spool: open %s: create directory: %w", opts.Path, err)
	}
	db, err := bolt.Open(opts.Path, fileMode, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolt.ErrTimeout) {
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
	switch v := meta.Get([]byte(keyFormat)); {
	case v == nil:
		if err := meta.Put([]byte(keyFormat), []byte{formatVersion}); err != nil {
			return fmt.Errorf("write format version: %w", err)
		}
	case len(v) != 1 || v[0] != formatVersion:
		return fmt.Errorf("unsupported spool format %x (want %d)", v, formatVersion)
	}
	items, bytes, err := readCounters(meta)
	if err != nil {
		return err
	}
	s.items.Store(int64(items))
	s.bytes.Store(int64(bytes))
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

// readCounters loads the item and byte counters; absent keys read as zero.
func readCounters(meta *bolt.Bucket) (items, bytes uint64, err error) {
	for _, c := range []struct {
		key string
		dst *uint64
	}{{keyItems, &items}, {keyBytes, &bytes}} {
		v := meta.Get([]byte(c.key))
		switch len(v) {
		case 0:
		case 8:
			*c.dst = binary.BigEndian.Uint64(v)
		default:
			return 0, 0, fmt.Errorf("meta counter %q has %d bytes, want 8", c.key, len(v))
		}
	}
	return items, bytes, nil
}

// writeCounters stores the counters in the current write transaction.
func writeCounters(meta *bolt.Bucket, items, bytes uint64) error {
	if err := meta.Put([]byte(keyItems), binary.BigEndian.AppendUint64(nil, items)); err != nil {
		return fmt.Errorf("write item counter: %w", err)
	}
	if err := meta.Put([]byte(keyBytes), binary.BigEndian.AppendUint64(nil, bytes)); err != nil {
		return fmt.Errorf("write byte counter: %w", err)
	}
	return nil
}

// seqKey is the big-endian key so that cursor order equals arrival order.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
