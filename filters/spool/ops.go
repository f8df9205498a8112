package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// QueueStat summarises one queue for metrics and admin.
type QueueStat struct {
	Queue  string
	Count  int       // items held
	Bytes  int64     // sum of Item.Size
	Oldest time.Time // HeldAt of the first (oldest) item; zero if it is unreadable
}

// validate reports the first problem with an item about to be appended.
func validate(it *Item) error {
	switch {
	case it.Queue == "":
		return errors.New("queue is required")
	case len(it.Queue) > MaxQueueLen:
		return fmt.Errorf("queue is %d bytes, longer than %d", len(it.Queue), MaxQueueLen)
	case it.Method == "":
		return errors.New("method is required")
	case strings.ContainsAny(it.Method, " \t\r\n"):
		return fmt.Errorf("method %q contains whitespace", it.Method)
	case !strings.HasPrefix(it.Path, "/"):
		return fmt.Errorf("path %q must start with \"/\"", it.Path)
	case it.Attempts < 0 || it.Attempts > math.MaxUint32:
		return fmt.Errorf("attempts %d out of range", it.Attempts)
	case !time.Unix(0, it.HeldAt.UnixNano()).Equal(it.HeldAt):
		return fmt.Errorf("held-at time %s not representable in Unix nanoseconds", it.HeldAt)
	case it.Verification > maxVerification:
		return fmt.Errorf("verification %d unknown", it.Verification)
	}
	return nil
}

// Append durably holds it (the bbolt commit has fsynced when Append returns)
// and returns its assigned seq. Concurrent Appends share commits (see
// groupCommit), so a burst costs few fsyncs. it.Seq is ignored. It returns an error
// wrapping ErrFull, and stores nothing, when MaxItems or MaxBytes would be
// exceeded.
func (s *Spool) Append(it Item) (uint64, error) {
	if it.HeldAt.IsZero() {
		it.HeldAt = s.now()
	}
	if err := validate(&it); err != nil {
		return 0, fmt.Errorf("spool: append: %w", err)
	}
	if n := int64(it.Size()); n > s.budget.MaxItemBytes {
		return 0, fmt.Errorf("spool: append to queue %q: %w: %d bytes, MaxItemBytes %d", it.Queue, ErrTooLarge, n, s.budget.MaxItemBytes)
	}
	req := &appendReq{queue: it.Queue, val: encodeItem(&it), untrusted: !it.Verification.Trusted(), done: make(chan struct{})}
	s.appendDurable(req)
	if req.err != nil {
		return 0, fmt.Errorf("spool: append to queue %q: %w", it.Queue, req.err)
	}
	return req.seq, nil
}

