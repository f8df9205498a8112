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
	seq   uint64 // set by the commit
	err   error  // set by the commit
	done  chan struct{}
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
		items, bytes, err := readCounters(meta)
		if err != nil {
			return err
		}
		for _, r := range batch {
			r.seq, r.err = 0, nil
			size := uint64(len(r.val))
			switch {
			case items+1 > uint64(s.maxItems):
				r.err = fmt.Errorf("%w: %d items held, MaxItems %d", ErrFull, items, s.maxItems)
				continue
			case bytes+size > uint64(s.maxBytes):
				r.err = fmt.Errorf("%w: %d bytes held + %d for this item exceeds MaxBytes %d", ErrFull, bytes, size, s.maxBytes)
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
			items, bytes = items+1, bytes+size
			addItems, addBytes = addItems+1, addBytes+int64(size)
		}
		return writeCounters(meta, items, bytes)
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
