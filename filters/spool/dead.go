package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Dead letters live in the "dead" bucket (key: the item's seq, 8 bytes
// big-endian, so ids never collide with queued items and cursor order is
// arrival order) and their per-provider counts in "deadcount" (key:
// provider, value: uint64 big-endian). A dead record is:
//
//	1 byte   dead-record version (1)
//	8 bytes  dead-at, Unix nanoseconds, big-endian
//	uvarint  attempts, uvarint last status
//	strings  queue, reason, last error, answers (JSON), each uvarint length + bytes
//	string   the item's queued record as it was (its own version and CRC)
//	4 bytes  CRC-32C of everything before it
//
// Size accounting: a dead letter counts its item record's length, as when it
// was queued, in d_items/d_bytes and (untrusted) in u_items/u_bytes.

const (
	deadVersion     byte = 1
	deadCountBucket      = "deadcount"
)

var _ DeadLetters = (*Spool)(nil)

func encodeDead(queue string, rec []byte, info DeadInfo) ([]byte, error) {
	answers, err := json.Marshal(info.Answers)
	if err != nil {
		return nil, fmt.Errorf("encode answers: %w", err)
	}
	buf := make([]byte, 0, len(rec)+len(answers)+len(info.LastError)+len(queue)+64)
	buf = append(buf, deadVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(info.At.UnixNano()))
	buf = binary.AppendUvarint(buf, uint64(max(info.Attempts, 0)))
	buf = binary.AppendUvarint(buf, uint64(max(info.LastStatus, 0)))
	for _, s := range []string{queue, string(info.Reason), info.LastError} {
		buf = appendString(buf, s)
	}
	buf = binary.AppendUvarint(buf, uint64(len(answers)))
	buf = append(buf, answers...)
	buf = binary.AppendUvarint(buf, uint64(len(rec)))
	buf = append(buf, rec...)
	return binary.BigEndian.AppendUint32(buf, checksum(buf)), nil
}

// decodeDead parses a dead record; rec is the item's record inside it (a
// sub-slice of v).
func decodeDead(v []byte, body bool) (DeadLetter, []byte, error) {
	if len(v) < 1+8+crcLen {
		return DeadLetter{}, nil, fmt.Errorf("dead record is %d bytes, too short", len(v))
	}
	if got, want := checksum(v[:len(v)-crcLen]), binary.BigEndian.Uint32(v[len(v)-crcLen:]); got != want {
		return DeadLetter{}, nil, fmt.Errorf("dead record checksum mismatch: stored %08x, computed %08x", want, got)
	}
	if v[0] != deadVersion {
		return DeadLetter{}, nil, fmt.Errorf("unsupported dead record version %d", v[0])
	}
	var d DeadLetter
	d.Info.At = time.Unix(0, int64(binary.BigEndian.Uint64(v[1:])))
	r := reader{b: v[9 : len(v)-crcLen]}
	d.Info.Attempts = int(min(r.uvarint("attempts"), 1<<31))
	d.Info.LastStatus = int(min(r.uvarint("status"), 1<<31))
	queue := string(r.bytes("queue"))
	d.Info.Reason = DeadReason(r.bytes("reason"))
	d.Info.LastError = string(r.bytes("last error"))
	answers := r.bytes("answers")
	rec := r.bytes("record")
	if r.err == nil && r.off != len(r.b) {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b)-r.off)
	}
	if r.err != nil {
		return DeadLetter{}, nil, r.err
	}
	if err := json.Unmarshal(answers, &d.Info.Answers); err != nil {
		return DeadLetter{}, nil, fmt.Errorf("answers: %w", err)
	}
	if err := verifyRecord(rec); err != nil {
		return DeadLetter{}, nil, fmt.Errorf("item record: %w", err)
	}
	it, err := decodeRecord(rec, body)
	if err != nil {
		return DeadLetter{}, nil, fmt.Errorf("item record: %w", err)
	}
	it.Queue, it.Attempts = queue, d.Info.Attempts
	d.Item, d.Size = it, int64(len(rec))
	return d, rec, nil
}