// Peek returns up to n items of queue, oldest first, without removing them.
// Records that cannot be decoded are skipped and reported in the returned
// error as *CorruptError values (naming queue and seq) alongside the good
// items; an unknown queue yields no items and no error.
func (s *Spool) Peek(queue string, n int) ([]Item, error) {
	if n <= 0 {
		return nil, fmt.Errorf("spool: peek queue %q: n must be positive, got %d", queue, n)
	}
	var items []Item
	var bad []error
	err := s.db.View(func(tx *bolt.Tx) error {
		qb := tx.Bucket([]byte(queuesBucket)).Bucket([]byte(queue))
		if qb == nil {
			return nil
		}
		c := qb.Cursor()
		for k, v := c.First(); k != nil && len(items) < n; k, v = c.Next() {
			seq, err := parseKey(k)
			if err == nil {
				var it Item
				if it, err = decodeItem(v); err == nil {
					it.Queue, it.Seq = queue, seq
					items = append(items, it)
					continue
				}
			}
			bad = append(bad, &CorruptError{Queue: queue, Seq: seq, Err: err})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spool: peek queue %q: %w", queue, err)
	}
	if len(bad) > 0 {
		return items, fmt.Errorf("spool: peek queue %q: skipped %d unreadable record(s): %w", queue, len(bad), errors.Join(bad...))
	}
	return items, nil
}

// parseKey decodes a record key; a malformed key yields seq 0 and an error.
func parseKey(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("key %x is %d bytes, want 8", k, len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

// Remove deletes one item (after the app accepted it), freeing its space.
// An emptied queue disappears from Queues. It works on corrupt records too.
func (s *Spool) Remove(queue string, seq uint64) error {
	var size uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		v, err := takeRecord(tx, queue, seq)
		if err != nil {
			return err
		}
		size = uint64(len(v))
		meta := tx.Bucket([]byte(metaBucket))
		c, err := readCounters(meta)
		if err != nil {
			return err
		}
		sub(&c.items, 1)
		sub(&c.bytes, size)
		if verifyRecord(v) == nil && countedUntrusted(v) {
			sub(&c.uItems, 1)
			sub(&c.uBytes, size)
		}
		return writeCounters(meta, c)
	})
	if err != nil {
		return fmt.Errorf("spool: remove queue %q seq %d: %w", queue, seq, err)
	}
	s.items.Add(-1)
	s.bytes.Add(-int64(size))
	return nil
}

// MarkAttempt records one failed replay of an item by incrementing its
// Attempts (saturating at MaxUint32). The record size does not change.
func (s *Spool) MarkAttempt(queue string, seq uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		qb := tx.Bucket([]byte(queuesBucket)).Bucket([]byte(queue))
		if qb == nil {
			return ErrNotFound
		}
		k := seqKey(seq)
		v := qb.Get(k)
		if v == nil {
			return ErrNotFound
		}
		if err := verifyRecord(v); err != nil {
			return &CorruptError{Queue: queue, Seq: seq, Err: err}
		}
		nv := slices.Clone(v) // v points into the read-only mmap
		if a := binary.BigEndian.Uint32(nv[attemptsOff:]); a < math.MaxUint32 {
			binary.BigEndian.PutUint32(nv[attemptsOff:], a+1)
		}
		binary.BigEndian.PutUint32(nv[len(nv)-crcLen:], checksum(nv[:len(nv)-crcLen]))
		return qb.Put(k, nv)
	})
	if err != nil {
		return fmt.Errorf("spool: mark attempt queue %q seq %d: %w", queue, seq, err)
	}
	return nil
}

// Queues returns one QueueStat per non-empty queue, sorted by queue name. It
// walks every record key (not decoding bodies), so its cost grows with Len.
func (s *Spool) Queues() ([]QueueStat, error) {
	var stats []QueueStat
	err := s.db.View(func(tx *bolt.Tx) error {
		queues := tx.Bucket([]byte(queuesBucket))
		return queues.ForEachBucket(func(name []byte) error {
			st := QueueStat{Queue: string(name)}
			c := queues.Bucket(name).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if st.Count == 0 && len(v) >= fixedLenV1 && (v[0] == recordV1 || v[0] == recordV2) {
					st.Oldest = time.Unix(0, int64(binary.BigEndian.Uint64(v[heldAtOff:])))
				}
				st.Count++
				st.Bytes += int64(len(v))
			}
			if st.Count > 0 {
				stats = append(stats, st)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("spool: list queues: %w", err)
	}
	return stats, nil
}

// takeRecord deletes one record from its queue (and the queue bucket when
// it empties) and returns a copy of it; ErrNotFound when absent.
func takeRecord(tx *bolt.Tx, queue string, seq uint64) ([]byte, error) {
	queues := tx.Bucket([]byte(queuesBucket))
	qb := queues.Bucket([]byte(queue))
	if qb == nil {
		return nil, ErrNotFound
	}
	k := seqKey(seq)
	v := qb.Get(k)
	if v == nil {
		return nil, ErrNotFound
	}
	v = slices.Clone(v) // v points into the mmap, which the delete may change
	if err := qb.Delete(k); err != nil {
		return nil, fmt.Errorf("delete: %w", err)
	}
	if first, _ := qb.Cursor().First(); first == nil {
		if err := queues.DeleteBucket([]byte(queue)); err != nil {
			return nil, fmt.Errorf("delete empty queue bucket: %w", err)
		}
	}
	return v, nil
}
