package spool

import (
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// appendReq is one Append waiting for a commit.
type appendReq struct {
	queue string
	val   []byte // encoded record
	// untrusted: the item counts against the unverified budget.
	untrusted bool
	seq       uint64 // set by the commit
	err       error  // set by the commit
	done      chan struct{}
}

// groupCommit lets concurrent Appends share one bbolt transaction (and so one
// fsync) without adding delay: whoever gets commitMu commits everything
// queued so far; callers whose request was committed by someone else return.
// A lone caller commits alone, so single-Append latency is one commit.
type groupCommit struct {
	commitMu sync.Mutex // held for the duration of one commit
	mu       sync.Mutex // guards pending
	pending  []*appendReq
}

// appendDurable queues req and returns once it is committed or rejected.
func (s *Spool) appendDurable(req *appendReq) {
	g := &s.commits
	g.mu.Lock()
	g.pending = append(g.pending, req)
	g.mu.Unlock()

	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	select {
	case <-req.done: // a previous holder committed it
		return
	default: // still pending: nobody else can have taken it, commit the lot
	}
	g.mu.Lock()
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()
	s.commitBatch(batch)
}

// commitBatch writes batch in one transaction, in queue order. Items that
// would exceed a bound get ErrFull without failing the others; a storage
// error fails every item not already rejected.
func (s *Spool) commitBatch(batch []*appendReq) {
	var addItems, addBytes int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		addItems, addBytes = 0, 0
		meta := tx.Bucket([]byte(metaBucket))
		queues := tx.Bucket([]byte(queuesBucket))
		c, err := readCounters(meta)
		if err != nil {
			return err
		}
		for _, r := range batch {
			r.seq, r.err = 0, nil
			size := uint64(len(r.val))
			if r.err = s.budget.admit(&c, r.untrusted, size); r.err != nil {
				continue
			}
			qb, err := queues.CreateBucketIfNotExists([]byte(r.queue))
			if err != nil {
				return fmt.Errorf("create queue bucket: %w", err)
			}
			seq, err := meta.NextSequence()
			if err != nil {
				return fmt.Errorf("next sequence: %w", err)
			}
			if err := qb.Put(seqKey(seq), r.val); err != nil {
				return fmt.Errorf("put seq %d: %w", seq, err)
			}
			r.seq = seq
			c.items, c.bytes = c.items+1, c.bytes+size
			if r.untrusted {
				c.uItems, c.uBytes = c.uItems+1, c.uBytes+size
			}
			addItems, addBytes = addItems+1, addBytes+int64(size)
		}
		return writeCounters(meta, c)
	})
	for _, r := range batch {
		if err != nil && r.err == nil {
			r.seq, r.err = 0, err
		}
		close(r.done)
	}
	if err == nil {
		s.items.Add(addItems)
		s.bytes.Add(addBytes)
	}
}

// admit reports whether an item of size bytes fits its budget: the
// unverified one for untrusted items, the main one (queued and dead trusted
// items) otherwise. The error wraps ErrFull and names the budget.
func (b Budget) admit(c *counters, untrusted bool, size uint64) error {
	if untrusted {
		switch {
		case c.uItems+1 > uint64(b.UnverifiedMaxItems):
			return fmt.Errorf("%w: unverified budget: %d items held, UnverifiedMaxItems %d", ErrFull, c.uItems, b.UnverifiedMaxItems)
		case c.uBytes+size > uint64(b.UnverifiedMaxBytes):
			return fmt.Errorf("%w: unverified budget: %d bytes held + %d for this item exceeds UnverifiedMaxBytes %d",
				ErrFull, c.uBytes, size, b.UnverifiedMaxBytes)
		}
		return nil
	}
	items, bytes := c.trusted()
	switch {
	case items+1 > uint64(b.MaxItems):
		return fmt.Errorf("%w: %d items held, MaxItems %d", ErrFull, items, b.MaxItems)
	case bytes+size > uint64(b.MaxBytes):
		return fmt.Errorf("%w: %d bytes held + %d for this item exceeds MaxBytes %d", ErrFull, bytes, size, b.MaxBytes)
	}
	return nil
}