// Bury moves one queued item into the dead letters (see DeadLetters).
func (s *Spool) Bury(queue string, seq uint64, info DeadInfo) error {
	if info.At.IsZero() {
		info.At = s.now()
	}
	var size uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		rec, err := takeRecord(tx, queue, seq)
		if err != nil {
			return err
		}
		if err := verifyRecord(rec); err != nil {
			return &CorruptError{Queue: queue, Seq: seq, Err: err}
		}
		it, err := decodeRecord(rec, false)
		if err != nil {
			return &CorruptError{Queue: queue, Seq: seq, Err: err}
		}
		val, err := encodeDead(queue, rec, info)
		if err != nil {
			return err
		}
		if err := tx.Bucket([]byte(deadBucket)).Put(seqKey(seq), val); err != nil {
			return fmt.Errorf("put dead letter: %w", err)
		}
		if err := addDeadCount(tx, it.Provider, 1); err != nil {
			return err
		}
		meta := tx.Bucket([]byte(metaBucket))
		c, err := readCounters(meta)
		if err != nil {
			return err
		}
		size = uint64(len(rec))
		sub(&c.items, 1)
		sub(&c.bytes, size)
		c.dItems, c.dBytes = c.dItems+1, c.dBytes+size
		return writeCounters(meta, c)
	})
	if err != nil {
		return fmt.Errorf("spool: dead-letter queue %q seq %d: %w", queue, seq, err)
	}
	s.items.Add(-1)
	s.bytes.Add(-int64(size))
	s.dead.Add(1)
	return nil
}

func addDeadCount(tx *bolt.Tx, provider string, by int) error {
	b, err := tx.CreateBucketIfNotExists([]byte(deadCountBucket))
	if err != nil {
		return fmt.Errorf("dead-letter counts: %w", err)
	}
	var n uint64
	if v := b.Get([]byte(provider)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	if by < 0 {
		sub(&n, uint64(-by))
	} else {
		n += uint64(by)
	}
	if n == 0 {
		return b.Delete([]byte(provider))
	}
	return b.Put([]byte(provider), binary.BigEndian.AppendUint64(nil, n))
}

// Dead lists up to limit dead letters, oldest first, without headers and
// bodies. Unreadable ones are reported as *CorruptError alongside the rest.
func (s *Spool) Dead(limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("spool: list dead letters: limit must be positive, got %d", limit)
	}
	var out []DeadLetter
	var bad []error
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(deadBucket)).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			id, err := parseKey(k)
			if err == nil {
				var d DeadLetter
				if d, _, err = decodeDead(v, false); err == nil {
					d.Seq, d.Header = id, nil
					out = append(out, d)
					continue
				}
			}
			bad = append(bad, &CorruptError{Queue: "dead", Seq: id, Err: err})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spool: list dead letters: %w", err)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("spool: list dead letters: skipped %d unreadable: %w", len(bad), errors.Join(bad...))
	}
	return out, nil
}

// DeadItem returns one dead letter whole.
func (s *Spool) DeadItem(id uint64) (DeadLetter, error) {
	var d DeadLetter
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(deadBucket)).Get(seqKey(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		if d, _, err = decodeDead(v, true); err != nil {
			return &CorruptError{Queue: "dead", Seq: id, Err: err}
		}
		d.Seq = id
		return nil
	})
	if err != nil {
		return DeadLetter{}, fmt.Errorf("spool: dead letter %d: %w", id, err)
	}
	return d, nil
}

// Requeue moves a dead letter back to the end of its queue.
func (s *Spool) Requeue(id uint64) (uint64, error) {
	var seq, size uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		db := tx.Bucket([]byte(deadBucket))
		v := db.Get(seqKey(id))
		if v == nil {
			return ErrNotFound
		}
		d, rec, err := decodeDead(v, false)
		if err != nil {
			return &CorruptError{Queue: "dead", Seq: id, Err: err}
		}
		nrec := slices.Clone(rec)
		binary.BigEndian.PutUint32(nrec[attemptsOff:], 0)
		binary.BigEndian.PutUint64(nrec[heldAtOff:], uint64(s.now().UnixNano()))
		binary.BigEndian.PutUint32(nrec[len(nrec)-crcLen:], checksum(nrec[:len(nrec)-crcLen]))
		qb, err := tx.Bucket([]byte(queuesBucket)).CreateBucketIfNotExists([]byte(d.Queue))
		if err != nil {
			return fmt.Errorf("create queue bucket: %w", err)
		}
		meta := tx.Bucket([]byte(metaBucket))
		if seq, err = meta.NextSequence(); err != nil {
			return fmt.Errorf("next sequence: %w", err)
		}
		if err := qb.Put(seqKey(seq), nrec); err != nil {
			return fmt.Errorf("put seq %d: %w", seq, err)
		}
		if err := db.Delete(seqKey(id)); err != nil {
			return fmt.Errorf("delete dead letter: %w", err)
		}
		if err := addDeadCount(tx, d.Provider, -1); err != nil {
			return err
		}
		c, err := readCounters(meta)
		if err != nil {
			return err
		}
		size = uint64(len(nrec))
		sub(&c.dItems, 1)
		sub(&c.dBytes, size)
		c.items, c.bytes = c.items+1, c.bytes+size
		return writeCounters(meta, c)
	})
	if err != nil {
		return 0, fmt.Errorf("spool: requeue dead letter %d: %w", id, err)
	}
	s.items.Add(1)
	s.bytes.Add(int64(size))
	s.dead.Add(-1)
	return seq, nil
}

// DeleteDead discards a dead letter and frees its space.
func (s *Spool) DeleteDead(id uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		db := tx.Bucket([]byte(deadBucket))
		v := db.Get(seqKey(id))
		if v == nil {
			return ErrNotFound
		}
		size := uint64(0)
		provider, untrusted := "", false
		if d, rec, err := decodeDead(v, false); err == nil {
			size, provider, untrusted = uint64(len(rec)), d.Provider, countedUntrusted(rec)
		} else {
			size = uint64(len(v)) // unreadable: free what it occupies
		}
		if err := db.Delete(seqKey(id)); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if err := addDeadCount(tx, provider, -1); err != nil {
			return err
		}
		meta := tx.Bucket([]byte(metaBucket))
		c, err := readCounters(meta)
		if err != nil {
			return err
		}
		sub(&c.dItems, 1)
		sub(&c.dBytes, size)
		if untrusted {
			sub(&c.uItems, 1)
			sub(&c.uBytes, size)
		}
		return writeCounters(meta, c)
	})
	if err != nil {
		return fmt.Errorf("spool: delete dead letter %d: %w", id, err)
	}
	s.dead.Add(-1)
	return nil
}

// DeadByProvider counts dead letters per provider.
func (s *Spool) DeadByProvider() (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(deadCountBucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = int(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("spool: dead letters per provider: %w", err)
	}
	return out, nil
}

// DeadLen returns the number of dead letters.
func (s *Spool) DeadLen() int { return int(s.dead.Load()) }

// Stats reports queued, dead and untrusted counts.
func (s *Spool) Stats() (Stats, error) {
	var c counters
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = readCounters(tx.Bucket([]byte(metaBucket)))
		return err
	})
	if err != nil {
		return Stats{}, fmt.Errorf("spool: stats: %w", err)
	}
	return Stats{Items: int(c.items), Bytes: int64(c.bytes), DeadItems: int(c.dItems), DeadBytes: int64(c.dBytes),
		UnverifiedItems: int(c.uItems), UnverifiedBytes: int64(c.uBytes)}, nil
}
